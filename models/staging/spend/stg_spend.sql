with source as (

    select * from {{ source('raw', 'spend') }}

),

typed as (

    select
        cast(financial_year as {{ dbt.type_string() }}) as financial_year,
        cast(org_type as {{ dbt.type_string() }}) as org_type,
        cast(org_code as {{ dbt.type_string() }}) as org_code,
        cast(spend_category as {{ dbt.type_string() }}) as spend_category,
        cast(amount_gbp as double) as amount_gbp
    from source

)

select
    financial_year,
    org_type,
    org_code,
    spend_category,
    {{ exact_sum('amount_gbp') }} as amount_gbp
from typed
group by financial_year, org_type, org_code, spend_category
