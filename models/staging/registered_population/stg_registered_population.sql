with source as (

    select * from {{ source('raw', 'registered_population') }}

),

typed as (

    select
        cast(extract_date as date) as extract_date,
        cast(practice_code as varchar) as practice_code,
        cast(lsoa_code as varchar) as lsoa_code,
        cast(sex as varchar) as sex,
        cast(age_band as varchar) as age_band,
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
group by all
