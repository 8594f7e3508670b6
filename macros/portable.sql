{#- Portable pieces dbt's cross-database macros lack, each with a default (DuckDB, Postgres)
    and a Spark implementation (dbt-spark, dbt-databricks). docs/architecture.md, "Engines". -#}

{% macro ordered_listagg(measure, delimiter_text, order_by) -%}
    {#- Text of `measure` over a group, joined by `delimiter_text` in the order of the
        expression `order_by` (then `measure`). dbt.listagg ignores the order on Spark. -#}
    {{ return(adapter.dispatch('ordered_listagg', 'nbhd')(measure, delimiter_text, order_by)) }}
{%- endmacro %}

{% macro default__ordered_listagg(measure, delimiter_text, order_by) -%}
    {{ dbt.listagg(measure, delimiter_text, 'order by ' ~ order_by ~ ', ' ~ measure) }}
{%- endmacro %}

{% macro spark__ordered_listagg(measure, delimiter_text, order_by) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct('sort_key', {{ order_by }}, 'item', {{ measure }}))),
            entry -> entry.item
        ),
        {{ delimiter_text }}
    )
{%- endmacro %}

{% macro split_part_at(string_text, delimiter, position) -%}
    {#- The `position`th (1-based, a SQL expression) part of `string_text` split on the single
        character `delimiter` (a Python string); empty or null past the last part. -#}
    {{ return(adapter.dispatch('split_part_at', 'nbhd')(string_text, delimiter, position)) }}
{%- endmacro %}

{% macro default__split_part_at(string_text, delimiter, position) -%}
    {{ dbt.split_part(string_text, "'" ~ delimiter ~ "'", position) }}
{%- endmacro %}

{% macro spark__split_part_at(string_text, delimiter, position) -%}
    {#- Spark's split takes a regular expression: the delimiter is escaped. -#}
    element_at(split({{ string_text }}, '\\{{ delimiter }}'), {{ position }})
{%- endmacro %}
