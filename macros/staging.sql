{#- A staging model: every column of raw.<table> cast to its type ('string' is the
    adapter's string type, dbt.type_string) and, when measures are given, the measures
    summed over the rows that agree on every other column (`sum`, or `exact_sum` for money
    and other decimals), keys first. One statement of the pattern every staging model
    shares, so a model states only its columns. -#}
{% macro staged(table, columns, measures={}) -%}
{%- set typed -%}
    select
    {%- for name, type in columns.items() %}
        cast({{ name }} as {{ dbt.type_string() if type == 'string' else type }}) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ source('raw', table) }}
{%- endset -%}
{%- if not measures -%}
{{ typed }}
{%- else -%}
{%- set keys = columns.keys() | reject('in', measures) | list -%}
with typed as (
{{ typed }}
)

select
{%- for key in keys %}
    {{ key }},
{%- endfor %}
{%- for name, how in measures.items() %}
    {{ exact_sum(name) if how == 'exact_sum' else 'sum(' ~ name ~ ')' }} as {{ name }}{{ ',' if not loop.last }}
{%- endfor %}
from typed
group by {{ keys | join(', ') }}
{%- endif -%}
{%- endmacro %}
