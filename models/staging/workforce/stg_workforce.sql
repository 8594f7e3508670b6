-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

{{ staged(
    'workforce',
    {
        'census_date': 'date',
        'practice_code': 'string',
        'pcn_code': 'string',
        'staff_group': 'string',
        'role': 'string',
        'is_arrs_funded': 'boolean',
        'fte': 'double',
        'headcount': 'bigint'
    },
    {
        'fte': 'exact_sum',
        'headcount': 'sum'
    }
) }}
