{{ staged(
    'gp_encounters',
    {
        'encounter_id': 'string',
        'encounter_date': 'date',
        'practice_code': 'string',
        'patient_id': 'string',
        'clinician_id': 'string',
        'clinician_role': 'string',
        'appt_mode': 'string'
    }
) }}
