with source as (

    select * from {{ source('raw', 'practice_payments') }}

),

typed as (

    select
        cast(financial_year as varchar) as financial_year,
        cast(practice_code as varchar) as practice_code,
        cast(payment_category as varchar) as payment_category,
        cast(amount_gbp as double) as amount_gbp
    from source

)

select
    financial_year,
    practice_code,
    payment_category,
    {{ exact_sum('amount_gbp') }} as amount_gbp
from typed
group by all
