-- Every geography with its name and parent, as at the end of the latest month loaded:
-- what reports and published files use to name and nest organisations.

with latest as (

    select max(period_end) as period_end
    from {{ ref('int_periods') }}
    where period_grain = 'month'

),

named as (

    select
        geographies.geography_type,
        geographies.geography_code,
        min(geographies.geography_name) as geography_name,
        count(distinct geographies.practice_code) as practices
    from {{ ref('int_practice_geographies') }} as geographies
    inner join latest on geographies.period_end = latest.period_end
    group by geographies.geography_type, geographies.geography_code

)

select
    named.geography_type,
    named.geography_code,
    named.geography_name,
    parents.parent_type,
    parents.parent_code,
    named.practices
from named
cross join latest
left join {{ ref('int_geography_parents') }} as parents
    on parents.period_end = latest.period_end
    and parents.geography_type = named.geography_type
    and parents.geography_code = named.geography_code
