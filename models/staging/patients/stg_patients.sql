{{ staged(
    'patients',
    {
        'patient_id': 'string',
        'practice_code': 'string',
        'lsoa_code': 'string',
        'sex': 'string',
        'age_band': 'string',
        'usual_gp_id': 'string',
        'ltc_count': 'integer',
        'frailty': 'string',
        'registered_from': 'date',
        'registered_to': 'date'
    }
) }}
