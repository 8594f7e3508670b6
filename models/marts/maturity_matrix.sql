-- The criteria of the maturity matrix in use (the shipped seed or the ICB's own), one row
-- each: what `nbhd submit` reads to check every self-assessed criterion was assessed
-- (nothing outside dbt reads the intermediate model behind it).

select
    criterion_id,
    domain_id,
    level,
    criterion_kind,
    statement
from {{ ref('int_maturity_criteria') }}
