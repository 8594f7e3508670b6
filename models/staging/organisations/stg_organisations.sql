{{ staged(
    'organisations',
    {
        'practice_code': 'string',
        'practice_name': 'string',
        'pcn_code': 'string',
        'pcn_name': 'string',
        'neighbourhood_code': 'string',
        'neighbourhood_name': 'string',
        'place_code': 'string',
        'place_name': 'string',
        'icb_code': 'string',
        'icb_name': 'string',
        'provider_code': 'string',
        'provider_name': 'string',
        'valid_from': 'date',
        'valid_to': 'date'
    }
) }}
