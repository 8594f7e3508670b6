with source as (

    select * from {{ source('raw', 'maturity_assessments') }}

)

select
    cast(assessment_period as {{ dbt.type_string() }}) as assessment_period,
    cast(neighbourhood_code as {{ dbt.type_string() }}) as neighbourhood_code,
    cast(submitted_by as {{ dbt.type_string() }}) as submitted_by,
    cast(criterion_id as {{ dbt.type_string() }}) as criterion_id,
    cast(status as {{ dbt.type_string() }}) as status,
    cast(evidence as {{ dbt.type_string() }}) as evidence,
    cast(evidence_url as {{ dbt.type_string() }}) as evidence_url,
    cast(assessed_on as date) as assessed_on
from source
