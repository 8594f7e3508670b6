{{ staged(
    'maturity_assessments',
    {
        'assessment_period': 'string',
        'neighbourhood_code': 'string',
        'submitted_by': 'string',
        'criterion_id': 'string',
        'status': 'string',
        'evidence': 'string',
        'evidence_url': 'string',
        'assessed_on': 'date'
    }
) }}
