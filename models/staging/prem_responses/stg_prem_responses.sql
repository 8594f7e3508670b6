with source as (

    select * from {{ source('raw', 'prem_responses') }}

)

select
    cast(survey_wave as {{ dbt.type_string() }}) as survey_wave,
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(respondent_id as {{ dbt.type_string() }}) as respondent_id,
    cast(lsoa_code as {{ dbt.type_string() }}) as lsoa_code,
    cast(sex as {{ dbt.type_string() }}) as sex,
    cast(age_band as {{ dbt.type_string() }}) as age_band,
    cast(weight as double) as weight,
    cast(question_id as {{ dbt.type_string() }}) as question_id,
    cast(response as {{ dbt.type_string() }}) as response
from source
