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
