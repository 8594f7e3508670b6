-- The matrix's domains in use: the shipped seed, or the replacement named by var
-- maturity_matrix_dir.

with domains as (

    select * from {{ maturity_matrix_relation('maturity_domains') }}

)

select
    {{ maturity_text('domain_id') }} as domain_id,
    {{ maturity_text('title') }} as title,
    {{ maturity_text('description') }} as description,
    {{ maturity_text('source') }} as source,
    cast({{ maturity_text('display_order') }} as integer) as display_order
from domains
