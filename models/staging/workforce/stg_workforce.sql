{{ staged(
    'workforce',
    {
        'census_date': 'date',
        'practice_code': 'string',
        'pcn_code': 'string',
        'staff_group': 'string',
        'role': 'string',
        'is_arrs_funded': 'boolean',
        'fte': 'double',
        'headcount': 'bigint'
    },
    {
        'fte': 'exact_sum',
        'headcount': 'sum'
    }
) }}
