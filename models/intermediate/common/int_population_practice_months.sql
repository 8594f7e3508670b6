-- The practice-months with registered patients: each practice in the registered_population
-- extract a month uses, with its list size. Activity of any other practice-month is not
-- added to a rate per registered patient (inputs.md, "Denominators over time"); data_quality
-- lists it.

select
    month,
    practice_code,
    sum(patients) as patients
from {{ ref('int_population_monthly') }}
group by month, practice_code
