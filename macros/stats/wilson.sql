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
        and n > 0. At x = n the upper limit is 1 and at x = 0 the lower limit is 0, exactly:
        the formula gives them only to the last bit (z and z^2 are separate literals), and a
        limit of 0.9999999999999997 would judge a 100% value below a 100% parent. -#}
    {%- set x = stats_double(numerator) -%}
    {%- set n = stats_double(denominator) -%}
    {%- set z = z_score(level) -%}
    {%- set z_squared = stats_number(stats_normal_quantile(level) ** 2) -%}
    case
        when {{ n }} > 0 and {{ x }} = {{ n if sign == '+' else 0 }}
            then {{ stats_double(1 if sign == '+' else 0) }}
        when {{ n }} > 0 and {{ x }} >= 0 and {{ x }} <= {{ n }}
            then (
                2 * {{ x }} + {{ z_squared }}
                {{ sign }} {{ z }} * sqrt({{ z_squared }} + 4 * {{ x }} * (1 - {{ x }} / {{ n }}))
            ) / (2 * ({{ n }} + {{ z_squared }}))
    end
{%- endmacro %}
