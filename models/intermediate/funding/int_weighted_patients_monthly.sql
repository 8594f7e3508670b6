-- Need-weighted patients per practice and month: the practice's `weighted_population` for
-- the financial year containing the month where supplied, else registered patients
-- weighted by the shipped age-sex need weights (seed need_weights). Also the practice's
-- registered and Core20 patients that month, for the needs-based fair share.

with population as (

    select * from {{ ref('int_population_monthly') }}

),

need_weights as (

    select * from {{ ref('need_weights') }}

),

derived as (

    select
        population.month,
        population.practice_code,
        sum(population.patients) as registered_patients,
        sum(case when population.imd_quintile = 1 then population.patients else 0 end)
            as core20_patients,
        {{ exact_sum('population.patients * need_weights.need_weight') }}
            as derived_weighted_patients
    from population
    inner join need_weights
        on population.sex = need_weights.sex
        and population.age_band = need_weights.age_band
    group by population.month, population.practice_code

),

supplied as (

    select
        {{ financial_year_start_from_label('financial_year') }} as financial_year_start,
        practice_code,
        weighted_patients
    from {{ ref('stg_weighted_population') }}

)

select
    derived.month,
    derived.practice_code,
    derived.registered_patients,
    derived.core20_patients,
    coalesce(supplied.weighted_patients, derived.derived_weighted_patients) as weighted_patients,
    case when supplied.weighted_patients is null then 'derived_age_sex' else 'supplied' end
        as weighting_source
from derived
left join supplied
    on derived.practice_code = supplied.practice_code
    and {{ financial_year_start('derived.month') }} = supplied.financial_year_start
