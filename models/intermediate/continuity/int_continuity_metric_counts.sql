-- The continuity family per practice in the common long shape (docs/architecture.md).
-- Index metrics (UPC, COC, SECON, MMCI): numerator = sum of the per-patient index,
-- denominator = unweighted_count = eligible patients, sum_sq = sum of squared indices, so
-- metric_values can form the mean and its t-distribution limits at any geography. The
-- indices are summed with exact_sum, so the sums do not depend on the order of the rows.
-- SLICC and own patient ratio: numerator and denominator are encounters (Wilson).

{%- set index_metrics = ['upc', 'coc', 'secon', 'mmci'] %}
{%- set breakdowns = ['all', 'imd_quintile', 'core20', 'age_band', 'sex', 'cohort'] %}
{%- set profile = [
    'imd_quintile', 'sex', 'age_band', 'is_age_75_plus', 'is_multimorbid', 'is_frail',
] %}
{%- set index_sums = [] %}
{%- for index in index_metrics %}
    {%- do index_sums.extend([index ~ '_sum', index ~ '_sum_sq']) %}
{%- endfor %}
{%- set named_gp_measures = [
    'named_gp_patient_encounters', 'named_gp_encounters', 'list_holder_encounters',
    'own_list_encounters',
] %}

with index_periods as (

    {{ covered_periods('gp_encounters', ['financial_year', 'rolling_12m']) }}

),

named_gp_periods as (

    {{ covered_periods('gp_encounters', ['month', 'financial_year']) }}

),

patient_indices as (

    select * from {{ ref('int_continuity_patient_indices') }}
    where is_eligible

),

attributes as (

    select * from {{ ref('int_continuity_patient_attributes') }}

),

index_window_profiles as (

    select
        patient_indices.period_start,
        patient_indices.period_end,
        patient_indices.practice_code,
        {% for column in profile %}attributes.{{ column }},
        {% endfor -%}
        count(*) as patients,
        {% for index in index_metrics -%}
        {{ exact_sum('patient_indices.' ~ index) }} as {{ index }}_sum,
        {{ exact_sum('patient_indices.' ~ index ~ ' * patient_indices.' ~ index) }}
            as {{ index }}_sum_sq{{ ',' if not loop.last }}
        {% endfor %}
    from patient_indices
    left join attributes on patient_indices.patient_id = attributes.patient_id
    group by
        patient_indices.period_start,
        patient_indices.period_end,
        patient_indices.practice_code,
        {% for column in profile %}attributes.{{ column }}{{ ',' if not loop.last }}
        {% endfor %}

),

-- Each breakdown is summed from the profiles before the metrics are told apart or the
-- months meet their periods: over 1.4 million window profiles and 14 million month
-- profiles nationally, not over the union of every metric's and period's profile rows (28
-- million), which the database held in memory to read once per breakdown (the query took
-- 51 s nationally against 27 s summed this way, for the same rows).
index_breakdowns as (

    {{ breakdown_rows(
        'index_window_profiles',
        breakdowns,
        ['period_start', 'period_end', 'practice_code'],
        ['patients'] + index_sums,
    ) }}

),

index_rows as (

    {% for index in index_metrics %}
    select
        'continuity_{{ index }}' as metric_id,
        index_periods.period_grain,
        index_periods.period_start,
        index_periods.period_end,
        index_periods.period_label,
        index_breakdowns.practice_code,
        index_breakdowns.breakdown_type,
        index_breakdowns.breakdown_value,
        index_breakdowns.{{ index }}_sum as numerator,
        index_breakdowns.patients as denominator,
        index_breakdowns.patients as unweighted_count,
        index_breakdowns.{{ index }}_sum_sq as sum_sq
    from index_breakdowns
    inner join index_periods
        on index_breakdowns.period_start = index_periods.period_start
        and index_breakdowns.period_end = index_periods.period_end
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

named_gp_month_breakdowns as (

    {#- the table itself, read once per breakdown: a CTE read more than once is held in
        memory first (DuckDB; 26-28 s nationally against 29-36 over a CTE) -#}
    {{ breakdown_rows(
        ref('int_continuity_named_gp_encounters'),
        breakdowns,
        ['practice_code', 'month'],
        named_gp_measures,
    ) }}

),

named_gp_period_breakdowns as (

    select
        named_gp_periods.period_grain,
        named_gp_periods.period_start,
        named_gp_periods.period_end,
        named_gp_periods.period_label,
        named_gp_month_breakdowns.practice_code,
        named_gp_month_breakdowns.breakdown_type,
        named_gp_month_breakdowns.breakdown_value,
        {% for measure in named_gp_measures -%}
        sum(named_gp_month_breakdowns.{{ measure }}) as {{ measure }}{{ ',' if not loop.last }}
        {% endfor %}
    from named_gp_month_breakdowns
    inner join named_gp_periods
        on named_gp_month_breakdowns.month
        between named_gp_periods.period_start and named_gp_periods.period_end
    group by
        named_gp_periods.period_grain,
        named_gp_periods.period_start,
        named_gp_periods.period_end,
        named_gp_periods.period_label,
        named_gp_month_breakdowns.practice_code,
        named_gp_month_breakdowns.breakdown_type,
        named_gp_month_breakdowns.breakdown_value

),

-- a ratio's rows where its denominator has encounters (a group without has none in its
-- numerator either: both count encounters, the numerator's among the denominator's)
named_gp_rows as (

    {% set ratios = [
        ('continuity_slicc', 'named_gp_encounters', 'named_gp_patient_encounters',
            ['month', 'financial_year']),
        ('continuity_own_patient_ratio', 'own_list_encounters', 'list_holder_encounters',
            ['financial_year']),
    ] %}
    {% for metric_id, numerator, denominator, grains in ratios %}
    select
        '{{ metric_id }}' as metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        practice_code,
        breakdown_type,
        breakdown_value,
        {{ numerator }} as numerator,
        {{ denominator }} as denominator,
        {{ denominator }} as unweighted_count,
        cast(null as double) as sum_sq
    from named_gp_period_breakdowns
    where {{ denominator }} > 0
        and period_grain in ({% for grain in grains %}'{{ grain }}'{{ ', ' if not loop.last }}{% endfor %})
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

broken_down as (

    select * from index_rows
    union all
    select * from named_gp_rows

)

select
    metric_id,
    period_grain,
    period_start,
    period_end,
    period_label,
    practice_code,
    breakdown_type,
    breakdown_value,
    'all' as stratum,
    cast(numerator as double) as numerator,
    cast(denominator as double) as denominator,
    cast(unweighted_count as double) as unweighted_count,
    cast(sum_sq as double) as sum_sq
from broken_down
