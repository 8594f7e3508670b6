-- Workforce per 10,000 weighted patients at each census, already at geography level:
-- practice-employed staff count at their practice and upward; PCN-employed staff (null
-- practice_code) count from their PCN upward, never at practice level. The denominator is
-- the weighted patients of the geography's practices in the census month; the staff of a
-- practice with no registered patients that month (missing from its registered_population
-- extract) are added nowhere, as they have no patients in the denominator (data_quality
-- lists them). FTE and weighted patients are summed with exact_sum, so the totals do not
-- depend on the order of the rows.

with periods as (

    select distinct
        'census' as period_grain,
        census_date as period_start,
        census_date as period_end,
        cast(census_date as {{ dbt.type_string() }}) as period_label,
        {{ month_end(dbt.date_trunc('month', 'census_date')) }} as month_end,
        cast({{ dbt.date_trunc('month', 'census_date') }} as date) as month
    from {{ ref('stg_workforce') }}

),

staff as (

    select
        workforce.census_date,
        workforce.practice_code,
        workforce.pcn_code,
        {{ exact_sum(
            "case when workforce.staff_group in ('gp_partner', 'gp_salaried', 'gp_locum')
            then workforce.fte else 0 end"
        ) }} as gp_fte,
        {{ exact_sum(
            "case when workforce.staff_group in (
                'gp_partner', 'gp_salaried', 'gp_locum', 'nurse', 'direct_patient_care'
            ) then workforce.fte else 0 end"
        ) }} as clinical_fte,
        {{ exact_sum('case when workforce.is_arrs_funded then workforce.fte else 0 end') }}
            as arrs_fte,
        sum(workforce.headcount) as headcount
    from {{ ref('stg_workforce') }} as workforce
    group by workforce.census_date, workforce.practice_code, workforce.pcn_code

),

geographies as (

    select * from {{ ref('int_practice_geographies') }}

),

pcn_geographies as (

    -- the geographies above each PCN, through its practices
    select distinct
        pcn.period_end,
        pcn.geography_code as pcn_code,
        wider.geography_type,
        wider.geography_code
    from geographies as pcn
    inner join geographies as wider
        on pcn.period_end = wider.period_end
        and pcn.practice_code = wider.practice_code
        and wider.geography_type in ('pcn', 'neighbourhood', 'place', 'icb', 'all')
    where pcn.geography_type = 'pcn'

),

staff_by_geography as (

    select periods.period_start, geographies.geography_type, geographies.geography_code,
        staff.gp_fte, staff.clinical_fte, staff.arrs_fte, staff.headcount
    from staff
    inner join periods on staff.census_date = periods.period_start
    inner join {{ ref('int_population_practice_months') }} as registered
        on staff.practice_code = registered.practice_code
        and periods.month = registered.month
    inner join geographies
        on staff.practice_code = geographies.practice_code
        and periods.month_end = geographies.period_end
    where staff.practice_code is not null

    union all

    select periods.period_start, pcn_geographies.geography_type, pcn_geographies.geography_code,
        staff.gp_fte, staff.clinical_fte, staff.arrs_fte, staff.headcount
    from staff
    inner join periods on staff.census_date = periods.period_start
    inner join pcn_geographies
        on staff.pcn_code = pcn_geographies.pcn_code
        and periods.month_end = pcn_geographies.period_end
    where staff.practice_code is null

),

staff_totals as (

    select
        period_start,
        geography_type,
        geography_code,
        {{ exact_sum('gp_fte') }} as gp_fte,
        {{ exact_sum('clinical_fte') }} as clinical_fte,
        {{ exact_sum('arrs_fte') }} as arrs_fte,
        sum(headcount) as headcount
    from staff_by_geography
    group by period_start, geography_type, geography_code

),

weighted_totals as (

    select
        periods.period_start,
        geographies.geography_type,
        geographies.geography_code,
        {{ exact_sum('weighted.weighted_patients') }} as weighted_patients
    from {{ ref('int_weighted_patients_monthly') }} as weighted
    inner join periods on weighted.month = periods.month
    inner join geographies
        on weighted.practice_code = geographies.practice_code
        and periods.month_end = geographies.period_end
    group by periods.period_start, geographies.geography_type, geographies.geography_code

),

joined as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        staff_totals.geography_type,
        staff_totals.geography_code,
        staff_totals.gp_fte,
        staff_totals.clinical_fte,
        staff_totals.arrs_fte,
        staff_totals.headcount,
        weighted_totals.weighted_patients
    from staff_totals
    inner join periods on staff_totals.period_start = periods.period_start
    inner join weighted_totals
        on staff_totals.period_start = weighted_totals.period_start
        and staff_totals.geography_type = weighted_totals.geography_type
        and staff_totals.geography_code = weighted_totals.geography_code

)

{% for metric_id, fte in [
    ('gp_fte_per_10k', 'gp_fte'),
    ('clinical_fte_per_10k', 'clinical_fte'),
    ('arrs_fte_per_10k', 'arrs_fte'),
] %}
select
    '{{ metric_id }}' as metric_id,
    period_grain,
    period_start,
    period_end,
    period_label,
    geography_type,
    geography_code,
    'all' as breakdown_type,
    'all' as breakdown_value,
    cast({{ fte }} as double) as numerator,
    cast(weighted_patients as double) as denominator,
    cast(headcount as double) as unweighted_count,
    cast(null as double) as value
from joined
{% if not loop.last %}union all{% endif %}
{% endfor %}
