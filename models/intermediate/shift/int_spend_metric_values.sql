-- Primary and community share of spend, and its change since the baseline financial year,
-- for each ICB and place. ICB spend comes from its `icb` rows where present, else the sum
-- of its places, never both. A place's ICB is the ICB of its practices. Money is summed
-- with exact_sum, so totals do not depend on the order of the rows. The baseline is one
-- year for every organisation (var baseline_financial_year, else the earliest financial
-- year in the spend dataset, metrics.md); an organisation with no spend that year has no
-- change to report, rather than a change measured from its own first year.

with spend as (

    select * from {{ ref('stg_spend') }}

),

place_icbs as (

    select distinct place.geography_code as place_code, icb.geography_code as icb_code
    from {{ ref('int_practice_geographies') }} as place
    inner join {{ ref('int_practice_geographies') }} as icb
        on place.period_end = icb.period_end
        and place.practice_code = icb.practice_code
        and icb.geography_type = 'icb'
    where place.geography_type = 'place'

),

by_org as (

    select
        financial_year,
        org_type,
        org_code,
        {{ exact_sum(
            "case when spend_category = 'community' or spend_category like 'primary_care_%'
            then amount_gbp else 0 end"
        ) }} as primary_community,
        {{ exact_sum('amount_gbp') }} as total
    from spend
    group by financial_year, org_type, org_code

),

icb_rows as (

    select financial_year, 'icb' as geography_type, org_code as geography_code,
        primary_community, total
    from by_org
    where org_type = 'icb'

),

icb_from_places as (

    select
        by_org.financial_year,
        'icb' as geography_type,
        place_icbs.icb_code as geography_code,
        {{ exact_sum('by_org.primary_community') }} as primary_community,
        {{ exact_sum('by_org.total') }} as total
    from by_org
    inner join place_icbs on by_org.org_code = place_icbs.place_code
    where by_org.org_type = 'place'
        and not exists (
            select 1 from icb_rows
            where icb_rows.financial_year = by_org.financial_year
                and icb_rows.geography_code = place_icbs.icb_code
        )
    group by by_org.financial_year, place_icbs.icb_code

),

shares as (

    select financial_year, 'place' as geography_type, org_code as geography_code,
        primary_community, total
    from by_org
    where org_type = 'place'
    union all
    select * from icb_rows
    union all
    select * from icb_from_places

),

with_baseline as (

    select
        shares.*,
        {{ financial_year_start_from_label('shares.financial_year') }} as period_start,
        100.0 * primary_community / nullif(total, 0) as share,
        {% if var('baseline_financial_year') %}
        '{{ var("baseline_financial_year") }}'
        {% else %}
        min(financial_year) over ()
        {% endif %} as baseline_financial_year
    from shares

),

with_change as (

    select
        current_year.*,
        baseline.share as baseline_share
    from with_baseline as current_year
    left join with_baseline as baseline
        on current_year.geography_type = baseline.geography_type
        and current_year.geography_code = baseline.geography_code
        and baseline.financial_year = current_year.baseline_financial_year

)

select
    'primary_community_spend_share' as metric_id,
    'financial_year' as period_grain,
    period_start,
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 12, 'period_start')) }} as date)
        as period_end,
    financial_year as period_label,
    geography_type,
    geography_code,
    'all' as breakdown_type,
    'all' as breakdown_value,
    cast(primary_community as double) as numerator,
    cast(total as double) as denominator,
    cast(null as double) as unweighted_count,
    cast(null as double) as value
from with_change

union all

select
    'primary_community_spend_shift_pp',
    'financial_year',
    period_start,
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 12, 'period_start')) }} as date),
    financial_year,
    geography_type,
    geography_code,
    'all',
    'all',
    cast(share as double),
    cast(baseline_share as double),
    cast(null as double),
    cast(share - baseline_share as double)
from with_change
where baseline_share is not null and financial_year >= baseline_financial_year
