-- The maturity assessment calendar: every assessment period returned (a financial-year
-- quarter such as `2025/26 Q2`), its first and last day, and the period before it. Reports
-- take the latest period ending by the report date and compare it with `previous_period`.

with periods as (

    select distinct
        assessment_period,
        {{ assessment_period_start('assessment_period') }} as period_start,
        {{ assessment_period_end('assessment_period') }} as period_end
    from {{ ref('stg_maturity_assessments') }}
    where {{ is_assessment_period('assessment_period') }}

)

select
    assessment_period,
    period_start,
    period_end,
    lag(assessment_period) over (order by period_start) as previous_period
from periods
