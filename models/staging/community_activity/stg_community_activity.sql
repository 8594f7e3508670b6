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
