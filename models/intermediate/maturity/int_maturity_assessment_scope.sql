-- What is assessed: every neighbourhood in the organisation data, for every assessment
-- period in maturity_assessments (a neighbourhood that sent no return is still scored, its
-- self-assessed criteria `not_assessed`). Membership, place and ICB come from the practices'
-- geographies at the last month end of the data on or before the end of the assessment
-- period (else the first month end); a neighbourhood whose practices span places or ICBs
-- takes the one most of its practices belong to (ties: the lowest code).

with assessment_periods as (

    -- the calendar, stated once (the assessment_periods mart, macros/maturity.sql)
    select assessment_period, period_start, period_end
    from {{ ref('assessment_periods') }}

),

month_ends as (

    select distinct period_end
    from {{ ref('int_practice_geographies') }}

),

geography_dates as (

    select
        assessment_periods.assessment_period,
        coalesce(
            max(month_ends.period_end),
            (select min(period_end) from month_ends)
        ) as geography_date
    from assessment_periods
    left join month_ends
        on month_ends.period_end <= assessment_periods.period_end
    group by assessment_periods.assessment_period

),

practice_parents as (

    select
        geography_dates.assessment_period,
        geographies.practice_code,
        max(case when geographies.geography_type = 'neighbourhood'
            then geographies.geography_code end) as neighbourhood_code,
        max(case when geographies.geography_type = 'place'
            then geographies.geography_code end) as place_code,
        max(case when geographies.geography_type = 'icb'
            then geographies.geography_code end) as icb_code
    from geography_dates
    inner join {{ ref('int_practice_geographies') }} as geographies
        on geographies.period_end = geography_dates.geography_date
    where geographies.geography_type in ('neighbourhood', 'place', 'icb')
    group by geography_dates.assessment_period, geographies.practice_code

),

neighbourhood_parents as (

    select
        assessment_period,
        neighbourhood_code,
        place_code,
        icb_code,
        row_number() over (
            partition by assessment_period, neighbourhood_code
            order by count(*) desc, place_code, icb_code
        ) as preference
    from practice_parents
    where neighbourhood_code is not null
    group by assessment_period, neighbourhood_code, place_code, icb_code

)

select
    neighbourhood_parents.neighbourhood_code,
    neighbourhood_parents.assessment_period,
    neighbourhood_parents.place_code,
    neighbourhood_parents.icb_code,
    assessment_periods.period_start,
    assessment_periods.period_end
from neighbourhood_parents
inner join assessment_periods
    on assessment_periods.assessment_period = neighbourhood_parents.assessment_period
where neighbourhood_parents.preference = 1
