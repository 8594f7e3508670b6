{#- Period helpers: every model labels and bounds periods through these, never by hand. -#}

{% macro month_spine(start_month, end_month) -%}
    {#- One row per first-of-month from start_month to end_month inclusive (portable: no
        generate_series). Both arguments are SQL expressions giving dates. -#}
    {%- set digits -%}
        (select 0 as d union all select 1 union all select 2 union all select 3
         union all select 4 union all select 5 union all select 6 union all select 7
         union all select 8 union all select 9)
    {%- endset -%}
    select
        cast({{ dbt.dateadd('month', 'units.d + 10 * tens.d + 100 * hundreds.d', start_month) }} as date) as month
    from {{ digits }} as units
    cross join {{ digits }} as tens
    cross join {{ digits }} as hundreds
    where {{ dbt.dateadd('month', 'units.d + 10 * tens.d + 100 * hundreds.d', start_month) }}
        <= {{ end_month }}
{%- endmacro %}

{% macro month_end(month) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, month)) }} as date)
{%- endmacro %}

{% macro financial_year_start(date_expr) -%}
    {#- 1 April of the financial year containing date_expr. -#}
    cast({{ dbt.dateadd(
        'month',
        '-1 * ((extract(month from ' ~ date_expr ~ ') + 8) % 12)',
        dbt.date_trunc('month', date_expr)
    ) }} as date)
{%- endmacro %}

{% macro financial_year_label(start_date) -%}
    {#- `2024/25` for the financial year starting 2024-04-01. -#}
    {{ dbt.concat([
        "cast(extract(year from " ~ start_date ~ ") as " ~ dbt.type_string() ~ ")",
        "'/'",
        dbt.right("cast(extract(year from " ~ start_date ~ ") + 1 as " ~ dbt.type_string() ~ ")", 2),
    ]) }}
{%- endmacro %}

{% macro financial_year_start_from_label(label) -%}
    {#- 2024-04-01 from `2024/25`. -#}
    cast({{ dbt.concat([dbt.split_part(label, "'/'", 1), "'-04-01'"]) }} as date)
{%- endmacro %}

{% macro month_label(month) -%}
    {#- `2025-03` for a month starting 2025-03-01. -#}
    {{ dbt.concat([
        "cast(extract(year from " ~ month ~ ") as " ~ dbt.type_string() ~ ")",
        "'-'",
        dbt.right("concat('0', cast(extract(month from " ~ month ~ ") as " ~ dbt.type_string() ~ "))", 2),
    ]) }}
{%- endmacro %}

{% macro covered_periods(dataset, grains) -%}
    {#- The periods of the given grains that lie wholly inside `dataset`'s overall month
        range (int_data_months). -#}
    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label
    from {{ ref('int_periods') }} as periods
    inner join {{ ref('int_data_months') }} as data_months
        on data_months.dataset = '{{ dataset }}'
        and periods.period_start >= data_months.first_month
        and periods.period_end <= {{ month_end('data_months.last_month') }}
    where periods.period_grain in ({% for grain in grains %}'{{ grain }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro survey_wave_start(wave) -%}
    {#- A calendar-year wave `2024` starts 2024-01-01; a financial-year wave `2024/25`
        starts 2024-04-01. -#}
    case
        when {{ wave }} like '%/%' then {{ financial_year_start_from_label(wave) }}
        else cast({{ dbt.concat([wave, "'-01-01'"]) }} as date)
    end
{%- endmacro %}

{% macro survey_wave_end(wave) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 12, survey_wave_start(wave))) }} as date)
{%- endmacro %}
