-- Registered patients for every month of the data, from the extract the month uses
-- (int_population_extract_months: one extract for all practices), with the IMD quintile of
-- each LSOA (null where the LSOA is UNKNOWN or not in lsoa_deprivation). Core20 = quintile
-- 1. A practice missing from that extract has no rows for the month: no registered
-- patients, never a list size carried from another extract.

with population as (

    select * from {{ ref('stg_registered_population') }}

),

chosen_extract as (

    select * from {{ ref('int_population_extract_months') }}

),

deprivation as (

    select lsoa_code, imd_quintile from {{ ref('stg_lsoa_deprivation') }}

),

by_lsoa as (

    select
        population.extract_date,
        population.practice_code,
        deprivation.imd_quintile,
        population.sex,
        population.age_band,
        sum(population.patients) as patients
    from population
    left join deprivation on population.lsoa_code = deprivation.lsoa_code
    group by
        population.extract_date,
        population.practice_code,
        deprivation.imd_quintile,
        population.sex,
        population.age_band

)

select
    chosen_extract.month,
    by_lsoa.practice_code,
    by_lsoa.imd_quintile,
    by_lsoa.sex,
    by_lsoa.age_band,
    by_lsoa.patients
from chosen_extract
inner join by_lsoa on chosen_extract.extract_date = by_lsoa.extract_date
