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

{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {#- dbt.dateadd on Spark for the dates this project adds to: a date, by Spark's own
        add_months and date_add. dbt-spark's version goes through unix timestamps and
        repeats its argument five times, so the nested date arithmetic of the period
        macros grew into plans Spark ran out of memory analysing. -#}
    {%- if datepart in ['day', 'week'] -%}
        date_add(cast({{ from_date_or_timestamp }} as date), cast({{ interval }} * {{ 7 if datepart == 'week' else 1 }} as int))
    {%- elif datepart in ['month', 'quarter', 'year'] -%}
        add_months(cast({{ from_date_or_timestamp }} as date), cast({{ interval }} * {{ {'month': 1, 'quarter': 3, 'year': 12}[datepart] }} as int))
    {%- else -%}
        {{ exceptions.raise_compiler_error("dateadd by " ~ datepart ~ " is not used in this project on Spark") }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__load_csv_rows(model, agate_table) -%}
    {#- Seeds on Spark with every value written as a quoted, escaped literal. dbt-spark's
        session method puts seed values into the SQL unquoted-within-quotes (`'{value}'`),
        so a value holding an apostrophe broke the statement, and an empty cell became
        the text 'None'. -#}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
            ({%- for col_name in agate_table.column_names -%}
                {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                {%- set value = row[loop.index0] -%}
                {%- if value is none -%}
                cast(null as {{ type }})
                {%- else -%}
                cast('{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                {%- endif -%}
                {{ ', ' if not loop.last }}
            {%- endfor -%}){{ ',' if not loop.last }}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{%- endmacro %}

{% macro sequence_window(window_name, group_columns, order_columns) -%}
    {#- A named window (a WINDOW clause) that puts each group's rows (`group_columns`, never
        null) in the order of `order_columns`, for `previous_in_sequence`. By default one
        order over all rows, groups first: on DuckDB, sorting 150 million encounters in
        millions of small partitions took 2.3 times as long (453 against 206 CPU-seconds).
        On DuckDB that order is cut into 64 partitions by a hash of the group columns, so
        each group stays whole in one (159 million encounters: 144 against 220
        CPU-seconds). On Spark a partition per group, since a window without one gathers
        every row on one worker. -#}
    {{ return(adapter.dispatch('sequence_window', 'nbhd')(window_name, group_columns, order_columns)) }}
{%- endmacro %}

{% macro default__sequence_window(window_name, group_columns, order_columns) -%}
    window {{ window_name }} as (order by {{ (group_columns + order_columns) | join(', ') }})
{%- endmacro %}

{% macro duckdb__sequence_window(window_name, group_columns, order_columns) -%}
    {#- the default's single order, in 64 parts that are sorted apart: a group's rows share
        a hash, so they are in one part and in order there, and the lag equality of
        `previous_in_sequence` finds each group's start whatever else shares its part -#}
    window {{ window_name }} as (
        partition by hash({{ group_columns | join(', ') }}) % 64
        order by {{ (group_columns + order_columns) | join(', ') }}
    )
{%- endmacro %}

{% macro spark__sequence_window(window_name, group_columns, order_columns) -%}
    window {{ window_name }} as (
        partition by {{ group_columns | join(', ') }} order by {{ order_columns | join(', ') }}
    )
{%- endmacro %}

{% macro previous_in_sequence(column, window_name, group_columns) -%}
    {#- `column` of the row before this one in its group, in the order of the window
        `window_name` made by `sequence_window` with the same `group_columns`; null on a
        group's first row. -#}
    {{ return(adapter.dispatch('previous_in_sequence', 'nbhd')(column, window_name, group_columns)) }}
{%- endmacro %}

{% macro default__previous_in_sequence(column, window_name, group_columns) -%}
    {#- one order over all rows (or over each of DuckDB's parts): the row before is in the
        same group when its group columns are equal -#}
    case when
        {%- for group_column in group_columns %}
        lag({{ group_column }}) over {{ window_name }} = {{ group_column }}{{ ' and' if not loop.last }}
        {%- endfor %}
        then lag({{ column }}) over {{ window_name }}
    end
{%- endmacro %}

{% macro spark__previous_in_sequence(column, window_name, group_columns) -%}
    lag({{ column }}) over {{ window_name }}
{%- endmacro %}
