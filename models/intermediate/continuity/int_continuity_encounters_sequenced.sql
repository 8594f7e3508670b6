-- GP encounters (clinician_role = 'GP'): each encounter is placed after the patient's
-- previous GP encounter at the same practice (date order, ties by encounter_id) and keeps
-- the month of that previous encounter and whether it was with the same GP. The order is
-- one window (sequence_window, macros/portable.sql): on DuckDB an order over all
-- encounters, practice and patient first, sorted in 64 parts by a hash of practice and
-- patient (a patient's encounters all in one part), 3.1 times cheaper nationally than a
-- partition per patient; on Spark a partition per patient.
-- A view, not a table: writing one row per encounter (150 million a national year) cost
-- more than the sort itself. int_continuity_patient_indices reads it once, sorting the
-- encounters there; int_continuity_named_gp_encounters uses none of the window's columns,
-- so the database drops the window and it reads the encounters only.

{{ config(materialized='view') }}

{%- set patient = ['practice_code', 'patient_id'] %}

with gp_encounters as (

    select
        encounter_id,
        encounter_date,
        practice_code,
        patient_id,
        clinician_id
    from {{ ref('stg_gp_encounters') }}
    where clinician_role = 'GP'
        and practice_code is not null
        and patient_id is not null
        and clinician_id is not null
        and encounter_date is not null

),

sequenced as (

    select
        practice_code,
        patient_id,
        clinician_id,
        encounter_date,
        {{ previous_in_sequence('clinician_id', 'patient_sequence', patient) }}
            as previous_clinician_id,
        {{ previous_in_sequence('encounter_date', 'patient_sequence', patient) }}
            as previous_encounter_date
    from gp_encounters
    {{ sequence_window('patient_sequence', patient, ['encounter_date', 'encounter_id']) }}

)

select
    practice_code,
    patient_id,
    clinician_id,
    cast({{ dbt.date_trunc('month', 'encounter_date') }} as date) as month,
    cast({{ dbt.date_trunc('month', 'previous_encounter_date') }} as date) as previous_month,
    1 as encounters,
    case when clinician_id = previous_clinician_id then 1 else 0 end as same_clinician_pairs
from sequenced
