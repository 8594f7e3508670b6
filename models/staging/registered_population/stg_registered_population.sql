-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

{{ staged(
    'registered_population',
    {
        'extract_date': 'date',
        'practice_code': 'string',
        'lsoa_code': 'string',
        'sex': 'string',
        'age_band': 'string',
        'patients': 'bigint'
    },
    {
        'patients': 'sum'
    }
) }}
