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
