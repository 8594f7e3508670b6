-- Each neighbourhood's answer to each self-assessed criterion for each assessment period,
-- as attested in maturity_assessments; no row means `not_assessed`.

with scope as (

    select * from {{ ref('int_maturity_assessment_scope') }}

),

criteria as (

    select * from {{ ref('int_maturity_criteria') }}
    where criterion_kind = 'self_assessed'

),

assessments as (

    select * from {{ ref('stg_maturity_assessments') }}

)

select
    scope.neighbourhood_code,
    scope.assessment_period,
    criteria.domain_id,
    criteria.criterion_id,
    criteria.criterion_kind,
    coalesce(assessments.status, 'not_assessed') as status,
    case
        when assessments.criterion_id is null
            then {{ dbt.concat(["'No self-assessment was returned for '", 'scope.assessment_period', "'.'"]) }}
        when assessments.evidence_url is null
            then coalesce(assessments.evidence, 'No evidence text was given.')
        else {{ dbt.concat([
            "coalesce(assessments.evidence, 'No evidence text was given.')",
            "' (evidence: '",
            'assessments.evidence_url',
            "')'",
        ]) }}
    end as evidence_summary,
    criteria.statement,
    assessments.submitted_by,
    criteria.level,
    assessments.assessed_on
from scope
cross join criteria
left join assessments
    on assessments.neighbourhood_code = scope.neighbourhood_code
    and assessments.assessment_period = scope.assessment_period
    and assessments.criterion_id = criteria.criterion_id
