{#- Scoring a metric row: which statistic of macros/stats applies to a row's counts. Called
    by metric_values (on the exact counts) and disclosed_metric_values (on the rounded
    counts), so the two marts compute every value and limit the same way. -#}

{% macro metric_cell_key() -%}
    {#- The columns that name one cell of metric_values and disclosed_metric_values (CELL_KEY
        in metrics_cli/disclosure.py). -#}
    {{ return([
        'metric_id', 'period_grain', 'period_start', 'geography_type', 'geography_code',
        'breakdown_type', 'breakdown_value',
    ]) }}
{%- endmacro %}

{% macro metric_row_key() -%}
    {#- A cell's key with its period's end and label, in the marts' column order. -#}
    {{ return([
        'metric_id', 'period_grain', 'period_start', 'period_end', 'period_label',
        'geography_type', 'geography_code', 'breakdown_type', 'breakdown_value',
    ]) }}
{%- endmacro %}

{% macro metric_value_columns() -%}
    {#- The columns metric_values and disclosed_metric_values share, in order, up to the
        method: the row key, counts, value and limits. -#}
    {{ return(metric_row_key() + [
        'numerator', 'denominator', 'unweighted_count',
        'value', 'lower_95', 'upper_95', 'lower_998', 'upper_998', 'method',
    ]) }}
{%- endmacro %}

{% macro same_cell(left, right) -%}
    {#- The join condition of two relations on the cell key (metric_cell_key). -#}
    {%- for key in metric_cell_key() %}
    {{ 'and ' if not loop.first }}{{ left }}.{{ key }} = {{ right }}.{{ key }}
    {%- endfor %}
{%- endmacro %}

{% macro metric_kind(method, source_datasets) -%}
    {#- What a metric's count columns hold (docs/disclosure-control.md, "Which columns are
        counts"): `no_counts` without a source dataset of people or events, `mean` for
        t-means, `weighted_survey` for survey results, else `counts`. The same rule as
        metric_kind in metrics_cli/disclosure.py; a test holds the two equal. -#}
    {%- set person_or_event_datasets = [
        'gp_appointments', 'gp_encounters', 'hospital_activity', 'community_activity',
        'patients', 'prem_responses',
    ] -%}
    {%- set sources = "('|' || " ~ source_datasets ~ " || '|')" -%}
    case
        when not (
            {%- for dataset in person_or_event_datasets %}
            {{ sources }} like '%|{{ dataset }}|%'{{ ' or' if not loop.last }}
            {%- endfor %}
        ) then 'no_counts'
        when {{ method }} = 't_mean' then 'mean'
        when {{ sources }} like '%|prem_responses|%' then 'weighted_survey'
        else 'counts'
    end
{%- endmacro %}

{% macro kish_effective_n(method, denominator, sum_sq) -%}
    {#- The Wilson `n` of a row: the Kish effective sample size (sum w)^2 / sum w^2 of a
        weighted survey row (sum_sq > 0), else the denominator. -#}
    case
        when {{ method }} = 'wilson' and {{ sum_sq }} > 0
            then {{ denominator }} * {{ denominator }} / {{ sum_sq }}
        else {{ denominator }}
    end
{%- endmacro %}

{% macro kish_effective_x(method, numerator, denominator, sum_sq) -%}
    {#- The Wilson `x` of a row: p * n_eff for a weighted survey row, else the numerator. -#}
    case
        when {{ method }} = 'wilson' and {{ sum_sq }} > 0 and {{ denominator }} > 0
            then {{ numerator }} / {{ denominator }}
                * ({{ denominator }} * {{ denominator }} / {{ sum_sq }})
        else {{ numerator }}
    end
{%- endmacro %}

{% macro metric_scores(method, numerator, denominator, sum_sq, multiplier, given_value,
    wilson_x, wilson_n, exact_limits=none, t_quantiles=none) -%}
    {#- The select-list fragment `value, lower_95, upper_95, lower_998, upper_998, method`
        of a row that is not directly standardised: Wilson (on wilson_x of wilson_n), Byar's
        or exact Poisson by the count, t-distribution mean, or none; a value given by the
        geography-level model (given_value) is kept. `method` is the catalogue method. A
        row without a denominator has a value only where the method is none (an amount such
        as the funding gap, the numerator times the multiplier): a rate without its
        denominator has none. -#}
    case
        when {{ given_value }} is not null then {{ given_value }}
        when {{ method }} = 't_mean' then
            case when {{ denominator }} > 0 then {{ numerator }} / {{ denominator }} end
        when {{ denominator }} is null and {{ method }} = 'none'
            then {{ numerator }} * {{ multiplier }}
        when {{ denominator }} > 0 then {{ numerator }} / {{ denominator }} * {{ multiplier }}
    end as value,
    {% for level, suffix in [(95, '95'), (99.8, '998')] %}
    case
        when {{ method }} = 'wilson' and {{ wilson_n }} > 0
            then {{ wilson_lower(wilson_x, wilson_n, level) }} * {{ multiplier }}
        when {{ method }} = 'byars' and {{ denominator }} > 0
            then {{ poisson_count_lower(numerator, level, exact_limits) }} / {{ denominator }} * {{ multiplier }}
        when {{ method }} = 't_mean'
            then {{ t_mean_lower(numerator, sum_sq, denominator, level, t_quantiles) }}
    end as lower_{{ suffix }},
    case
        when {{ method }} = 'wilson' and {{ wilson_n }} > 0
            then {{ wilson_upper(wilson_x, wilson_n, level) }} * {{ multiplier }}
        when {{ method }} = 'byars' and {{ denominator }} > 0
            then {{ poisson_count_upper(numerator, level, exact_limits) }} / {{ denominator }} * {{ multiplier }}
        when {{ method }} = 't_mean'
            then {{ t_mean_upper(numerator, sum_sq, denominator, level, t_quantiles) }}
    end as upper_{{ suffix }},
    {% endfor %}
    case
        when {{ method }} = 'byars' then {{ poisson_method(numerator) }}
        else {{ method }}
    end as method
{%- endmacro %}

{% macro scored_metric_rows(relation, columns, method, numerator, denominator, sum_sq,
    multiplier, given_value) -%}
    {#- A select of `columns` of every row of `relation`, then metric_scores' value, limits
        and method, its Wilson x and n the Kish effective ones of a weighted survey row. The
        other arguments name columns of `relation`, as metric_scores'. The tabulated exact
        Poisson limits and t quantiles are joined to the rows once, by count and by degrees
        of freedom (their columns are prefixed, so no name of `relation` is shadowed),
        rather than looked up by a scalar subquery per limit, which the engine runs as a
        correlated join over every row: eight per model. -#}
    select
        {% for column in columns %}{{ column }},
        {% endfor -%}
        {{ metric_scores(
            method, numerator, denominator, sum_sq, multiplier, given_value,
            'wilson_x', 'wilson_n',
            exact_limits='exact_poisson_limits', t_quantiles='t_distribution_quantiles'
        ) }}
    from (
        select
            {{ relation }}.*,
            {{ kish_effective_n(method, denominator, sum_sq) }} as wilson_n,
            {{ kish_effective_x(method, numerator, denominator, sum_sq) }} as wilson_x
        from {{ relation }}
    ) as with_kish
    left join {{ ref('exact_poisson_limits') }} as exact_poisson_limits
        on exact_poisson_limits.poisson_observed = with_kish.{{ numerator }}
    left join {{ ref('t_distribution_quantiles') }} as t_distribution_quantiles
        on t_distribution_quantiles.t_degrees_of_freedom = with_kish.{{ denominator }} - 1
{%- endmacro %}

{% macro dsr_scores(events, population, standard_population, multiplier) -%}
    {#- The select-list fragment `value, lower_95, upper_95, lower_998, upper_998` of a
        directly standardised rate: aggregates over a group holding one row per stratum of
        the standard population (dsr_strata), Dobson limits. -#}
    {{ dsr_value(events, population, standard_population, multiplier) }} as value,
    {% for level, suffix in [(95, '95'), (99.8, '998')] %}
    {{ dsr_lower(events, population, standard_population, multiplier, level) }}
        as lower_{{ suffix }},
    {{ dsr_upper(events, population, standard_population, multiplier, level) }}
        as upper_{{ suffix }}{{ ',' if not loop.last }}
    {% endfor %}
{%- endmacro %}

{% macro dsr_strata(aggregated, dsr_metrics, standard_population) -%}
    {#- A select of every directly standardised group of `aggregated` (metric_id and
        multiplier from `dsr_metrics`) with all 19 ESP2013 bands, zero-filled, so the
        standard population total is always the full 100,000: the group keys, multiplier,
        age_band, standard_population, events, population and unweighted_count. -#}
    {%- set keys = ['metric_id', 'period_grain', 'period_start', 'period_end', 'period_label',
        'geography_type', 'geography_code', 'breakdown_type', 'breakdown_value'] -%}
    with dsr_groups as (
        select distinct
            {%- for key in keys %}
            {{ aggregated }}.{{ key }},
            {%- endfor %}
            {{ dsr_metrics }}.multiplier
        from {{ aggregated }}
        inner join {{ dsr_metrics }} on {{ aggregated }}.metric_id = {{ dsr_metrics }}.metric_id
    )
    select
        dsr_groups.*,
        {{ standard_population }}.age_band,
        {{ standard_population }}.standard_population,
        coalesce({{ aggregated }}.numerator, 0) as events,
        coalesce({{ aggregated }}.denominator, 0) as population,
        coalesce({{ aggregated }}.unweighted_count, 0) as unweighted_count
    from dsr_groups
    cross join {{ standard_population }}
    left join {{ aggregated }}
        on {{ aggregated }}.metric_id = dsr_groups.metric_id
        and {{ aggregated }}.period_grain = dsr_groups.period_grain
        and {{ aggregated }}.period_start = dsr_groups.period_start
        and {{ aggregated }}.geography_type = dsr_groups.geography_type
        and {{ aggregated }}.geography_code = dsr_groups.geography_code
        and {{ aggregated }}.breakdown_type = dsr_groups.breakdown_type
        and {{ aggregated }}.breakdown_value = dsr_groups.breakdown_value
        and {{ aggregated }}.stratum = {{ standard_population }}.age_band
{%- endmacro %}

{% macro dsr_scored_rows(strata, events, population) -%}
    {#- A select of one row per directly standardised group of `strata` (shaped as
        dsr_strata's, one row per stratum): the row key, numerator (the events), denominator
        (the population), unweighted_count, value and Dobson limits, method `dsr_dobson`
        and not_calculated_reason. `events` and `population` name the strata's columns. -#}
    {%- set row_key = metric_row_key() | join(', ') -%}
    select
        rates.*,
        {{ dsr_not_calculated_reason('rates.numerator', 'rates.denominator', 'rates.value') }}
            as not_calculated_reason
    from (
        select
            {{ row_key }},
            sum({{ events }}) as numerator,
            {{ exact_sum(population) }} as denominator,
            sum(unweighted_count) as unweighted_count,
            {{ dsr_scores(events, population, 'standard_population', 'multiplier') }},
            'dsr_dobson' as method
        from {{ strata }}
        group by {{ row_key }}, multiplier
    ) as rates
{%- endmacro %}

{% macro with_parent_value(rows) -%}
    {#- A select of every row of `rows` (a CTE shaped as metric_values) with parent_value,
        the value of the same metric, period and breakdown at the geography's parent
        (int_geography_parents); null where there is no parent row. -#}
    select
        child.*,
        parent.value as parent_value
    from {{ rows }} as child
    left join {{ ref('int_geography_parents') }} as parents
        on child.period_end = parents.period_end
        and child.geography_type = parents.geography_type
        and child.geography_code = parents.geography_code
    left join {{ rows }} as parent
        on parent.metric_id = child.metric_id
        and parent.period_grain = child.period_grain
        and parent.period_start = child.period_start
        and parent.geography_type = parents.parent_type
        and parent.geography_code = parents.parent_code
        and parent.breakdown_type = child.breakdown_type
        and parent.breakdown_value = child.breakdown_value
{%- endmacro %}

{% macro dsr_not_calculated_reason(numerator, denominator, value) -%}
    {#- Why a directly standardised rate has no value (metrics.md: not below 10 events; as
        phe_dsr, not where an age band has no population). -#}
    case
        when {{ numerator }} < 10 then 'fewer than 10 events'
        when not {{ denominator }} > 0 then 'no registered patients'
        when {{ value }} is null then 'an age band with no registered patients'
    end
{%- endmacro %}

{% macro round_half_up(expression, base) -%}
    {#- Half up to the nearest multiple of `base` (a compile-time whole number), as
        round_to_base in metrics_cli/disclosure.py: 223 -> 225, 12.5 -> 15, 12 -> 10 with
        base 5. Base 1 means no rounding (metrics.md: `disclosure_rounding = 1` publishes
        exact values), so a mean population such as 1234.6 stays as it is. -#}
    {%- set step = base | int(0) -%}
    {%- if step < 1 -%}
        {{ exceptions.raise_compiler_error(
            "disclosure_rounding must be a whole number of at least 1, got " ~ base
        ) }}
    {%- elif step == 1 -%}
        {{ stats_double(expression) }}
    {%- else -%}
        (floor({{ stats_double(expression) }} / {{ step }} + 0.5) * {{ step }})
    {%- endif -%}
{%- endmacro %}
