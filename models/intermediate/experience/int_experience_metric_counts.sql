-- Patient experience (PREM) positive shares per practice and survey wave in the common
-- long shape: numerator = weighted positive answers, denominator = weighted answers
-- (`dont_know` excluded), sum_sq = sum of squared weights (for the Kish effective sample
-- size), unweighted_count = respondents. Only questions the catalogue knows are loaded.

with responses as (

    select * from {{ ref('stg_prem_responses') }}
    where response <> 'dont_know'

),

deprivation as (

    select lsoa_code, imd_quintile from {{ ref('stg_lsoa_deprivation') }}

),

periods as (

    select * from {{ ref('int_periods') }} where period_grain = 'survey_wave'

),

answers as (

    select
        {{ dbt.concat(["'prem_'", 'responses.question_id', "'_positive'"]) }} as metric_id,
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        responses.practice_code,
        'all' as stratum,
        deprivation.imd_quintile,
        responses.sex,
        responses.age_band,
        case when responses.response in ('very_good', 'fairly_good')
            then responses.weight else 0 end as numerator,
        responses.weight as denominator,
        1.0 as unweighted_count,
        responses.weight * responses.weight as sum_sq
    from responses
    inner join periods on responses.survey_wave = periods.period_label
    left join deprivation on responses.lsoa_code = deprivation.lsoa_code

)

{{ breakdown_rows(
    'answers',
    ['all', 'imd_quintile', 'core20', 'age_band', 'sex'],
    ['metric_id', 'period_grain', 'period_start', 'period_end', 'period_label',
     'practice_code', 'stratum'],
    ['numerator', 'denominator', 'unweighted_count', 'sum_sq'],
) }}
