-- Each metric criterion judged from its readings (docs/maturity.md, "Metric rules"):
--   threshold:          the latest value compared with the threshold by the operator;
--   improving:          change_from_year_before is `improved` (macro change_from_year_before
--                       in metric_judgements: better than a year before with non-overlapping
--                       95% limits, values compared directly where the method gives no
--                       limits, or a special-cause improvement at the latest month of the
--                       SPC chart);
--   not_worse_than_icb: worse means the ICB's value lies outside the 95% limits on the good
--                       side (higher_is_better: ICB above the upper limit; lower_is_better:
--                       ICB below the lower limit); without limits, worse means strictly
--                       worse than the ICB;
--   gap_narrowing:      the latest slope index of inequality is closer to zero than a year
--                       before and that earlier SII lies outside the latest SII's 95% limits.
-- Values within floating-point rounding of each other (macro maturity_tolerance, 1e-9
-- relative) count as equal. No latest value, or nothing to compare it with, means
-- `not_assessed`.

with readings as (

    select
        *,
        {{ maturity_tolerance([
            'latest_value', 'latest_lower_95', 'latest_upper_95',
            'prior_value', 'prior_upper_95', 'prior_lower_95', 'icb_value',
        ]) }} as tolerance
    from {{ ref('int_maturity_metric_readings') }}

),

criteria as (

    select * from {{ ref('int_maturity_criteria') }}
    where criterion_kind = 'metric'

),

judged as (

    select
        readings.*,
        criteria.domain_id,
        criteria.criterion_kind,
        criteria.statement,
        criteria.operator,
        criteria.level,
        criteria.threshold as rule_threshold,
        case
            when readings.latest_value is null then null

            when readings.rule = 'threshold' then
                case criteria.operator
                    when '>=' then readings.latest_value >= criteria.threshold - readings.tolerance
                    when '>' then readings.latest_value > criteria.threshold + readings.tolerance
                    when '<=' then readings.latest_value <= criteria.threshold + readings.tolerance
                    when '<' then readings.latest_value < criteria.threshold - readings.tolerance
                end

            when readings.rule = 'improving' then
                -- the change on a year before as metric_judgements states it (one macro,
                -- change_from_year_before, for reports and the matrix alike)
                case
                    when readings.change_from_year_before = 'improved' then true
                    when readings.polarity not in ('higher_is_better', 'lower_is_better')
                        then null
                    when readings.change_from_year_before in (
                        'worsened', 'no_significant_change', 'unchanged'
                    ) then false
                end

            when readings.rule = 'not_worse_than_icb' then
                case
                    when readings.icb_value is null then null
                    when readings.latest_lower_95 is null or readings.latest_upper_95 is null then
                        case readings.polarity
                            when 'higher_is_better'
                                then readings.latest_value >= readings.icb_value - readings.tolerance
                            when 'lower_is_better'
                                then readings.latest_value <= readings.icb_value + readings.tolerance
                        end
                    when readings.polarity = 'higher_is_better'
                        then readings.icb_value <= readings.latest_upper_95 + readings.tolerance
                    when readings.polarity = 'lower_is_better'
                        then readings.icb_value >= readings.latest_lower_95 - readings.tolerance
                end

            when readings.rule = 'gap_narrowing' then
                case
                    when readings.prior_value is null then null
                    when abs(readings.latest_value) >= abs(readings.prior_value) - readings.tolerance
                        then false
                    when readings.latest_lower_95 is null or readings.latest_upper_95 is null
                        then true
                    else readings.prior_value < readings.latest_lower_95 - readings.tolerance
                        or readings.prior_value > readings.latest_upper_95 + readings.tolerance
                end
        end as is_rule_met
    from readings
    inner join criteria
        on criteria.criterion_id = readings.criterion_id

),

described as (

    select
        judged.*,
        {{ dbt.concat([
            "case when rule = 'gap_narrowing' then 'Slope index of inequality of ' else '' end",
            "coalesce(metric_title, metric_id)",
            "case breakdown_type
                when 'all' then ''
                when 'imd_quintile' then ' (IMD quintile ' || breakdown_value || ')'
                when 'core20' then case breakdown_value when 'core20' then ' (Core20)'
                    else ' (not Core20)' end
                when 'age_band' then ' (aged ' || breakdown_value || ')'
                when 'sex' then case breakdown_value when 'F' then ' (female)' else ' (male)' end
                else ' (' || replace(breakdown_value, '_', ' ') || ')'
            end",
            "case when geography_type = 'neighbourhood' then ''
                else ', ' || geography_type || ' ' || geography_code end",
        ]) }} as series_text,
        case
            when latest_lower_95 is not null and latest_upper_95 is not null
                then {{ dbt.concat([
                    "' (95% limits '", maturity_number('latest_lower_95'),
                    "' to '", maturity_number('latest_upper_95'), "')'",
                ]) }}
            else ''
        end as latest_limits_text,
        case
            when prior_lower_95 is not null and prior_upper_95 is not null
                then {{ dbt.concat([
                    "' (95% limits '", maturity_number('prior_lower_95'),
                    "' to '", maturity_number('prior_upper_95'), "')'",
                ]) }}
            else ''
        end as prior_limits_text
    from judged

)

select
    neighbourhood_code,
    assessment_period,
    domain_id,
    criterion_id,
    criterion_kind,
    case
        when is_rule_met then 'met'
        when not is_rule_met then 'not_met'
        else 'not_assessed'
    end as status,
    case
        when latest_period_label is null
            then {{ dbt.concat([
                "'No value of '", 'series_text', "' for a period ending by '",
                dbt.cast('assessment_end', dbt.type_string()), "'.'",
            ]) }}
        when latest_value is null
            then {{ dbt.concat([
                'series_text', "', '", 'latest_period_label', "': not calculated ('",
                "coalesce(latest_not_calculated_reason, 'no value')", "').'",
            ]) }}
        else {{ dbt.concat([
            'series_text', "', '", 'latest_period_label', "': '",
            maturity_number('latest_value'), 'latest_limits_text',
            "case rule
                when 'threshold' then '; rule ' || operator || ' '
                    || " ~ maturity_number('rule_threshold') ~ "
                when 'not_worse_than_icb' then case when icb_value is null
                    then '; no ICB value for the same period'
                    else '; ICB ' || " ~ maturity_number('icb_value') ~ " end
                else case when prior_value is null
                    then '; no value a year earlier'
                    else '; ' || prior_period_label || ': ' || "
                        ~ maturity_number('prior_value') ~ " || prior_limits_text end
                    || case when spc_point_type = 'special_cause_improvement'
                        then '; special-cause improvement in the SPC chart' else '' end
            end",
            "'.'",
        ]) }}
    end as evidence_summary,
    statement,
    metric_id,
    latest_period_label as metric_period_label,
    level,
    latest_value as metric_value,
    case rule
        when 'threshold' then rule_threshold
        when 'not_worse_than_icb' then icb_value
        else prior_value
    end as threshold
from described
