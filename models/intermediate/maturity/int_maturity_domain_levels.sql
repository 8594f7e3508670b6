-- The four cumulative levels of each domain in use, with what each level looks like.

with domain_levels as (

    select * from {{ maturity_matrix_relation('maturity_domain_levels') }}

)

select
    {{ maturity_text('domain_id') }} as domain_id,
    {{ maturity_text('level_name') }} as level_name,
    {{ maturity_text('description') }} as description,
    cast({{ maturity_text('level') }} as integer) as level
from domain_levels
