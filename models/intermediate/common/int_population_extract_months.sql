-- Which registered_population extract each practice's month uses: the latest extract on or
-- before the month's end, else the practice's earliest extract (inputs.md, "Denominators
-- over time").

with months as (

    select period_start as month, period_end as month_end
    from {{ ref('int_periods') }}
    where period_grain = 'month'

),

extracts as (

    select distinct practice_code, extract_date from {{ ref('stg_registered_population') }}

)

select
    months.month,
    months.month_end,
    extracts.practice_code,
    coalesce(
        max(case when extracts.extract_date <= months.month_end then extracts.extract_date end),
        min(extracts.extract_date)
    ) as extract_date
from months
cross join extracts
group by months.month, months.month_end, extracts.practice_code
