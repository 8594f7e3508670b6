with source as (

    select * from {{ source('raw', 'patients') }}

)

select
    cast(patient_id as {{ dbt.type_string() }}) as patient_id,
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(lsoa_code as {{ dbt.type_string() }}) as lsoa_code,
    cast(sex as {{ dbt.type_string() }}) as sex,
    cast(age_band as {{ dbt.type_string() }}) as age_band,
    cast(usual_gp_id as {{ dbt.type_string() }}) as usual_gp_id,
    cast(ltc_count as integer) as ltc_count,
    cast(frailty as {{ dbt.type_string() }}) as frailty,
    cast(registered_from as date) as registered_from,
    cast(registered_to as date) as registered_to
from source
