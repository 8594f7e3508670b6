-- A view, not summed over repeated keys as the other aggregated datasets' staging models
-- are: its one reader of the measures, int_hospital_activity_summarised, sums them again at
-- a coarser grain, so summing here first would only repeat that work (a hash aggregation
-- of 89 million rows on seven keys nationally, 70 s, when none repeat). Its other readers
-- take the months' range (int_data_months) and count the input rows of each practice-month
-- (data_quality).

{{ staged(
    'hospital_activity',
    {
        'month': 'date',
        'practice_code': 'string',
        'lsoa_code': 'string',
        'sex': 'string',
        'age_band': 'string',
        'activity_type': 'string',
        'acsc_category': 'string',
        'events': 'bigint',
        'bed_days': 'bigint',
        'cost_gbp': 'double'
    }
) }}
