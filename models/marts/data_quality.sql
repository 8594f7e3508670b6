-- Queryable results of every input check and reconciliation: the validation results
-- recorded by `nbhd build` (rows read, loaded and quarantined per dataset and rule, and
-- input rows = loaded + quarantined), plus coverage gaps found in the warehouse: practice
-- months missing from GPAD within its date range, which are left out of both numerator
-- and denominator rather than counted as zero; practice-months with activity but no
-- registered patients (the practice is missing from the month's registered_population
-- extract), whose activity is left out of every rate per registered patient, and each
-- practice whose extracts stop before its activity does (inputs.md, "Denominators over
-- time"); and self-assessment rows that cannot be scored against the matrix in use.

with validation as (

    select
        dataset,
        check_name,
        severity,
        practice_code,
        cast(period_start as date) as period_start,
        cast(rows_affected as bigint) as rows_affected,
        detail
    from {{ source('build', 'validation_results') }}

),

gpad_months as (

    select periods.period_start as month
    from ({{ covered_periods('gp_appointments', ['month']) }}) as periods

),

expected_practice_months as (

    -- practices with an organisation row valid at some point in the month
    select distinct gpad_months.month, organisations.practice_code
    from gpad_months
    inner join {{ ref('stg_organisations') }} as organisations
        on organisations.valid_from <= {{ month_end('gpad_months.month') }}
        and (organisations.valid_to is null or organisations.valid_to >= gpad_months.month)

),

reported_practice_months as (

    select distinct month, practice_code from {{ ref('stg_gp_appointments') }}

),

gpad_gaps as (

    select
        'gp_appointments' as dataset,
        'practice_month_missing' as check_name,
        'warning' as severity,
        expected.practice_code,
        expected.month as period_start,
        cast(0 as bigint) as rows_affected,
        'no GPAD rows for this practice and month: left out of access metrics (missing, not zero)'
            as detail
    from expected_practice_months as expected
    left join reported_practice_months as reported
        on expected.month = reported.month
        and expected.practice_code = reported.practice_code
    where reported.practice_code is null

),

activity_months as (

    -- practice-months of the datasets counted in rates per registered (or weighted)
    -- patient
    select 'hospital_activity' as dataset, month, practice_code, count(*) as input_rows
    from {{ ref('stg_hospital_activity') }}
    group by month, practice_code
    union all
    select 'gp_appointments' as dataset, month, practice_code, count(*) as input_rows
    from {{ ref('stg_gp_appointments') }}
    group by month, practice_code
    union all
    select
        'workforce' as dataset,
        cast({{ dbt.date_trunc('month', 'census_date') }} as date) as month,
        practice_code,
        count(*) as input_rows
    from {{ ref('stg_workforce') }}
    where practice_code is not null
    group by cast({{ dbt.date_trunc('month', 'census_date') }} as date), practice_code

),

registered_months as (

    select month, practice_code from {{ ref('int_population_practice_months') }}

),

unregistered_activity as (

    select
        activity_months.dataset,
        'no_registered_patients' as check_name,
        'warning' as severity,
        activity_months.practice_code,
        activity_months.month as period_start,
        cast(activity_months.input_rows as bigint) as rows_affected,
        {{ dbt.concat([
            "'activity in a month whose registered_population extract does not list the '",
            "'practice: left out of every rate per registered patient and of its parents'",
        ]) }} as detail
    from activity_months
    left join registered_months
        on activity_months.month = registered_months.month
        and activity_months.practice_code = registered_months.practice_code
    where registered_months.practice_code is null

),

payments_without_patients as (

    -- practice payments of a financial year in none of whose months the practice has
    -- registered patients: no weighted patients, so left out of payments per weighted
    -- patient and of the ICB's total shared by the needs-based fair share
    select
        'practice_payments' as dataset,
        'no_registered_patients' as check_name,
        'warning' as severity,
        payments.practice_code,
        payments.period_start,
        count(*) as rows_affected,
        {{ dbt.concat([
            "'payments in a financial year with no registered patients: left out of '",
            "'payments per weighted patient and of the needs-based fair share'",
        ]) }} as detail
    from (
        select
            practice_code,
            {{ financial_year_start_from_label('financial_year') }} as period_start
        from {{ ref('stg_practice_payments') }}
    ) as payments
    left join registered_months
        on payments.practice_code = registered_months.practice_code
        and registered_months.month >= payments.period_start
        and registered_months.month
            < cast({{ dbt.dateadd('month', 12, 'payments.period_start') }} as date)
    where registered_months.practice_code is null
    group by payments.practice_code, payments.period_start

),

last_activity as (

    select practice_code, max(month) as last_month
    from activity_months
    group by practice_code

),

last_registered as (

    select practice_code, max(month) as last_month
    from registered_months
    group by practice_code

),

extracts_ending_early as (

    -- one row per practice: period_start is its first month with activity after its last
    -- month with registered patients; rows_affected counts the months after that
    select
        'registered_population' as dataset,
        'extracts_end_before_activity' as check_name,
        'warning' as severity,
        last_activity.practice_code,
        cast({{ dbt.dateadd('month', 1, 'last_registered.last_month') }} as date) as period_start,
        cast(
            {{ dbt.datediff('last_registered.last_month', 'last_activity.last_month', 'month') }}
            as bigint
        ) as rows_affected,
        {{ dbt.concat([
            "'registered patients until '",
            month_label('last_registered.last_month'),
            "', activity until '",
            month_label('last_activity.last_month'),
            "': the later activity is in no rate per registered patient'",
        ]) }} as detail
    from last_activity
    inner join last_registered on last_activity.practice_code = last_registered.practice_code
    where last_registered.last_month < last_activity.last_month

),

assessments as (

    select * from {{ ref('stg_maturity_assessments') }}

),

unmatched_assessments as (

    -- self-assessment rows that cannot be scored: a criterion the matrix in use does not
    -- have, or a neighbourhood no organisation row names
    select
        'maturity_assessments' as dataset,
        case
            when criteria.criterion_id is null then 'criterion_not_in_matrix'
            else 'neighbourhood_not_in_organisations'
        end as check_name,
        'warning' as severity,
        cast(null as {{ dbt.type_string() }}) as practice_code,
        cast(null as date) as period_start,
        count(*) as rows_affected,
        {{ dbt.concat([
            "'not scored: '",
            "case when criteria.criterion_id is null then 'criterion ' else 'neighbourhood ' end",
            "min(case when criteria.criterion_id is null then assessments.criterion_id "
            ~ "else assessments.neighbourhood_code end)",
            "case when count(*) > 1 then ' and others' else '' end",
        ]) }} as detail
    from assessments
    left join {{ ref('int_maturity_criteria') }} as criteria
        on assessments.criterion_id = criteria.criterion_id
    left join (
        select distinct neighbourhood_code from {{ ref('stg_organisations') }}
    ) as neighbourhoods
        on assessments.neighbourhood_code = neighbourhoods.neighbourhood_code
    where criteria.criterion_id is null or neighbourhoods.neighbourhood_code is null
    group by 2, criteria.criterion_id is null

),

checked as (

    select cast(value as timestamp) as checked_at
    from {{ source('build', 'build_info') }}
    where key = 'built_at'

),

all_results as (

    select * from validation
    union all
    select * from gpad_gaps
    union all
    select * from unregistered_activity
    union all
    select * from payments_without_patients
    union all
    select * from extracts_ending_early
    union all
    select * from unmatched_assessments

)

select
    all_results.dataset,
    all_results.check_name,
    all_results.severity,
    all_results.practice_code,
    all_results.period_start,
    all_results.rows_affected,
    all_results.detail,
    checked.checked_at
from all_results
cross join checked
