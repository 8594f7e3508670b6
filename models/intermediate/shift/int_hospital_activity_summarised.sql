-- Hospital activity read once: the measures every shift metric needs, by month, practice,
-- IMD quintile of the patient's LSOA (null when unknown), sex and age band.

with activity as (

    select * from {{ ref('stg_hospital_activity') }}

),

deprivation as (

    select lsoa_code, imd_quintile from {{ ref('stg_lsoa_deprivation') }}

)

select
    activity.month,
    activity.practice_code,
    deprivation.imd_quintile,
    activity.sex,
    activity.age_band,
    sum(case when activity.activity_type in ('ae_type1', 'ae_other') then activity.events else 0 end)
        as ae_attendances,
    sum(case when activity.activity_type = 'emergency_admission' then activity.events else 0 end)
        as emergency_admissions,
    sum(case when activity.activity_type = 'elective_admission' then activity.events else 0 end)
        as elective_admissions,
    sum(case when activity.activity_type in ('outpatient_first', 'outpatient_followup')
        then activity.events else 0 end) as outpatient_appointments,
    sum(case when activity.activity_type = 'emergency_admission' and activity.acsc_category <> 'none'
        then activity.events else 0 end) as acsc_emergency_admissions,
    sum(case when activity.activity_type = 'emergency_admission' then activity.bed_days else 0 end)
        as emergency_bed_days
from activity
left join deprivation on activity.lsoa_code = deprivation.lsoa_code
group by
    activity.month,
    activity.practice_code,
    deprivation.imd_quintile,
    activity.sex,
    activity.age_band
