{#- Shared pieces of the statistical macros: confidence levels, normal quantiles, doubles. -#}

{% macro stats_level_suffix(level) -%}
    {#- '95' or '998' for the two confidence levels the methods publish; anything else is
        a compile error, never a silent default. -#}
    {%- if level is number or level is string -%}
        {%- set percent = level | float(-1) -%}
        {%- if percent == 95 -%}
            {{ return('95') }}
        {%- elif percent == 99.8 -%}
            {{ return('998') }}
        {%- endif -%}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        "confidence level must be 95 or 99.8, got " ~ (level | string)
    ) }}
{%- endmacro %}

{% macro stats_normal_quantile(level) -%}
    {#- The standard normal quantile at (1 + level) / 2 as a number, for compile-time
        arithmetic: qnorm(0.975) and qnorm(0.999) to full double precision. -#}
    {%- set quantiles = {'95': 1.959963984540054, '998': 3.090232306167813} -%}
    {{ return(quantiles[stats_level_suffix(level)]) }}
{%- endmacro %}

{% macro stats_double(expression) -%}
    {{ return(adapter.dispatch('stats_double', 'nbhd')(expression)) }}
{%- endmacro %}

{% macro default__stats_double(expression) -%}
    cast({{ expression }} as double precision)
{%- endmacro %}

{% macro spark__stats_double(expression) -%}
    cast({{ expression }} as double)
{%- endmacro %}

{% macro bigquery__stats_double(expression) -%}
    cast({{ expression }} as float64)
{%- endmacro %}

{% macro stats_number(value) -%}
    {#- A compile-time number as a double literal, written with its shortest exact text. -#}
    {{ stats_double(value | float | string) }}
{%- endmacro %}
