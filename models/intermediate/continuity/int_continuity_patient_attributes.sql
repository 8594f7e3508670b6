-- Each patient's breakdown attributes and named GP from the one patients snapshot, which
-- sets them for every period: IMD quintile of the LSOA (null when the LSOA is UNKNOWN or
-- not in lsoa_deprivation), sex, age band and the continuity cohorts.
-- A view, not a table: writing one row per patient (66 million nationally) cost 29 s, and
-- its two readers (int_continuity_named_gp_encounters, int_continuity_metric_counts) each
-- repeat the small LSOA lookup for 12 s between them.

{{ config(materialized='view') }}

with patients as (

    select * from {{ ref('stg_patients') }}

),

deprivation as (

    select lsoa_code, imd_quintile from {{ ref('stg_lsoa_deprivation') }}

)

select
    patients.patient_id,
    patients.practice_code,
    patients.usual_gp_id,
    deprivation.imd_quintile,
    patients.sex,
    patients.age_band,
    coalesce(patients.age_band in ('75-79', '80-84', '85-89', '90+'), false)
        as is_age_75_plus,
    coalesce(patients.ltc_count >= 2, false) as is_multimorbid,
    coalesce(patients.frailty in ('moderate', 'severe'), false) as is_frail
from patients
left join deprivation on patients.lsoa_code = deprivation.lsoa_code
