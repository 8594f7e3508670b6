-- One row per neighbourhood, assessment period and domain: the level achieved (the highest
-- level L with every criterion at levels 1..L met; 0 when a level-1 criterion is not met),
-- the self-assessed level (the same rule over self-assessed criteria only) and the
-- evidenced level (over metric criteria only). A level with no criteria of a kind does not
-- hold that kind back; a domain with no criteria of a kind has no level of that kind (null).
-- next_level_gaps lists what stands between the neighbourhood and the next level.

with results as (

    select * from {{ ref('maturity_criteria_results') }}

),

domain_levels as (

    select * from {{ ref('int_maturity_domain_levels') }}

),

level_checks as (

    select
        neighbourhood_code,
        assessment_period,
        domain_id,
        level,
        min(case when is_met then 1 else 0 end) as all_met,
        min(case when criterion_kind = 'self_assessed' then case when is_met then 1 else 0 end end)
            as self_assessed_met,
        min(case when criterion_kind = 'metric' then case when is_met then 1 else 0 end end)
            as metric_met
    from results
    group by neighbourhood_code, assessment_period, domain_id, level

),

domain_tops as (

    select domain_id, max(level) as top_level
    from domain_levels
    group by domain_id

),

scored as (

    select
        level_checks.neighbourhood_code,
        level_checks.assessment_period,
        level_checks.domain_id,
        coalesce(min(case when level_checks.all_met = 0 then level_checks.level end) - 1,
            max(domain_tops.top_level)) as level_achieved,
        case when count(level_checks.self_assessed_met) > 0 then
            coalesce(min(case when level_checks.self_assessed_met = 0 then level_checks.level end) - 1,
                max(domain_tops.top_level))
        end as self_assessed_level,
        case when count(level_checks.metric_met) > 0 then
            coalesce(min(case when level_checks.metric_met = 0 then level_checks.level end) - 1,
                max(domain_tops.top_level))
        end as evidenced_level
    from level_checks
    inner join domain_tops
        on domain_tops.domain_id = level_checks.domain_id
    group by level_checks.neighbourhood_code, level_checks.assessment_period, level_checks.domain_id

),

gaps as (

    select
        scored.neighbourhood_code,
        scored.assessment_period,
        scored.domain_id,
        {{ ordered_listagg(
            dbt.concat([
                'results.statement',
                "' ['",
                "case when results.status = 'met' then 'depends on a criterion not met'
                    else replace(results.status, '_', ' ') end",
                "']'",
            ]),
            "'; '",
            'results.criterion_id',
        ) }} as unmet_criteria
    from scored
    inner join results
        on results.neighbourhood_code = scored.neighbourhood_code
        and results.assessment_period = scored.assessment_period
        and results.domain_id = scored.domain_id
        and results.level = scored.level_achieved + 1
    where not results.is_met
    group by scored.neighbourhood_code, scored.assessment_period, scored.domain_id

)

select
    scored.neighbourhood_code,
    scored.assessment_period,
    scored.domain_id,
    scored.level_achieved,
    coalesce(achieved.level_name, 'Not yet at Foundation') as level_name,
    scored.self_assessed_level,
    scored.evidenced_level,
    coalesce(scored.self_assessed_level <> scored.evidenced_level, false) as has_discrepancy,
    case
        when gaps.unmet_criteria is null then null
        else {{ dbt.concat([
            "'To reach '",
            'next_level.level_name',
            "': '",
            'gaps.unmet_criteria',
        ]) }}
    end as next_level_gaps,
    case
        when scored.self_assessed_level > scored.evidenced_level then 'self_assessment_higher'
        when scored.self_assessed_level < scored.evidenced_level then 'evidence_higher'
    end as discrepancy_direction
from scored
left join domain_levels as achieved
    on achieved.domain_id = scored.domain_id
    and achieved.level = scored.level_achieved
left join domain_levels as next_level
    on next_level.domain_id = scored.domain_id
    and next_level.level = scored.level_achieved + 1
left join gaps
    on gaps.neighbourhood_code = scored.neighbourhood_code
    and gaps.assessment_period = scored.assessment_period
    and gaps.domain_id = scored.domain_id
