-- Practice payments per weighted patient and the needs-based funding gap, per practice and
-- financial year, in the common long shape. The fair share of a practice is its ICB's total
-- payments shared by weighted patients (var funding_need_weight) and by patients living in
-- Core20 LSOAs (var funding_core20_weight; where an ICB has no Core20 patients that share
-- also follows weighted patients); the gap is actual payments minus fair share. Money,
-- weighted patients and their means are summed with exact_sum / exact_mean, so they do
-- not depend on the order of the rows.

with periods as (

    {{ covered_periods('practice_payments', ['financial_year']) }}

),

payments as (

    select
        {{ financial_year_start_from_label('financial_year') }} as period_start,
        practice_code,
        {{ exact_sum('amount_gbp') }} as payments
    from {{ ref('stg_practice_payments') }}
    group by {{ financial_year_start_from_label('financial_year') }}, practice_code

),

weighted as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        monthly.practice_code,
        {{ exact_mean('monthly.weighted_patients') }} as weighted_patients,
        {{ exact_mean('monthly.core20_patients') }} as core20_patients
    from {{ ref('int_weighted_patients_monthly') }} as monthly
    inner join periods on monthly.month between periods.period_start and periods.period_end
    group by
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        monthly.practice_code

),

practice_years as (

    select
        weighted.*,
        payments.payments,
        icb.geography_code as icb_code,
        deprivation.imd_quintile
    from weighted
    inner join payments
        on weighted.practice_code = payments.practice_code
        and weighted.period_start = payments.period_start
    inner join {{ ref('int_practice_geographies') }} as icb
        on weighted.practice_code = icb.practice_code
        and weighted.period_end = icb.period_end
        and icb.geography_type = 'icb'
    left join {{ ref('int_practice_deprivation') }} as deprivation
        on weighted.practice_code = deprivation.practice_code
        and weighted.period_end = deprivation.period_end

),

fair_shares as (

    select
        practice_years.*,
        {{ exact_sum('payments', 'icb_year') }} * (
            {{ var('funding_need_weight') }} * weighted_patients
                / nullif({{ exact_sum('weighted_patients', 'icb_year') }}, 0)
            + {{ var('funding_core20_weight') }} * coalesce(
                core20_patients / nullif({{ exact_sum('core20_patients', 'icb_year') }}, 0),
                weighted_patients / nullif({{ exact_sum('weighted_patients', 'icb_year') }}, 0)
            )
        ) as fair_share
    from practice_years
    window icb_year as (partition by icb_code, period_start)

),

gaps as (

    select
        fair_shares.*,
        payments - fair_share as funding_gap
    from fair_shares

),

long_form as (

    {% set rows = [
        ('payments_per_weighted_patient', 'payments', 'weighted_patients'),
        ('needs_based_funding_gap', 'funding_gap', 'null'),
        ('needs_based_funding_gap_pct', 'funding_gap', 'fair_share'),
        ('funding_rebalancing_total', 'greatest(funding_gap, 0)', 'null'),
    ] %}
    {% for metric_id, numerator, denominator in rows %}
    select
        '{{ metric_id }}' as metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        practice_code,
        imd_quintile,
        'all' as stratum,
        cast({{ numerator }} as double) as numerator,
        cast({{ denominator }} as double) as denominator,
        cast(null as double) as unweighted_count,
        cast(null as double) as sum_sq
    from gaps
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

all_rows as (

    select
        metric_id, period_grain, period_start, period_end, period_label, practice_code,
        'all' as breakdown_type, 'all' as breakdown_value, stratum,
        numerator, denominator, unweighted_count, sum_sq
    from long_form

),

quintile_rows as (

    select
        metric_id, period_grain, period_start, period_end, period_label, practice_code,
        'imd_quintile' as breakdown_type,
        cast(imd_quintile as {{ dbt.type_string() }}) as breakdown_value,
        stratum, numerator, denominator, unweighted_count, sum_sq
    from long_form
    where metric_id = 'payments_per_weighted_patient' and imd_quintile is not null

)

select * from all_rows
union all
select * from quintile_rows
