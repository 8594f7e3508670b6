-- Every reportable period within the loaded data: months, financial years and rolling
-- 12 months ending each quarter end, and survey waves. Families keep the periods their own
-- datasets cover (macro covered_periods).

with bounds as (

    select
        min(first_month) as first_month,
        max(last_month) as last_month
    from {{ ref('int_data_months') }}

),

months as (

    {{ month_spine(
        '(select first_month from bounds)',
        '(select last_month from bounds)'
    ) }}

),

month_periods as (

    select
        'month' as period_grain,
        month as period_start,
        {{ month_end('month') }} as period_end,
        {{ month_label('month') }} as period_label
    from months

),

financial_years as (

    select distinct
        'financial_year' as period_grain,
        {{ financial_year_start('month') }} as period_start
    from months

),

financial_year_periods as (

    select
        period_grain,
        period_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 12, 'period_start')) }} as date)
            as period_end,
        {{ financial_year_label('period_start') }} as period_label
    from financial_years

),

rolling_periods as (

    select
        'rolling_12m' as period_grain,
        cast({{ dbt.dateadd('month', -11, 'month') }} as date) as period_start,
        {{ month_end('month') }} as period_end,
        {{ dbt.concat(["'12m to '", month_label('month')]) }} as period_label
    from months
    where extract(month from month) in (3, 6, 9, 12)

),

survey_wave_periods as (

    select distinct
        'survey_wave' as period_grain,
        {{ survey_wave_start('survey_wave') }} as period_start,
        {{ survey_wave_end('survey_wave') }} as period_end,
        survey_wave as period_label
    from {{ ref('stg_prem_responses') }}

),

all_periods as (

    select * from month_periods
    union all
    select * from survey_wave_periods
    union all
    select * from financial_year_periods
    union all
    select * from rolling_periods

)

select
    period_grain,
    period_start,
    period_end,
    period_label
from all_periods
where period_start >= (select first_month from bounds)
    and period_end <= {{ month_end('(select last_month from bounds)') }}
