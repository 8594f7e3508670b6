-- metric_values after disclosure control (../shared/spec/metrics.md, "Disclosure control";
-- docs/publication.md, "Values from rounded counts"): one row per metric_values row.
-- Whether a row is withheld is int_disclosure_decisions' decision. A withheld row loses its
-- counts, value, limits and comparison. A shown row's counts of people or events are
-- rounded half up to the nearest var `disclosure_rounding`, and its value and limits are
-- computed again from the rounded counts with the same scoring macros as metric_values
-- (macros/scoring.sql), so no published figure gives the exact counts back.

{% set rounding = var('disclosure_rounding') %}
{% set cell_key = metric_cell_key() %}

with metric_values as (

    select * from {{ ref('metric_values') }}

),

decisions as (

    select * from {{ ref('int_disclosure_decisions') }}

),

catalogue as (

    select
        metric_id,
        method as catalogue_method,
        cast(multiplier as double) as multiplier,
        polarity,
        {{ metric_kind('method', 'source_datasets') }} as kind
    from {{ ref('metric_catalogue') }}

),

aggregated as (

    select * from {{ ref('int_metric_counts_aggregated') }}

),

standard_population as (

    select * from {{ ref('esp2013') }}

),

dsr_metrics as (

    select metric_id, multiplier from catalogue where catalogue_method = 'dsr_dobson'

),

second_moments as (

    -- the sums of squares behind t-means (per-patient values) and weighted survey results
    -- (weights): one row per cell outside the standardised metrics
    select {{ cell_key | join(', ') }}, sum_sq
    from aggregated
    where sum_sq is not null
        and metric_id not in (select metric_id from dsr_metrics)

),

decided as (

    select
        metric_values.*,
        -- a row without a decision is withheld: the safe side
        coalesce(decisions.is_suppressed, true) as is_suppressed,
        decisions.suppression_rule,
        catalogue.kind,
        catalogue.catalogue_method,
        catalogue.multiplier,
        catalogue.polarity,
        second_moments.sum_sq
    from metric_values
    inner join catalogue on metric_values.metric_id = catalogue.metric_id
    left join decisions
        on {{ same_cell('decisions', 'metric_values') }}
    left join second_moments
        on {{ same_cell('second_moments', 'metric_values') }}

),

rounded as (

    -- counts of people or events rounded (docs/disclosure-control.md, "Which columns are
    -- counts"); a mean's numerator (a sum of per-patient indices), money and FTE are not
    select
        decided.*,
        case
            when kind in ('counts', 'weighted_survey')
                then {{ round_half_up('numerator', rounding) }}
            else numerator
        end as shown_numerator,
        case
            when kind in ('counts', 'mean', 'weighted_survey')
                then {{ round_half_up('denominator', rounding) }}
            else denominator
        end as shown_denominator,
        case
            when kind in ('counts', 'mean', 'weighted_survey')
                then {{ round_half_up('unweighted_count', rounding) }}
            else unweighted_count
        end as shown_unweighted_count
    from decided

),

restated as (

    -- the statistics' inputs restated on the rounded counts (each scaled by a ratio of
    -- rounded to exact, which is exactly 1 when nothing is rounded): a mean keeps its value (its
    -- sum and sum of squares scale with the patients); a weighted survey result takes the
    -- rounded weighted positives over the rounded weighted base, on an effective sample
    -- size scaled by rounded over exact respondents (the sum of squared weights chosen so
    -- that the Kish macros give exactly that)
    select
        rounded.*,
        case
            when kind = 'mean' and denominator > 0
                then numerator * (shown_denominator / denominator)
            else shown_numerator
        end as stat_numerator,
        case
            when kind = 'mean' and denominator > 0
                then sum_sq * (shown_denominator / denominator)
            when kind = 'weighted_survey' and sum_sq > 0 and denominator > 0
                and unweighted_count > 0 and shown_unweighted_count > 0
                then sum_sq
                    * (shown_denominator / denominator) * (shown_denominator / denominator)
                    * (unweighted_count / shown_unweighted_count)
            else sum_sq
        end as stat_sum_sq
    from rounded

),

to_rescore as (

    select * from restated
    where catalogue_method <> 'dsr_dobson'
        and kind <> 'no_counts'
        and not is_suppressed
        and value is not null

),

