-- The months each dataset covers: its overall range across all practices. Monthly
-- datasets give their first and last month; money datasets the months of their financial
-- years; the workforce census its census months; PREM the months of its survey waves.
-- Financial-year and rolling-12-month rows are produced only where a dataset's range
-- covers the whole period (inputs.md, "Missing versus zero").

with financial_years as (

    select 'spend' as dataset, financial_year from {{ ref('stg_spend') }}
    union all
    select 'practice_payments', financial_year from {{ ref('stg_practice_payments') }}
    union all
    select 'weighted_population', financial_year from {{ ref('stg_weighted_population') }}

),

waves as (

    select distinct survey_wave from {{ ref('stg_prem_responses') }}

),

ranges as (

    select 'gp_appointments' as dataset, min(month) as first_month, max(month) as last_month
    from {{ ref('stg_gp_appointments') }}

    union all

    -- the first and last dates, then their months (the same months, as truncating to a
    -- month keeps the order): the engine answers min and max of a stored column from its
    -- statistics, where truncating every one of 300 million dates first took 9 s
    select
        'gp_encounters',
        cast({{ dbt.date_trunc('month', 'min(encounter_date)') }} as date),
        cast({{ dbt.date_trunc('month', 'max(encounter_date)') }} as date)
    from {{ ref('stg_gp_encounters') }}

    union all

    select 'hospital_activity', min(month), max(month) from {{ ref('stg_hospital_activity') }}

    union all

    select 'community_activity', min(month), max(month)
    from {{ ref('stg_community_activity') }}

    union all

    select
        'workforce',
        cast({{ dbt.date_trunc('month', 'min(census_date)') }} as date),
        cast({{ dbt.date_trunc('month', 'max(census_date)') }} as date)
    from {{ ref('stg_workforce') }}

    union all

    select
        dataset,
        min({{ financial_year_start_from_label('financial_year') }}),
        max(cast({{ dbt.dateadd('month', 11, financial_year_start_from_label('financial_year')) }} as date))
    from financial_years
    group by dataset

    union all

    select
        'prem_responses',
        min({{ survey_wave_start('survey_wave') }}),
        max(cast({{ dbt.dateadd('month', 11, survey_wave_start('survey_wave')) }} as date))
    from waves

)

select
    dataset,
    first_month,
    last_month
from ranges
where first_month is not null
