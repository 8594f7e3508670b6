{% macro z_score(level) -%}
    {{ return(adapter.dispatch('z_score', 'nbhd')(level)) }}
{%- endmacro %}

{% macro default__z_score(level) -%}
    {#- The two-sided critical value of the standard normal at level (95 or 99.8) as a
        double: 1.959963984540054 or 3.090232306167813. -#}
    {{ stats_number(stats_normal_quantile(level)) }}
{%- endmacro %}
