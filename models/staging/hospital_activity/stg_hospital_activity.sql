-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it (three do; 89 million rows nationally).
{{ config(materialized='table') }}

{{ staged(
    'hospital_activity',
    {
        'month': 'date',
        'practice_code': 'string',
        'lsoa_code': 'string',
        'sex': 'string',
        'age_band': 'string',
        'activity_type': 'string',
        'acsc_category': 'string',
        'events': 'bigint',
        'bed_days': 'bigint',
        'cost_gbp': 'double'
    },
    {
        'events': 'sum',
        'bed_days': 'sum',
        'cost_gbp': 'exact_sum'
    }
) }}
