-- One row per metric, period, geography and breakdown, with the statistic the catalogue
-- names: Wilson (Kish effective sample size for weighted survey rows), Byar's / exact
-- Poisson, DSR with Dobson limits, t-distribution means, or none. Every formula is a macro
-- in macros/stats, applied by macros/scoring.sql as in disclosed_metric_values; this model
-- only chooses which applies.

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

    {{ dsr_scored_rows('dsr_strata', 'events', 'population') }}

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
        case
            when counted.given_value is not null then null
            when counted.denominator = 0 then 'denominator is zero'
            when catalogue.method <> 'none' and counted.denominator is null then
                case
                    when catalogue.source_datasets like '%registered_population%'
                        then 'no registered patients'
                    else 'no denominator'
                end
        end as not_calculated_reason
    from counted
    inner join catalogue on counted.metric_id = catalogue.metric_id

),

scored as (

    -- the statistic the catalogue names; weighted survey rows on their Kish effective
    -- sample size, (sum w)^2 / sum w^2
    {{ scored_metric_rows(
        'with_method',
        metric_row_key() + ['numerator', 'denominator', 'unweighted_count', 'not_calculated_reason'],
        'catalogue_method', 'numerator', 'denominator', 'sum_sq', 'multiplier', 'given_value',
    ) }}

),

{% set columns = metric_value_columns() + ['not_calculated_reason'] %}

all_rows as (

    select {{ columns | join(', ') }} from scored
    union all
    select {{ columns | join(', ') }} from standardised

),

compared as (

    {{ with_parent_value('all_rows') }}

)

select
    {% for column in metric_value_columns() -%}
    compared.{{ column }},
    {% endfor -%}
    {{ compare_to_parent(
        'compared.value', 'compared.lower_95', 'compared.upper_95', 'compared.parent_value',
        'catalogue.polarity',
    ) }} as comparison_to_parent,
    compared.not_calculated_reason
from compared
inner join catalogue on compared.metric_id = catalogue.metric_id
