with source as (

    select * from {{ source('raw', 'weighted_population') }}

),

typed as (

    select
        cast(financial_year as {{ dbt.type_string() }}) as financial_year,
        cast(practice_code as {{ dbt.type_string() }}) as practice_code,
        cast(weighted_patients as double) as weighted_patients
    from source

)

select
    financial_year,
    practice_code,
    {{ exact_sum('weighted_patients') }} as weighted_patients
from typed
group by financial_year, practice_code
