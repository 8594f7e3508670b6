-- Which registered_population extract each month uses: the latest extract on or before the
-- month's end, else the earliest extract (inputs.md, "Denominators over time"). An extract
-- is one publication across all practices, so the choice is made for the whole dataset,
-- never practice by practice: a practice missing from the month's extract (closed before
-- it, or not yet open) has no registered patients that month.

with months as (

    select period_start as month, period_end as month_end
    from {{ ref('int_periods') }}
    where period_grain = 'month'

),

extracts as (

    select distinct extract_date from {{ ref('stg_registered_population') }}

)

select
    months.month,
    months.month_end,
    coalesce(
        max(case when extracts.extract_date <= months.month_end then extracts.extract_date end),
        min(extracts.extract_date)
    ) as extract_date
from months
cross join extracts
group by months.month, months.month_end
