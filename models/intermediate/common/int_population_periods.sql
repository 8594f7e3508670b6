-- Registered patients per period: a month uses its own value; a financial year or rolling
-- 12 months the mean of its twelve monthly values (inputs.md, "Denominators over time").

with monthly as (

    select * from {{ ref('int_population_monthly') }}

),

periods as (

    select * from {{ ref('int_periods') }}

)

select
    periods.period_grain,
    periods.period_start,
    periods.period_end,
    periods.period_label,
    monthly.practice_code,
    monthly.imd_quintile,
    monthly.sex,
    monthly.age_band,
    sum(monthly.patients) / max(case when periods.period_grain = 'month' then 1.0 else 12.0 end)
        as patients
from periods
inner join monthly
    on monthly.month between periods.period_start and periods.period_end
group by
    periods.period_grain,
    periods.period_start,
    periods.period_end,
    periods.period_label,
    monthly.practice_code,
    monthly.imd_quintile,
    monthly.sex,
    monthly.age_band
