-- Hospital-to-community shift metrics per practice in the common long shape: A&E
-- attendance rate, emergency bed days of people 75+, ACSC emergency admissions (by ESP2013
-- stratum, standardised in metric_values) and the community share of contacts.
-- Within hospital_activity's range a practice with no rows in a month had zero events, so
-- the registered population is the frame and events are joined onto it. Events of a
-- practice-month with no registered patients (the practice is missing from the month's
-- extract) are in no rate here, all being per registered patient (inputs.md, "Denominators
-- over time"); data_quality lists them.

with periods as (

    {{ covered_periods('hospital_activity', ['month', 'financial_year']) }}

),

hospital as (

    select * from {{ ref('int_hospital_activity_summarised') }}

),

registered_months as (

    select month, practice_code from {{ ref('int_population_practice_months') }}

),

hospital_periods as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        hospital.practice_code,
        hospital.imd_quintile,
        hospital.sex,
        hospital.age_band,
        sum(hospital.ae_attendances) as ae_attendances,
        sum(hospital.emergency_admissions) as emergency_admissions,
        sum(hospital.elective_admissions) as elective_admissions,
        sum(hospital.outpatient_appointments) as outpatient_appointments,
        sum(hospital.acsc_emergency_admissions) as acsc_emergency_admissions,
        sum(hospital.emergency_bed_days) as emergency_bed_days
    from hospital
    inner join periods on hospital.month between periods.period_start and periods.period_end
    left join registered_months
        on hospital.month = registered_months.month
        and hospital.practice_code = registered_months.practice_code
    where registered_months.practice_code is not null
    group by
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        hospital.practice_code,
        hospital.imd_quintile,
        hospital.sex,
        hospital.age_band

),

population as (

    select population.*
    from {{ ref('int_population_periods') }} as population
    inner join periods
        on population.period_grain = periods.period_grain
        and population.period_start = periods.period_start

),

framed as (

    select
        coalesce(population.period_grain, hospital_periods.period_grain) as period_grain,
        coalesce(population.period_start, hospital_periods.period_start) as period_start,
        coalesce(population.period_end, hospital_periods.period_end) as period_end,
        coalesce(population.period_label, hospital_periods.period_label) as period_label,
        coalesce(population.practice_code, hospital_periods.practice_code) as practice_code,
        coalesce(population.imd_quintile, hospital_periods.imd_quintile) as imd_quintile,
        coalesce(population.sex, hospital_periods.sex) as sex,
        coalesce(population.age_band, hospital_periods.age_band) as age_band,
        coalesce(population.patients, 0) as patients,
        coalesce(hospital_periods.ae_attendances, 0) as ae_attendances,
        coalesce(hospital_periods.emergency_admissions, 0) as emergency_admissions,
        coalesce(hospital_periods.elective_admissions, 0) as elective_admissions,
        coalesce(hospital_periods.outpatient_appointments, 0) as outpatient_appointments,
        coalesce(hospital_periods.acsc_emergency_admissions, 0) as acsc_emergency_admissions,
        coalesce(hospital_periods.emergency_bed_days, 0) as emergency_bed_days,
        case when coalesce(population.age_band, hospital_periods.age_band)
            in ('75-79', '80-84', '85-89', '90+') then 1 else 0 end as is_75_plus
    from population
    full outer join hospital_periods
        on population.period_grain = hospital_periods.period_grain
        and population.period_start = hospital_periods.period_start
        and population.practice_code = hospital_periods.practice_code
        and population.imd_quintile is not distinct from hospital_periods.imd_quintile
        and population.sex = hospital_periods.sex
        and population.age_band = hospital_periods.age_band

),

ae_rate as (

    select
        'ae_attendance_rate' as metric_id,
        period_grain, period_start, period_end, period_label, practice_code,
        imd_quintile, sex, age_band,
        'all' as stratum,
        cast(ae_attendances as double) as numerator,
        cast(patients as double) as denominator,
        cast(ae_attendances as double) as unweighted_count,
        cast(null as double) as sum_sq
    from framed

),

