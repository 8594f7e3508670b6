{% macro compare_to_parent(value, lower, upper, parent_value, polarity) -%}
    {#- better / similar / worse when the parent value lies outside / inside the 95% limits,
        by the metric's polarity; higher / lower / similar for neutral metrics;
        not_compared without a value, limits or parent (metrics.md, "Methods"). -#}
    case
        when {{ value }} is null or {{ lower }} is null or {{ upper }} is null
            or {{ parent_value }} is null then 'not_compared'
        when {{ parent_value }} >= {{ lower }} and {{ parent_value }} <= {{ upper }} then 'similar'
        when {{ polarity }} = 'neutral' then
            case when {{ lower }} > {{ parent_value }} then 'higher' else 'lower' end
        when ({{ lower }} > {{ parent_value }}) = ({{ polarity }} = 'higher_is_better') then 'better'
        else 'worse'
    end
{%- endmacro %}
