{#- Directly standardised rate with Dobson limits, as PHEindicatormethods phe_dsr computes
    it. Aggregate expressions: use them in a GROUP BY whose groups each hold one row per
    stratum of the standard population (the 19 ESP2013 age bands), zero-filled.

    DSR = sum(w_i O_i / n_i) / sum(w_i) * multiplier
    var(DSR) = sum(w_i^2 O_i / n_i^2) / (sum w_i)^2 * multiplier^2
    limits = DSR + sqrt(var(DSR) / O) * (O_limit - O), O = sum(O_i), O_limit Byar's limit of O.

    Null (not calculated) when O < 10, and when any stratum has no population (n_i = 0 or
    missing), with or without events: phe_dsr refuses such data ("denominators must all be
    greater than zero"), and counting an empty band as a rate of 0 biases small subgroups
    down. Missing event counts count as 0. -#}

{% macro dsr_value(events, population, standard_population, multiplier) -%}
    {{ return(adapter.dispatch('dsr_value', 'nbhd')(
        events, population, standard_population, multiplier
    )) }}
{%- endmacro %}

{% macro default__dsr_value(events, population, standard_population, multiplier) -%}
    {%- set parts = stats_dsr_parts(events, population, standard_population, multiplier) -%}
    case
        when {{ parts.is_calculable }} then {{ parts.value }}
    end
{%- endmacro %}

{% macro dsr_lower(events, population, standard_population, multiplier, level) -%}
    {{ return(adapter.dispatch('dsr_lower', 'nbhd')(
        events, population, standard_population, multiplier, level
    )) }}
{%- endmacro %}

{% macro default__dsr_lower(events, population, standard_population, multiplier, level) -%}
    {{ stats_dsr_limit(events, population, standard_population, multiplier, level, 'lower') }}
{%- endmacro %}

{% macro dsr_upper(events, population, standard_population, multiplier, level) -%}
    {{ return(adapter.dispatch('dsr_upper', 'nbhd')(
        events, population, standard_population, multiplier, level
    )) }}
{%- endmacro %}

{% macro default__dsr_upper(events, population, standard_population, multiplier, level) -%}
    {{ stats_dsr_limit(events, population, standard_population, multiplier, level, 'upper') }}
{%- endmacro %}

{% macro stats_dsr_limit(events, population, standard_population, multiplier, level, side) -%}
    {%- set parts = stats_dsr_parts(events, population, standard_population, multiplier) -%}
    {%- set observed_limit = byars_lower(parts.total_events, level) if side == 'lower'
        else byars_upper(parts.total_events, level) -%}
    case
        when {{ parts.is_calculable }}
            then {{ parts.value }}
                + sqrt({{ parts.variance }} / {{ parts.total_events }})
                * ({{ observed_limit }} - {{ parts.total_events }})
                * {{ stats_double(multiplier) }}
    end
{%- endmacro %}

{% macro stats_dsr_parts(events, population, standard_population, multiplier) -%}
    {#- The aggregate pieces of a DSR as SQL text: total_events, value, variance (of the
        unscaled DSR, without the multiplier) and the is_calculable condition. -#}
    {%- set observed = stats_double('coalesce(' ~ events ~ ', 0)') -%}
    {%- set people = stats_double(population) -%}
    {%- set weight = stats_double(standard_population) -%}
    {%- set total_events = 'sum(' ~ observed ~ ')' -%}
    {#- the strata's rates are non-whole: summed with exact_sum, the same in every build -#}
    {%- set weighted_rate -%}
        {{ exact_sum(
            'case when ' ~ people ~ ' > 0 then ' ~ observed ~ ' * ' ~ weight ~ ' / ' ~ people
            ~ ' else 0 end'
        ) }}
    {%- endset -%}
    {%- set weighted_variance -%}
        {{ exact_sum(
            'case when ' ~ people ~ ' > 0 then ' ~ observed ~ ' * (' ~ weight ~ ' / ' ~ people
            ~ ') * (' ~ weight ~ ' / ' ~ people ~ ') else 0 end'
        ) }}
    {%- endset -%}
    {%- set is_calculable -%}
        {{ total_events }} >= 10
        and sum(case when coalesce({{ people }}, 0) > 0 then 0 else 1 end) = 0
    {%- endset -%}
    {{ return({
        'total_events': total_events,
        'value': weighted_rate ~ ' / sum(' ~ weight ~ ') * ' ~ stats_double(multiplier),
        'variance': weighted_variance ~ ' / (sum(' ~ weight ~ ') * sum(' ~ weight ~ '))',
        'is_calculable': is_calculable,
    }) }}
{%- endmacro %}
