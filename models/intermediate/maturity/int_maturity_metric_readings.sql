-- What each metric criterion's rule reads, per neighbourhood and assessment period:
--   latest: the criterion's series (metric, grain, breakdown, geography) at its latest
--           period ending on or before the end of the assessment period;
--   prior:  the same series at its latest period starting at least 12 months before the
--           latest period starts (a year earlier);
--   icb:    the ICB's row for the latest period and breakdown (not_worse_than_icb);
--   spc:    the Making Data Count point type of the latest month (improving, monthly only);
--   change: the latest row's change_from_year_before (the metric_judgements mart), which
--           the `improving` rule reads, so that reports and the matrix judge alike.
-- Gap rules read the slope index of inequality (and its limits) from inequality_gaps in
-- place of the value. Every reading comes from the disclosed marts (disclosed_metric_values,
-- disclosed_inequality_gaps, disclosed_metric_spc), so maturity evidence and levels, which
-- reports and published files show, never rest on a withheld figure: a withheld latest
-- value makes the criterion not assessable, as a value that was not calculated does. The geography is the neighbourhood, or its place or ICB where the
-- criterion's geography_level says so (spend exists only for place and ICB).

with scope as (

    select * from {{ ref('int_maturity_assessment_scope') }}

),

criteria as (

    select * from {{ ref('int_maturity_criteria') }}
    where criterion_kind = 'metric'

),

catalogue as (

    select metric_id, title, polarity from {{ ref('metric_catalogue') }}

),

series_keys as (

    select distinct
        metric_id,
        period_grain,
        breakdown_type,
        breakdown_value,
        case when rule = 'gap_narrowing' then 'inequality_gaps' else 'metric_values' end
            as series_source
    from criteria

),

metric_rows as (

    select
        metric_values.metric_id,
        metric_values.period_grain,
        metric_values.geography_type,
        metric_values.geography_code,
        metric_values.breakdown_type,
        metric_values.breakdown_value,
        metric_values.period_label,
        case
            when metric_values.is_suppressed then 'withheld by disclosure control'
            else metric_values.not_calculated_reason
        end as not_calculated_reason,
        metric_values.value,
        metric_values.lower_95,
        metric_values.upper_95,
        metric_values.period_start,
        metric_values.period_end
    from {{ ref('disclosed_metric_values') }} as metric_values
    inner join series_keys
        on series_keys.series_source = 'metric_values'
        and {{ same_values('series_keys', 'metric_values', [
            'metric_id', 'period_grain', 'breakdown_type', 'breakdown_value'
        ]) }}
    where metric_values.geography_type in ('neighbourhood', 'place', 'icb')

),

gap_periods as (

    -- inequality gaps carry period labels only: take the dates from the metric's rows
    select distinct
        metric_values.metric_id,
        metric_values.period_grain,
        metric_values.period_label,
        metric_values.period_start,
        metric_values.period_end
    from {{ ref('disclosed_metric_values') }} as metric_values
    inner join series_keys
        on series_keys.series_source = 'inequality_gaps'
        and series_keys.metric_id = metric_values.metric_id
        and series_keys.period_grain = metric_values.period_grain
    where metric_values.breakdown_type = 'imd_quintile'

),

gap_rows as (

    select
        gaps.metric_id,
        gaps.period_grain,
        gaps.geography_type,
        gaps.geography_code,
        'all' as breakdown_type,
        'all' as breakdown_value,
        gaps.period_label,
        case
            when '|' || gaps.suppressed_columns || '|' like '%|sii|%' then 'withheld by disclosure control'
            else gaps.not_calculated_reason
        end as not_calculated_reason,
        gaps.sii as value,
        gaps.sii_lower_95 as lower_95,
        gaps.sii_upper_95 as upper_95,
        gap_periods.period_start,
        gap_periods.period_end
    from {{ ref('disclosed_inequality_gaps') }} as gaps
    inner join gap_periods
        on {{ same_values('gap_periods', 'gaps', ['metric_id', 'period_grain', 'period_label']) }}
    where gaps.geography_type in ('neighbourhood', 'place', 'icb')

),

series as (

    select 'metric_values' as series_source, metric_rows.* from metric_rows
    union all
    select 'inequality_gaps' as series_source, gap_rows.* from gap_rows

),

criterion_scope as (

    select
        scope.neighbourhood_code,
        scope.assessment_period,
        scope.icb_code,
        criteria.criterion_id,
        criteria.rule,
        criteria.metric_id,
        criteria.period_grain,
        criteria.breakdown_type,
        criteria.breakdown_value,
        criteria.geography_level as geography_type,
        case criteria.geography_level
            when 'place' then scope.place_code
            when 'icb' then scope.icb_code
            else scope.neighbourhood_code
        end as geography_code,
        case when criteria.rule = 'gap_narrowing' then 'inequality_gaps' else 'metric_values' end
            as series_source,
        scope.period_end as assessment_end
    from scope
    cross join criteria

),

