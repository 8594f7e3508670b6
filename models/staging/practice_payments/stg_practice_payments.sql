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
