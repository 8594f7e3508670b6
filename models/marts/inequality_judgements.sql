-- Which way each disclosed deprivation gap runs, and how wide it is relative to the whole
-- population's value, made once here (macros/judgements.sql): reports name the widest gap
-- against the most deprived from these columns and never judge a gap themselves. A gap
-- whose slope index disclosure control withheld is `withheld`, with no size.

with gaps as (

    select
        metric_id,
        period_grain,
        period_label,
        geography_type,
        geography_code,
        quintile_1_value,
        quintile_5_value,
        sii,
        sii_lower_95,
        sii_upper_95,
        coalesce('|' || suppressed_columns || '|' like '%|sii|%', false) as is_sii_withheld
    from {{ ref('disclosed_inequality_gaps') }}

),

overall as (

    select
        metric_id,
        period_grain,
        period_label,
        geography_type,
        geography_code,
        value
    from {{ ref('disclosed_metric_values') }}
    where breakdown_type = 'all' and breakdown_value = 'all'

),

catalogue as (

    select metric_id, polarity from {{ ref('metric_catalogue') }}

),

judged as (

    select
        gaps.metric_id,
        gaps.period_grain,
        gaps.period_label,
        gaps.geography_type,
        gaps.geography_code,
        {{ gap_direction(
            'gaps.sii', 'gaps.sii_lower_95', 'gaps.sii_upper_95',
            'gaps.quintile_1_value', 'gaps.quintile_5_value', 'gaps.is_sii_withheld',
            'catalogue.polarity'
        ) }} as gap_direction,
        {{ relative_gap('gaps.sii', 'overall.value') }} as relative_gap
    from gaps
    left join catalogue
        on catalogue.metric_id = gaps.metric_id
    left join overall
        on {{ same_values('overall', 'gaps', [
            'metric_id', 'period_grain', 'period_label', 'geography_type',
            'geography_code'
        ]) }}

)

select
    metric_id,
    period_grain,
    period_label,
    geography_type,
    geography_code,
    gap_direction,
    case when gap_direction = 'withheld' then null else relative_gap end as relative_gap
from judged
