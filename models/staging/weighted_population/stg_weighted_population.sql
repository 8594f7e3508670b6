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
