with source as (

    select * from {{ source('raw', 'prem_responses') }}

)

select
    cast(survey_wave as varchar) as survey_wave,
    cast(practice_code as varchar) as practice_code,
    cast(respondent_id as varchar) as respondent_id,
    cast(lsoa_code as varchar) as lsoa_code,
    cast(sex as varchar) as sex,
    cast(age_band as varchar) as age_band,
    cast(weight as double) as weight,
    cast(question_id as varchar) as question_id,
    cast(response as varchar) as response
from source
