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
