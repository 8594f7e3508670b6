-- Registered patients living in each IMD quintile's LSOAs, per period and geography: the
-- population weights of the slope index of inequality. A period's patients are a mean of
-- monthly counts, so they are summed with exact_sum (the same in every build).

with population as (

    select * from {{ ref('int_population_periods') }}
    where imd_quintile is not null

),

geographies as (

    select * from {{ ref('int_practice_geographies') }}

)

select
    population.period_grain,
    population.period_start,
    population.period_end,
    geographies.geography_type,
    geographies.geography_code,
    population.imd_quintile,
    {{ exact_sum('population.patients') }} as patients
from population
inner join geographies
    on population.practice_code = geographies.practice_code
    and population.period_end = geographies.period_end
group by
    population.period_grain,
    population.period_start,
    population.period_end,
    geographies.geography_type,
    geographies.geography_code,
    population.imd_quintile
