-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

{{ staged(
    'weighted_population',
    {
        'financial_year': 'string',
        'practice_code': 'string',
        'weighted_patients': 'double'
    },
    {
        'weighted_patients': 'exact_sum'
    }
) }}
