-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

{{ staged(
    'community_activity',
    {
        'month': 'date',
        'practice_code': 'string',
        'service': 'string',
        'contacts': 'bigint',
        'patients': 'bigint'
    },
    {
        'contacts': 'sum',
        'patients': 'sum'
    }
) }}
