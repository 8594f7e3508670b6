{#- Confidence limits of a Poisson count as PHE publishes crude rates: exact (chi-squared)
    limits below 10 events, from the exact_poisson_limits seed, Byar's from 10. Count scale:
    the caller divides by the denominator and applies the multiplier. -#}

{% macro poisson_count_lower(count, level, exact_limits=none) -%}
    {{ return(adapter.dispatch('poisson_count_lower', 'nbhd')(count, level, exact_limits)) }}
{%- endmacro %}

{% macro default__poisson_count_lower(count, level, exact_limits=none) -%}
    {{ stats_poisson_count_limit(count, level, 'lower', exact_limits) }}
{%- endmacro %}

{% macro poisson_count_upper(count, level, exact_limits=none) -%}
    {{ return(adapter.dispatch('poisson_count_upper', 'nbhd')(count, level, exact_limits)) }}
{%- endmacro %}

{% macro default__poisson_count_upper(count, level, exact_limits=none) -%}
    {{ stats_poisson_count_limit(count, level, 'upper', exact_limits) }}
{%- endmacro %}

{% macro stats_poisson_count_limit(count, level, side, exact_limits=none) -%}
    {#- The seed holds whole counts 0..9, so a count below 10 that is not a whole number has
        no exact limit (null); negative and null counts give null. With `exact_limits`, the
        alias under which the caller has left-joined the exact_poisson_limits seed on
        `poisson_observed = count`, its row is read; without, a scalar subquery finds it,
        which costs a correlated join per call over every row of the caller. -#}
    {%- set observed = '(' ~ count ~ ')' -%}
    {%- set column = 'poisson_' ~ side ~ '_' ~ stats_level_suffix(level) -%}
    case
        when {{ observed }} >= 10 then {{ byars_lower(count, level) if side == 'lower' else byars_upper(count, level) }}
        {%- if exact_limits %}
        when {{ observed }} >= 0 then {{ stats_double(exact_limits ~ '.' ~ column) }}
        {%- else %}
        when {{ observed }} >= 0 then (
            select {{ stats_double('exact_poisson_limits.' ~ column) }}
            from {{ ref('exact_poisson_limits') }} as exact_poisson_limits
            where exact_poisson_limits.poisson_observed = {{ observed }}
        )
        {%- endif %}
    end
{%- endmacro %}

{% macro poisson_method(count) -%}
    {{ return(adapter.dispatch('poisson_method', 'nbhd')(count)) }}
{%- endmacro %}

{% macro default__poisson_method(count) -%}
    {#- Which limits poisson_count_lower / poisson_count_upper give for this count. -#}
    case
        when ({{ count }}) >= 10 then 'byars'
        when ({{ count }}) >= 0 then 'exact_poisson'
    end
{%- endmacro %}
