-- Each practice's geographies at every month end: the organisation row valid at that
-- date; a practice closed before the date aggregates through its last row, and one that
-- opened after it through its first row (so no activity is ever left out of a parent).

with month_ends as (

    -- every period ends on a month end inside the span of the loaded data
    select period_end
    from {{ ref('int_periods') }}
    where period_grain = 'month'

),

organisations as (

    select * from {{ ref('stg_organisations') }}

),

candidate_rows as (

    select
        month_ends.period_end,
        organisations.*,
        row_number() over (
            partition by month_ends.period_end, organisations.practice_code
            order by
                case when organisations.valid_from <= month_ends.period_end then 0 else 1 end,
                case when organisations.valid_from <= month_ends.period_end
                    then organisations.valid_from end desc,
                organisations.valid_from
        ) as preference
    from month_ends
    cross join organisations

),

valid_rows as (

    select * from candidate_rows where preference = 1

),

long_form as (

    select period_end, practice_code, 'practice' as geography_type,
        practice_code as geography_code, practice_name as geography_name
    from valid_rows
    union all
    select period_end, practice_code, 'pcn', pcn_code, pcn_name from valid_rows
    union all
    select period_end, practice_code, 'neighbourhood', neighbourhood_code, neighbourhood_name
    from valid_rows
    union all
    select period_end, practice_code, 'place', place_code, place_name from valid_rows
    union all
    select period_end, practice_code, 'icb', icb_code, icb_name from valid_rows
    union all
    select period_end, practice_code, 'provider', provider_code, provider_name
    from valid_rows
    where provider_code is not null
    union all
    select period_end, practice_code, 'all', 'all', 'All organisations loaded' from valid_rows

)

select
    period_end,
    practice_code,
    geography_type,
    geography_code,
    geography_name
from long_form
