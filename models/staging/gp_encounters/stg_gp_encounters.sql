with source as (

    select * from {{ source('raw', 'gp_encounters') }}

)

select
    cast(encounter_id as {{ dbt.type_string() }}) as encounter_id,
    cast(encounter_date as date) as encounter_date,
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(patient_id as {{ dbt.type_string() }}) as patient_id,
    cast(clinician_id as {{ dbt.type_string() }}) as clinician_id,
    cast(clinician_role as {{ dbt.type_string() }}) as clinician_role,
    cast(appt_mode as {{ dbt.type_string() }}) as appt_mode
from source
