-- Each practice's geographies at every month end, with each geography's name and the
-- parent it is compared with: what reports read to find a report's geography, its
-- practices, its parent, its ICB and its peers (nothing outside dbt reads the
-- intermediate models these come from).

select
    geographies.period_end,
    geographies.practice_code,
    geographies.geography_type,
    geographies.geography_code,
    coalesce(geographies.geography_name, geographies.geography_code) as geography_name,
    parents.parent_type,
    parents.parent_code
from {{ ref('int_practice_geographies') }} as geographies
left join {{ ref('int_geography_parents') }} as parents
    on parents.period_end = geographies.period_end
    and parents.geography_type = geographies.geography_type
    and parents.geography_code = geographies.geography_code
