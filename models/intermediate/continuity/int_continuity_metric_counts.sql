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

named_gp_encounters as (

    select * from {{ ref('int_continuity_named_gp_encounters') }}

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

index_rows as (

    {% for index in index_metrics %}
    select
        'continuity_{{ index }}' as metric_id,
        index_periods.period_grain,
        index_periods.period_start,
        index_periods.period_end,
        index_periods.period_label,
        index_window_profiles.practice_code,
        {% for column in profile %}index_window_profiles.{{ column }},
        {% endfor -%}
        cast(index_window_profiles.{{ index }}_sum as double) as numerator,
        cast(index_window_profiles.patients as double) as denominator,
        cast(index_window_profiles.patients as double) as unweighted_count,
        cast(index_window_profiles.{{ index }}_sum_sq as double) as sum_sq
    from index_window_profiles
    inner join index_periods
        on index_window_profiles.period_start = index_periods.period_start
        and index_window_profiles.period_end = index_periods.period_end
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

named_gp_period_profiles as (

    select
        named_gp_periods.period_grain,
        named_gp_periods.period_start,
        named_gp_periods.period_end,
        named_gp_periods.period_label,
        named_gp_encounters.practice_code,
        {% for column in profile %}named_gp_encounters.{{ column }},
        {% endfor -%}
        sum(named_gp_encounters.named_gp_patient_encounters) as named_gp_patient_encounters,
        sum(named_gp_encounters.named_gp_encounters) as named_gp_encounters,
        sum(named_gp_encounters.list_holder_encounters) as list_holder_encounters,
        sum(named_gp_encounters.own_list_encounters) as own_list_encounters
    from named_gp_encounters
    inner join named_gp_periods
        on named_gp_encounters.month
        between named_gp_periods.period_start and named_gp_periods.period_end
    group by
        named_gp_periods.period_grain,
        named_gp_periods.period_start,
        named_gp_periods.period_end,
        named_gp_periods.period_label,
        named_gp_encounters.practice_code,
        {% for column in profile %}named_gp_encounters.{{ column }}{{ ',' if not loop.last }}
        {% endfor %}

),

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
        {% for column in profile %}{{ column }},
        {% endfor -%}
        cast({{ numerator }} as double) as numerator,
        cast({{ denominator }} as double) as denominator,
        cast({{ denominator }} as double) as unweighted_count,
        cast(null as double) as sum_sq
    from named_gp_period_profiles
    where {{ denominator }} > 0
        and period_grain in ({% for grain in grains %}'{{ grain }}'{{ ', ' if not loop.last }}{% endfor %})
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

profiled as (

    select * from index_rows
    union all
    select * from named_gp_rows

),

broken_down as (

    {{ breakdown_rows(
        'profiled',
        breakdowns,
        ['metric_id', 'period_grain', 'period_start', 'period_end', 'period_label',
            'practice_code'],
        ['numerator', 'denominator', 'unweighted_count', 'sum_sq'],
    ) }}

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
    numerator,
    denominator,
    unweighted_count,
    sum_sq
from broken_down
