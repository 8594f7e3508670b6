with source as (

    select * from {{ source('raw', 'registered_population') }}

),

typed as (

    select
        cast(extract_date as date) as extract_date,
        cast(practice_code as {{ dbt.type_string() }}) as practice_code,
        cast(lsoa_code as {{ dbt.type_string() }}) as lsoa_code,
        cast(sex as {{ dbt.type_string() }}) as sex,
        cast(age_band as {{ dbt.type_string() }}) as age_band,
        cast(patients as bigint) as patients
    from source

)

select
    extract_date,
    practice_code,
    lsoa_code,
    sex,
    age_band,
    sum(patients) as patients
from typed
group by extract_date, practice_code, lsoa_code, sex, age_band
