with source as (

    select * from {{ source('raw', 'patients') }}

)

select
    cast(patient_id as varchar) as patient_id,
    cast(practice_code as varchar) as practice_code,
    cast(lsoa_code as varchar) as lsoa_code,
    cast(sex as varchar) as sex,
    cast(age_band as varchar) as age_band,
    cast(usual_gp_id as varchar) as usual_gp_id,
    cast(ltc_count as integer) as ltc_count,
    cast(frailty as varchar) as frailty,
    cast(registered_from as date) as registered_from,
    cast(registered_to as date) as registered_to
from source
