with source as (

    select * from {{ source('raw', 'practice_payments') }}

),

typed as (

    select
        cast(financial_year as {{ dbt.type_string() }}) as financial_year,
        cast(practice_code as {{ dbt.type_string() }}) as practice_code,
        cast(payment_category as {{ dbt.type_string() }}) as payment_category,
        cast(amount_gbp as double) as amount_gbp
    from source

)

select
    financial_year,
    practice_code,
    payment_category,
    {{ exact_sum('amount_gbp') }} as amount_gbp
from typed
group by financial_year, practice_code, payment_category
