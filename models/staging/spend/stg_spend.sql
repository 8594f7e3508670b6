-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

{{ staged(
    'spend',
    {
        'financial_year': 'string',
        'org_type': 'string',
        'org_code': 'string',
        'spend_category': 'string',
        'amount_gbp': 'double'
    },
    {
        'amount_gbp': 'exact_sum'
    }
) }}
