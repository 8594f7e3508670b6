with source as (

    select * from {{ source('raw', 'maturity_assessments') }}

)

select
    cast(assessment_period as varchar) as assessment_period,
    cast(neighbourhood_code as varchar) as neighbourhood_code,
    cast(submitted_by as varchar) as submitted_by,
    cast(criterion_id as varchar) as criterion_id,
    cast(status as varchar) as status,
    cast(evidence as varchar) as evidence,
    cast(evidence_url as varchar) as evidence_url,
    cast(assessed_on as date) as assessed_on
from source
