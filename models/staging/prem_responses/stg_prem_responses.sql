{{ staged(
    'prem_responses',
    {
        'survey_wave': 'string',
        'practice_code': 'string',
        'respondent_id': 'string',
        'lsoa_code': 'string',
        'sex': 'string',
        'age_band': 'string',
        'weight': 'double',
        'question_id': 'string',
        'response': 'string'
    }
) }}
