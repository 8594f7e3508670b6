{#- Byar's approximation to the confidence limits of a Poisson count (Breslow and Day 1987),
    on the count scale; the caller divides by the denominator and applies the multiplier. -#}

{% macro byars_lower(count, level) -%}
    {{ return(adapter.dispatch('byars_lower', 'nbhd')(count, level)) }}
{%- endmacro %}

{% macro default__byars_lower(count, level) -%}
    {#- O (1 - 1/(9 O) - z/(3 sqrt O))^3; null for a count of 0 or below, and where the
        bracket is not positive (tiny counts at 99.8%), as PHEindicatormethods does. -#}
    {%- set observed = stats_double(count) -%}
    {%- set bracket -%}
        (1 - 1 / (9 * {{ observed }}) - {{ z_score(level) }} / (3 * sqrt({{ observed }})))
    {%- endset -%}
    case
        when {{ observed }} is null or {{ observed }} <= 0 then null
        when {{ bracket }} > 0 then {{ observed }} * power({{ bracket }}, 3)
    end
{%- endmacro %}

{% macro byars_upper(count, level) -%}
    {{ return(adapter.dispatch('byars_upper', 'nbhd')(count, level)) }}
{%- endmacro %}

{% macro default__byars_upper(count, level) -%}
    {#- (O + 1) (1 - 1/(9 (O + 1)) + z/(3 sqrt(O + 1)))^3; null for a negative count. -#}
    {%- set next_count = '(' ~ stats_double(count) ~ ' + 1)' -%}
    case
        when {{ stats_double(count) }} >= 0
            then {{ next_count }} * power(
                1 - 1 / (9 * {{ next_count }}) + {{ z_score(level) }} / (3 * sqrt({{ next_count }})),
                3
            )
    end
{%- endmacro %}
