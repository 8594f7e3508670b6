-- The judgements shown beside each disclosed figure, made once here (macros/judgements.sql)
-- and read by reports, the maturity matrix and published files alike:
--   year before: the same series' latest row starting at least 12 months before this one
--                starts (as the maturity matrix's `improving` rule reads it);
--   change_from_year_before: against that row, or the SPC chart of a monthly series;
--   comparison_to_icb: against the value of the ICB the geography belongs to (the
--                reference line of the benchmarking charts).
-- Every value comes from the disclosed marts: a withheld figure's value is never read, and
-- a judgement that would rest on one says `withheld`.

with figures as (

    select
        metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        value,
        lower_95,
        upper_95,
        is_suppressed
    from {{ ref('disclosed_metric_values') }}

),

catalogue as (

    select metric_id, polarity from {{ ref('metric_catalogue') }}

),

ranked_before as (

    select
        figures.metric_id,
        figures.period_grain,
        figures.period_start,
        figures.geography_type,
        figures.geography_code,
        figures.breakdown_type,
        figures.breakdown_value,
        earlier.period_label,
        earlier.value,
        earlier.lower_95,
        earlier.upper_95,
        earlier.is_suppressed,
        row_number() over (
            partition by
                figures.metric_id,
                figures.period_grain,
                figures.period_start,
                figures.geography_type,
                figures.geography_code,
                figures.breakdown_type,
                figures.breakdown_value
            order by earlier.period_end desc, earlier.period_start desc
        ) as recency
    from figures
    inner join figures as earlier
        on {{ same_values('earlier', 'figures', [
            'metric_id', 'period_grain', 'geography_type', 'geography_code',
            'breakdown_type', 'breakdown_value'
        ]) }}
        and earlier.period_start <= {{ dbt.dateadd('month', -12, 'figures.period_start') }}

),

year_before as (

    select * from ranked_before where recency = 1

),

icb_members as (

    -- the ICB each geography belongs to at each month end: the one most of its practices
    -- belong to, then the lowest code
    select
        member.period_end,
        member.geography_type,
        member.geography_code,
        icb.geography_code as icb_code,
        row_number() over (
            partition by member.period_end, member.geography_type, member.geography_code
            order by count(*) desc, icb.geography_code
        ) as preference
    from {{ ref('geography_snapshots') }} as member
    inner join {{ ref('geography_snapshots') }} as icb
        on icb.period_end = member.period_end
        and icb.practice_code = member.practice_code
        and icb.geography_type = 'icb'
    where member.geography_type not in ('icb', 'all')
    group by member.period_end, member.geography_type, member.geography_code, icb.geography_code

),

icb_of as (

    select period_end, geography_type, geography_code, icb_code
    from icb_members
    where preference = 1

),

spc as (

    select
        metric_id,
        geography_type,
        geography_code,
        breakdown_type,
        breakdown_value,
        period_start,
        point_type
    from {{ ref('disclosed_metric_spc') }}

)

select
    figures.metric_id,
    figures.period_grain,
    figures.period_start,
    figures.period_end,
    figures.period_label,
    figures.geography_type,
    figures.geography_code,
    figures.breakdown_type,
    figures.breakdown_value,
    year_before.period_label as year_before_period_label,
    year_before.value as year_before_value,
    year_before.lower_95 as year_before_lower_95,
    year_before.upper_95 as year_before_upper_95,
    year_before.is_suppressed as year_before_is_suppressed,
    spc.point_type as spc_point_type,
    {{ change_from_year_before(
        'figures.value', 'figures.lower_95', 'figures.upper_95', 'figures.is_suppressed',
        'year_before.value', 'year_before.lower_95', 'year_before.upper_95',
        'coalesce(year_before.is_suppressed, false)',
        'catalogue.polarity', 'spc.point_type'
    ) }} as change_from_year_before,
    icb_of.icb_code,
    icb_figures.value as icb_value,
    {{ comparison_to_reference(
        'figures.value', 'figures.lower_95', 'figures.upper_95', 'figures.is_suppressed',
        'icb_figures.value', 'icb_figures.is_suppressed'
    ) }} as comparison_to_icb
from figures
left join catalogue
    on catalogue.metric_id = figures.metric_id
left join year_before
    on {{ same_values('year_before', 'figures', [
        'metric_id', 'period_grain', 'period_start', 'geography_type', 'geography_code',
        'breakdown_type', 'breakdown_value'
    ]) }}
left join spc
    on figures.period_grain = 'month'
    and {{ same_values('spc', 'figures', [
        'metric_id', 'geography_type', 'geography_code', 'breakdown_type',
        'breakdown_value', 'period_start'
    ]) }}
left join icb_of
    on {{ same_values('icb_of', 'figures', ['period_end', 'geography_type', 'geography_code']) }}
left join figures as icb_figures
    on {{ same_values('icb_figures', 'figures', ['metric_id', 'period_grain', 'period_start']) }}
    and icb_figures.geography_type = 'icb'
    and icb_figures.geography_code = icb_of.icb_code
    and icb_figures.breakdown_type = figures.breakdown_type
    and icb_figures.breakdown_value = figures.breakdown_value
