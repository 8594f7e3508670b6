-- GP encounters measured against named-GP lists, per practice, month and patient profile
-- (the breakdown attributes): for SLICC, encounters of patients who have a usual_gp_id and
-- those with that GP; for the own patient ratio, encounters delivered by GPs who hold a
-- list at the practice (some patient's usual_gp_id there) and those with their own list
-- patients. Patients missing from the snapshot have a null profile (counted in `all` only).

with encounters as (

    select * from {{ ref('int_continuity_encounters_sequenced') }}

),

attributes as (

    select * from {{ ref('int_continuity_patient_attributes') }}

),

-- from the patients themselves, not from `attributes`: read twice, the attributes (a
-- patient's deprivation joined in) were materialised once for both readers, 66 million rows
-- nationally, and the whole model took 92 s against 64 (wall, the same rows out)
list_holders as (

    select distinct
        practice_code,
        usual_gp_id as clinician_id
    from {{ ref('stg_patients') }}
    where usual_gp_id is not null

),

classified as (

    select
        encounters.practice_code,
        encounters.month,
        attributes.imd_quintile,
        attributes.sex,
        attributes.age_band,
        attributes.is_age_75_plus,
        attributes.is_multimorbid,
        attributes.is_frail,
        case when attributes.usual_gp_id is not null
            then encounters.encounters else 0 end as named_gp_patient_encounters,
        case when encounters.clinician_id = attributes.usual_gp_id
            then encounters.encounters else 0 end as named_gp_encounters,
        case when list_holders.clinician_id is not null
            then encounters.encounters else 0 end as list_holder_encounters,
        case when list_holders.clinician_id is not null
            and encounters.clinician_id = attributes.usual_gp_id
            then encounters.encounters else 0 end as own_list_encounters
    from encounters
    left join attributes on encounters.patient_id = attributes.patient_id
    left join list_holders
        on encounters.practice_code = list_holders.practice_code
        and encounters.clinician_id = list_holders.clinician_id

)

select
    practice_code,
    month,
    imd_quintile,
    sex,
    age_band,
    is_age_75_plus,
    is_multimorbid,
    is_frail,
    cast(sum(named_gp_patient_encounters) as bigint) as named_gp_patient_encounters,
    cast(sum(named_gp_encounters) as bigint) as named_gp_encounters,
    cast(sum(list_holder_encounters) as bigint) as list_holder_encounters,
    cast(sum(own_list_encounters) as bigint) as own_list_encounters
from classified
where named_gp_patient_encounters > 0 or list_holder_encounters > 0
group by
    practice_code,
    month,
    imd_quintile,
    sex,
    age_band,
    is_age_75_plus,
    is_multimorbid,
    is_frail
