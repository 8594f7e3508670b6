-- Each practice's memberships over time as the organisations file states them: its PCN,
-- neighbourhood and at-scale provider from valid_from to valid_to. What `nbhd submit`
-- reads to find who returns what (nothing outside dbt reads the staging model behind it).

select
    practice_code,
    pcn_code,
    neighbourhood_code,
    provider_code,
    valid_from,
    valid_to
from {{ ref('stg_organisations') }}