rescored as (

    {{ scored_metric_rows(
        'to_rescore', cell_key,
        'catalogue_method', 'stat_numerator', 'shown_denominator', 'stat_sum_sq', 'multiplier',
        'cast(null as double)',
    ) }}

),

dsr_strata as (

    {{ dsr_strata('aggregated', 'dsr_metrics', 'standard_population') }}

),

dsr_shown as (

    select {{ cell_key | join(', ') }}, numerator, denominator, shown_numerator, shown_denominator
    from rounded
    where catalogue_method = 'dsr_dobson'
        and not is_suppressed
        and value is not null
        and numerator > 0
        and denominator > 0

),

dsr_strata_shown as (

    -- each stratum's events and population scaled by rounded over exact totals; the events
    -- are apportioned by rounding their running total, so they stay whole and add up to
    -- the rounded numerator exactly (the 10-event rule and Byar's limits see that count)
    select
        dsr_strata.*,
        floor(
            sum(dsr_strata.events) over stratum_order
            * dsr_shown.shown_numerator / dsr_shown.numerator + 0.5
        ) - floor(
            ((sum(dsr_strata.events) over stratum_order) - dsr_strata.events)
            * dsr_shown.shown_numerator / dsr_shown.numerator + 0.5
        ) as shown_events,
        dsr_strata.population * (dsr_shown.shown_denominator / dsr_shown.denominator)
            as shown_population
    from dsr_strata
    inner join dsr_shown
        on {{ same_cell('dsr_shown', 'dsr_strata') }}
    window stratum_order as (
        partition by {% for key in cell_key %}dsr_strata.{{ key }}{{ ', ' if not loop.last }}{% endfor %}
        order by dsr_strata.age_band
        rows between unbounded preceding and current row
    )

),

dsr_rescored as (

    {{ dsr_scored_rows('dsr_strata_shown', 'shown_events', 'shown_population') }}

),

{% set figures = ['value', 'lower_95', 'upper_95', 'lower_998', 'upper_998', 'method'] %}

recomputed as (

    select {{ (cell_key + figures) | join(', ') }} from rescored
    union all
    select {{ (cell_key + figures) | join(', ') }} from dsr_rescored

),

disclosed as (

    select
        {% for column in metric_row_key() -%}
        rounded.{{ column }},
        {% endfor -%}
        -- the sum behind a mean is not published (metrics.md): the mean, its limits and
        -- the rounded patient count are
        case
            when not rounded.is_suppressed and rounded.kind <> 'mean'
                then rounded.shown_numerator
        end as numerator,
        case when not rounded.is_suppressed then rounded.shown_denominator end as denominator,
        case
            when not rounded.is_suppressed then rounded.shown_unweighted_count
        end as unweighted_count,
        {% for column in ['value', 'lower_95', 'upper_95', 'lower_998', 'upper_998'] %}
        case
            when rounded.is_suppressed then null
            when recomputed.metric_id is not null then recomputed.{{ column }}
            when rounded.kind = 'no_counts' then rounded.{{ column }}
        end as {{ column }},
        {% endfor %}
        -- a withheld row shows its catalogue method: `exact_poisson` would say that the
        -- withheld count is below 10; a shown crude rate's method follows its rounded count
        case
            when rounded.is_suppressed then rounded.catalogue_method
            when recomputed.method is not null then recomputed.method
            when rounded.catalogue_method = 'byars'
                then {{ poisson_method('rounded.shown_numerator') }}
            else rounded.method
        end as method,
        rounded.not_calculated_reason,
        rounded.is_suppressed,
        rounded.suppression_rule,
        rounded.polarity
    from rounded
    left join recomputed
        on {{ same_cell('recomputed', 'rounded') }}

),

compared as (

    -- the comparison made again on published figures: the parent's disclosed value
    -- against the child's disclosed limits; not_compared where either is withheld
    {{ with_parent_value('disclosed') }}

)

select
    {% for column in metric_value_columns() -%}
    {{ column }},
    {% endfor -%}
    case
        when not is_suppressed
            then {{ compare_to_parent('value', 'lower_95', 'upper_95', 'parent_value', 'polarity') }}
    end as comparison_to_parent,
    not_calculated_reason,
    is_suppressed,
    suppression_rule
from compared
