-- The parent each geography is compared with at each month end: practice -> pcn ->
-- neighbourhood -> place -> icb -> all, and provider -> icb (metrics.md, "Geographies").
-- Where a child's practices sit in more than one parent (a PCN split across
-- neighbourhoods), the parent holding most of its practices is used, then the lowest code.

{% set parent_of = [
    ('practice', 'pcn'),
    ('pcn', 'neighbourhood'),
    ('neighbourhood', 'place'),
    ('place', 'icb'),
    ('icb', 'all'),
    ('provider', 'icb'),
] %}

with geographies as (

    select * from {{ ref('int_practice_geographies') }}

),

pairs as (

    {% for child, parent in parent_of %}
    select
        child.period_end,
        child.geography_type,
        child.geography_code,
        parent.geography_type as parent_type,
        parent.geography_code as parent_code,
        count(*) as practices
    from geographies as child
    inner join geographies as parent
        on child.period_end = parent.period_end
        and child.practice_code = parent.practice_code
        and parent.geography_type = '{{ parent }}'
    where child.geography_type = '{{ child }}'
    group by
        child.period_end,
        child.geography_type,
        child.geography_code,
        parent.geography_type,
        parent.geography_code
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by period_end, geography_type, geography_code
            order by practices desc, parent_code
        ) as preference
    from pairs

)

select
    period_end,
    geography_type,
    geography_code,
    parent_type,
    parent_code
from ranked
where preference = 1