ranked_latest as (

    select
        criterion_scope.neighbourhood_code,
        criterion_scope.assessment_period,
        criterion_scope.criterion_id,
        series.period_label,
        series.not_calculated_reason,
        series.value,
        series.lower_95,
        series.upper_95,
        series.period_start,
        row_number() over (
            partition by
                criterion_scope.neighbourhood_code,
                criterion_scope.assessment_period,
                criterion_scope.criterion_id
            order by series.period_end desc, series.period_start desc
        ) as recency
    from criterion_scope
    inner join series
        on {{ same_values('series', 'criterion_scope', [
            'series_source', 'metric_id', 'period_grain', 'breakdown_type',
            'breakdown_value', 'geography_type', 'geography_code'
        ]) }}
        and series.period_end <= criterion_scope.assessment_end

),

latest as (

    select * from ranked_latest where recency = 1

),

ranked_prior as (

    select
        criterion_scope.neighbourhood_code,
        criterion_scope.assessment_period,
        criterion_scope.criterion_id,
        series.period_label,
        series.value,
        series.lower_95,
        series.upper_95,
        row_number() over (
            partition by
                criterion_scope.neighbourhood_code,
                criterion_scope.assessment_period,
                criterion_scope.criterion_id
            order by series.period_end desc, series.period_start desc
        ) as recency
    from criterion_scope
    inner join latest
        on {{ same_values('latest', 'criterion_scope', [
            'neighbourhood_code', 'assessment_period', 'criterion_id'
        ]) }}
    inner join series
        on {{ same_values('series', 'criterion_scope', [
            'series_source', 'metric_id', 'period_grain', 'breakdown_type',
            'breakdown_value', 'geography_type', 'geography_code'
        ]) }}
        and series.period_start <= {{ dbt.dateadd('month', -12, 'latest.period_start') }}
    where criterion_scope.rule in ('improving', 'gap_narrowing')

),

prior_readings as (

    select * from ranked_prior where recency = 1

),

icb_rows as (

    select
        criterion_scope.neighbourhood_code,
        criterion_scope.assessment_period,
        criterion_scope.criterion_id,
        metric_rows.value
    from criterion_scope
    inner join latest
        on {{ same_values('latest', 'criterion_scope', [
            'neighbourhood_code', 'assessment_period', 'criterion_id'
        ]) }}
    inner join metric_rows
        on {{ same_values('metric_rows', 'criterion_scope', [
            'metric_id', 'period_grain', 'breakdown_type', 'breakdown_value'
        ]) }}
        and metric_rows.period_start = latest.period_start
        and metric_rows.geography_type = 'icb'
        and metric_rows.geography_code = criterion_scope.icb_code
    where criterion_scope.rule = 'not_worse_than_icb'

),

spc_points as (

    select
        criterion_scope.neighbourhood_code,
        criterion_scope.assessment_period,
        criterion_scope.criterion_id,
        spc.point_type
    from criterion_scope
    inner join latest
        on {{ same_values('latest', 'criterion_scope', [
            'neighbourhood_code', 'assessment_period', 'criterion_id'
        ]) }}
    inner join {{ ref('disclosed_metric_spc') }} as spc
        on {{ same_values('spc', 'criterion_scope', [
            'metric_id', 'geography_type', 'geography_code', 'breakdown_type',
            'breakdown_value'
        ]) }}
        and spc.period_start = latest.period_start
    where criterion_scope.rule = 'improving'
        and criterion_scope.period_grain = 'month'

)

select
    criterion_scope.neighbourhood_code,
    criterion_scope.assessment_period,
    criterion_scope.criterion_id,
    criterion_scope.rule,
    criterion_scope.metric_id,
    catalogue.title as metric_title,
    catalogue.polarity,
    criterion_scope.period_grain,
    criterion_scope.breakdown_type,
    criterion_scope.breakdown_value,
    criterion_scope.geography_type,
    criterion_scope.geography_code,
    latest.period_label as latest_period_label,
    latest.not_calculated_reason as latest_not_calculated_reason,
    prior_readings.period_label as prior_period_label,
    spc_points.point_type as spc_point_type,
    latest.value as latest_value,
    latest.lower_95 as latest_lower_95,
    latest.upper_95 as latest_upper_95,
    judgements.change_from_year_before,
    prior_readings.value as prior_value,
    prior_readings.lower_95 as prior_lower_95,
    prior_readings.upper_95 as prior_upper_95,
    icb_rows.value as icb_value,
    criterion_scope.assessment_end
from criterion_scope
left join catalogue
    on catalogue.metric_id = criterion_scope.metric_id
left join latest
    on {{ same_values('latest', 'criterion_scope', [
        'neighbourhood_code', 'assessment_period', 'criterion_id'
    ]) }}
left join prior_readings
    on {{ same_values('prior_readings', 'criterion_scope', [
        'neighbourhood_code', 'assessment_period', 'criterion_id'
    ]) }}
left join icb_rows
    on {{ same_values('icb_rows', 'criterion_scope', [
        'neighbourhood_code', 'assessment_period', 'criterion_id'
    ]) }}
left join spc_points
    on {{ same_values('spc_points', 'criterion_scope', [
        'neighbourhood_code', 'assessment_period', 'criterion_id'
    ]) }}
left join {{ ref('metric_judgements') }} as judgements
    on criterion_scope.series_source = 'metric_values'
    and judgements.metric_id = criterion_scope.metric_id
    and judgements.period_grain = criterion_scope.period_grain
    and judgements.period_start = latest.period_start
    and {{ same_values('judgements', 'criterion_scope', [
        'geography_type', 'geography_code', 'breakdown_type', 'breakdown_value'
    ]) }}
