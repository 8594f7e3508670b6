-- Each practice's deprivation at each month end: the IMD quintile of its patient-weighted
-- mean IMD decile (quintile = ceil(mean decile / 2)), from the registered_population
-- extract the month uses (one for all practices: a practice missing from it has none).
-- Patients in UNKNOWN or unmatched LSOAs are left out of the mean.

with population as (

    select * from {{ ref('stg_registered_population') }}

),

chosen_extract as (

    select month_end as period_end, extract_date
    from {{ ref('int_population_extract_months') }}

),

weighted_decile as (

    select
        population.practice_code,
        population.extract_date,
        sum(population.patients * deprivation.imd_decile) / nullif(sum(population.patients), 0)
            as mean_imd_decile
    from population
    inner join {{ ref('stg_lsoa_deprivation') }} as deprivation
        on population.lsoa_code = deprivation.lsoa_code
    group by population.practice_code, population.extract_date

)

select
    chosen_extract.period_end,
    weighted_decile.practice_code,
    weighted_decile.mean_imd_decile,
    least(5, greatest(1, cast(ceil(weighted_decile.mean_imd_decile / 2.0) as integer)))
        as imd_quintile
from chosen_extract
inner join weighted_decile on chosen_extract.extract_date = weighted_decile.extract_date
where weighted_decile.mean_imd_decile is not null
