{#- Maturity matrix helpers: where the matrix comes from, assessment period bounds, and how
    numbers read in evidence sentences (docs/maturity.md). -#}

{% macro maturity_matrix_relation(seed_name) -%}
    {#- The shipped seed `seed_name`, or the replacement matrix's file of the same name when
        var maturity_matrix_dir names one: `nbhd build` validates it
        (metrics_cli.maturity.validate_matrix) and loads it into schema raw as text, so
        every engine reads it the same way (source maturity_matrix). -#}
    {%- if var('maturity_matrix_dir') -%}
        {{ return(source('maturity_matrix', seed_name)) }}
    {%- else -%}
        {{ return(ref(seed_name)) }}
    {%- endif -%}
{%- endmacro %}

{% macro maturity_text(column) -%}
    {#- A text column of the matrix, trimmed, with empty text as null. -#}
    nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
{%- endmacro %}

{% macro is_assessment_period(label) -%}
    {#- True for labels shaped like `2025/26 Q2`. -#}
    (
        length({{ label }}) = 10
        and substr({{ label }}, 5, 1) = '/'
        and substr({{ label }}, 8, 2) = ' Q'
        and substr({{ label }}, 10, 1) in ('1', '2', '3', '4')
    )
{%- endmacro %}

{% macro assessment_period_start(label) -%}
    {#- First day of a financial-year quarter: `2025/26 Q2` starts 2025-07-01. -#}
    cast({{ dbt.dateadd(
        'month',
        '3 * (cast(substr(' ~ label ~ ', 10, 1) as integer) - 1)',
        financial_year_start_from_label('substr(' ~ label ~ ', 1, 7)')
    ) }} as date)
{%- endmacro %}

{% macro assessment_period_end(label) -%}
    {#- Last day of a financial-year quarter: `2025/26 Q2` ends 2025-09-30. -#}
    cast({{ dbt.dateadd(
        'day',
        -1,
        dbt.dateadd('month', 3, assessment_period_start(label))
    ) }} as date)
{%- endmacro %}

{% macro maturity_number(expression) -%}
    {#- A value as evidence text: rounded to 2 decimal places. -#}
    cast(round(cast({{ expression }} as double), 2) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro maturity_tolerance(columns) -%}
    {#- How far apart two computed values may be and still count as equal: floating-point
        rounding of sums, 1e-9 relative to the largest magnitude among `columns` (at least
        1e-9 absolute). -#}
    (1e-9 * greatest(1{% for column in columns %}, coalesce(abs({{ column }}), 0){% endfor %}))
{%- endmacro %}
