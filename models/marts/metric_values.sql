-- One row per metric, period, geography and breakdown, with the statistic the catalogue
-- names: Wilson (Kish effective sample size for weighted survey rows), Byar's / exact
-- Poisson, DSR with Dobson limits, t-distribution means, or none. Every formula is a macro
-- in macros/stats; this model only chooses which applies.

{% set geography_level = [
    ('int_frequent_attender_concentration', false),
    ('int_workforce_metric_values', true),
    ('int_spend_metric_values', true),
] %}

with catalogue as (

    select * from {{ ref('metric_catalogue') }}

),

aggregated as (

    select * from {{ ref('int_metric_counts_aggregated') }}

),

standard_population as (

    select * from {{ ref('esp2013') }}

),

dsr_metrics as (

    select metric_id, multiplier from catalogue where method = 'dsr_dobson'

),

dsr_strata as (

    -- all 19 ESP2013 bands for every group, zero-filled: the standard population total is
    -- always the full 100,000
    {{ dsr_strata('aggregated', 'dsr_metrics', 'standard_population') }}

),

standardised as (

    select
        metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        sum(events) as numerator,
        {{ exact_sum('population') }} as denominator,
        sum(unweighted_count) as unweighted_count,
        {{ dsr_scores('events', 'population', 'standard_population', 'multiplier') }}
    from dsr_strata
    group by
        metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        multiplier

),

counted as (

    -- everything that is not standardised, with its catalogue method and multiplier
    select
        aggregated.metric_id,
        aggregated.period_grain,
        aggregated.period_start,
        aggregated.period_end,
        aggregated.period_label,
        aggregated.geography_type,
        aggregated.geography_code,
        aggregated.breakdown_type,
        aggregated.breakdown_value,
        aggregated.numerator,
        aggregated.denominator,
        aggregated.unweighted_count,
        aggregated.sum_sq,
        cast(null as double) as given_value
    from aggregated
    where aggregated.metric_id not in (select metric_id from dsr_metrics)
        -- the rebalancing total is a system measure: reported at icb, place and all only
        and (
            aggregated.metric_id <> 'funding_rebalancing_total'
            or aggregated.geography_type in ('icb', 'place', 'all')
        )

    {% for model, has_value in geography_level %}
    union all
    select
        metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        numerator,
        denominator,
        unweighted_count,
        cast(null as double) as sum_sq,
        {% if has_value %}value{% else %}cast(null as double){% endif %} as given_value
    from {{ ref(model) }}
    {% endfor %}

),

with_method as (

    select
        counted.*,
        catalogue.method as catalogue_method,
        cast(catalogue.multiplier as double) as multiplier,
        -- the Kish effective sample size of weighted survey rows: (sum w)^2 / sum w^2
        {{ kish_effective_n('catalogue.method', 'counted.denominator', 'counted.sum_sq') }}
            as wilson_n,
        {{ kish_effective_x(
            'catalogue.method', 'counted.numerator', 'counted.denominator', 'counted.sum_sq'
        ) }} as wilson_x
    from counted
    inner join catalogue on counted.metric_id = catalogue.metric_id

),

scored as (

    select
        metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        numerator,
        denominator,
        unweighted_count,
        {{ metric_scores(
            'catalogue_method', 'numerator', 'denominator', 'sum_sq', 'multiplier',
            'given_value', 'wilson_x', 'wilson_n'
        ) }},
        case
            when given_value is not null then null
            when denominator = 0 then 'denominator is zero'
            when catalogue_method <> 'none' and denominator is null then 'no denominator'
        end as not_calculated_reason
    from with_method

),

dsr_rows as (

    select
        metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        numerator,
        denominator,
        unweighted_count,
        value,
        lower_95,
        upper_95,
        lower_998,
        upper_998,
        'dsr_dobson' as method,
        {{ dsr_not_calculated_reason('numerator', 'value') }} as not_calculated_reason
    from standardised

),

all_rows as (

    select * from scored
    union all
    select * from dsr_rows

),

parents as (

    select * from {{ ref('int_geography_parents') }}

),

compared as (

    select
        child.*,
        parent.value as parent_value,
        catalogue.polarity
    from all_rows as child
    inner join catalogue on child.metric_id = catalogue.metric_id
    left join parents
        on child.period_end = parents.period_end
        and child.geography_type = parents.geography_type
        and child.geography_code = parents.geography_code
    left join all_rows as parent
        on parent.metric_id = child.metric_id
        and parent.period_grain = child.period_grain
        and parent.period_start = child.period_start
        and parent.geography_type = parents.parent_type
        and parent.geography_code = parents.parent_code
        and parent.breakdown_type = child.breakdown_type
        and parent.breakdown_value = child.breakdown_value

)

select
    metric_id,
    period_grain,
    period_start,
    period_end,
    period_label,
    geography_type,
    geography_code,
    breakdown_type,
    breakdown_value,
    numerator,
    denominator,
    unweighted_count,
    value,
    lower_95,
    upper_95,
    lower_998,
    upper_998,
    method,
    {{ compare_to_parent('value', 'lower_95', 'upper_95', 'parent_value', 'polarity') }}
        as comparison_to_parent,
    not_calculated_reason
from compared