bed_days as (

    select
        'emergency_bed_days_75_plus_rate' as metric_id,
        period_grain, period_start, period_end, period_label, practice_code,
        imd_quintile, sex, age_band,
        'all' as stratum,
        cast(emergency_bed_days as double) as numerator,
        cast(patients as double) as denominator,
        cast(emergency_bed_days as double) as unweighted_count,
        cast(null as double) as sum_sq
    from framed
    where period_grain = 'financial_year' and is_75_plus = 1

),

acsc as (

    select
        'acsc_emergency_admission_dsr' as metric_id,
        period_grain, period_start, period_end, period_label, practice_code,
        imd_quintile, sex, age_band,
        age_band as stratum,
        cast(acsc_emergency_admissions as double) as numerator,
        cast(patients as double) as denominator,
        cast(acsc_emergency_admissions as double) as unweighted_count,
        cast(null as double) as sum_sq
    from framed
    where period_grain = 'financial_year'

),

{% set keys = ['metric_id', 'period_grain', 'period_start', 'period_end', 'period_label',
               'practice_code', 'stratum'] %}
{% set measures = ['numerator', 'denominator', 'unweighted_count', 'sum_sq'] %}

ae_rows as (
    {{ breakdown_rows('ae_rate', ['all', 'imd_quintile', 'core20', 'age_band', 'sex'], keys, measures) }}
),

bed_day_rows as (
    {{ breakdown_rows('bed_days', ['all', 'imd_quintile', 'core20', 'sex'], keys, measures) }}
),

acsc_rows as (
    {{ breakdown_rows('acsc', ['all', 'imd_quintile', 'core20', 'sex'], keys, measures) }}
),

contact_periods as (

    -- the community share needs all three activity datasets over the month
    select periods.*
    from periods
    inner join ({{ covered_periods('gp_appointments', ['month']) }}) as gpad
        on periods.period_grain = gpad.period_grain and periods.period_start = gpad.period_start
    inner join ({{ covered_periods('community_activity', ['month']) }}) as community
        on periods.period_grain = community.period_grain
        and periods.period_start = community.period_start

),

attended_appointments as (

    select month, practice_code, sum(appointments) as attended
    from {{ ref('stg_gp_appointments') }}
    where appt_status = 'Attended'
    group by month, practice_code

),

community_contacts as (

    select month, practice_code, sum(contacts) as contacts
    from {{ ref('stg_community_activity') }}
    group by month, practice_code

),

hospital_contacts as (

    select
        month,
        practice_code,
        sum(ae_attendances + emergency_admissions + elective_admissions + outpatient_appointments)
            as hospital_contacts
    from hospital
    group by month, practice_code

),

contact_rows as (

    select
        'community_contact_share' as metric_id,
        contact_periods.period_grain,
        contact_periods.period_start,
        contact_periods.period_end,
        contact_periods.period_label,
        attended_appointments.practice_code,
        'all' as stratum,
        'all' as breakdown_type,
        'all' as breakdown_value,
        cast(attended_appointments.attended + coalesce(community_contacts.contacts, 0) as double)
            as numerator,
        cast(attended_appointments.attended + coalesce(community_contacts.contacts, 0)
            + coalesce(hospital_contacts.hospital_contacts, 0) as double) as denominator,
        cast(attended_appointments.attended + coalesce(community_contacts.contacts, 0)
            + coalesce(hospital_contacts.hospital_contacts, 0) as double) as unweighted_count,
        cast(null as double) as sum_sq
    from attended_appointments
    inner join contact_periods on attended_appointments.month = contact_periods.period_start
    left join community_contacts
        on attended_appointments.month = community_contacts.month
        and attended_appointments.practice_code = community_contacts.practice_code
    left join hospital_contacts
        on attended_appointments.month = hospital_contacts.month
        and attended_appointments.practice_code = hospital_contacts.practice_code

),

unioned as (

    select * from ae_rows
    union all
    select * from bed_day_rows
    union all
    select * from acsc_rows

)

select
    metric_id, period_grain, period_start, period_end, period_label, practice_code,
    breakdown_type, breakdown_value, stratum, numerator, denominator, unweighted_count, sum_sq
from unioned
union all
select
    metric_id, period_grain, period_start, period_end, period_label, practice_code,
    breakdown_type, breakdown_value, stratum, numerator, denominator, unweighted_count, sum_sq
from contact_rows
