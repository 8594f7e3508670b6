-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

{{ staged(
    'practice_payments',
    {
        'financial_year': 'string',
        'practice_code': 'string',
        'payment_category': 'string',
        'amount_gbp': 'double'
    },
    {
        'amount_gbp': 'exact_sum'
    }
) }}
