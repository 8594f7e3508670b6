with source as (

    select * from {{ source('raw', 'gp_encounters') }}

)

select
    cast(encounter_id as varchar) as encounter_id,
    cast(encounter_date as date) as encounter_date,
    cast(practice_code as varchar) as practice_code,
    cast(patient_id as varchar) as patient_id,
    cast(clinician_id as varchar) as clinician_id,
    cast(clinician_role as varchar) as clinician_role,
    cast(appt_mode as varchar) as appt_mode
from source
