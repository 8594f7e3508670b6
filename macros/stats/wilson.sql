{#- Wilson score interval of a proportion (Wilson 1927; Newcombe and Altman 2000), on the
    proportion scale 0-1; the caller multiplies by the metric's multiplier. -#}

{% macro wilson_lower(numerator, denominator, level) -%}
    {{ return(adapter.dispatch('wilson_lower', 'nbhd')(numerator, denominator, level)) }}
{%- endmacro %}

{% macro default__wilson_lower(numerator, denominator, level) -%}
    {{ stats_wilson_limit(numerator, denominator, level, '-') }}
{%- endmacro %}

{% macro wilson_upper(numerator, denominator, level) -%}
    {{ return(adapter.dispatch('wilson_upper', 'nbhd')(numerator, denominator, level)) }}
{%- endmacro %}

{% macro default__wilson_upper(numerator, denominator, level) -%}
    {{ stats_wilson_limit(numerator, denominator, level, '+') }}
{%- endmacro %}

{% macro stats_wilson_limit(numerator, denominator, level, sign) -%}
    {#- (2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2)); null unless 0 <= x <= n
        and n > 0. -#}
    {%- set x = stats_double(numerator) -%}
    {%- set n = stats_double(denominator) -%}
    {%- set z = z_score(level) -%}
    {%- set z_squared = stats_number(stats_normal_quantile(level) ** 2) -%}
    case
        when {{ n }} > 0 and {{ x }} >= 0 and {{ x }} <= {{ n }}
            then (
                2 * {{ x }} + {{ z_squared }}
                {{ sign }} {{ z }} * sqrt({{ z_squared }} + 4 * {{ x }} * (1 - {{ x }} / {{ n }}))
            ) / (2 * ({{ n }} + {{ z_squared }}))
    end
{%- endmacro %}
