-- One row per neighbourhood, assessment period and criterion of the matrix in use: the
-- status (attested, or judged from the metrics), the evidence in a sentence, and whether
-- it counts as met. A criterion is met when its status is `met` and every criterion it
-- depends on (int_maturity_criteria_prerequisites) is met too; `partially_met` and
-- `not_assessed` count as not met.

with results as (

    select
        neighbourhood_code,
        assessment_period,
        domain_id,
        criterion_id,
        criterion_kind,
        status,
        evidence_summary,
        statement,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as metric_period_label,
        level,
        cast(null as double) as metric_value,
        cast(null as double) as threshold
    from {{ ref('int_maturity_self_assessed_results') }}

    union all

    select
        neighbourhood_code,
        assessment_period,
        domain_id,
        criterion_id,
        criterion_kind,
        status,
        evidence_summary,
        statement,
        metric_id,
        metric_period_label,
        level,
        metric_value,
        threshold
    from {{ ref('int_maturity_metric_results') }}

),

unmet_prerequisites as (

    select
        results.neighbourhood_code,
        results.assessment_period,
        prerequisites.criterion_id,
        {{ ordered_listagg('prerequisites.prerequisite_id', "', '", 'prerequisites.prerequisite_id') }}
            as prerequisite_ids
    from {{ ref('int_maturity_criteria_prerequisites') }} as prerequisites
    inner join results
        on results.criterion_id = prerequisites.prerequisite_id
    where results.status <> 'met'
    group by
        results.neighbourhood_code,
        results.assessment_period,
        prerequisites.criterion_id

)

select
    results.neighbourhood_code,
    results.assessment_period,
    results.domain_id,
    results.level,
    results.criterion_id,
    results.criterion_kind,
    results.status,
    case
        when unmet_prerequisites.prerequisite_ids is null then results.evidence_summary
        else {{ dbt.concat([
            'results.evidence_summary',
            "' Depends on '",
            'unmet_prerequisites.prerequisite_ids',
            "', which is not met.'",
        ]) }}
    end as evidence_summary,
    results.metric_id,
    results.metric_value,
    results.threshold,
    results.status = 'met' and unmet_prerequisites.prerequisite_ids is null as is_met,
    results.statement,
    results.metric_period_label
from results
left join unmet_prerequisites
    on unmet_prerequisites.neighbourhood_code = results.neighbourhood_code
    and unmet_prerequisites.assessment_period = results.assessment_period
    and unmet_prerequisites.criterion_id = results.criterion_id
