-- Practice-level counts of every family, summed up the hierarchy valid at each period's
-- end: practice, pcn, neighbourhood, place, icb, provider and all. Numerators and
-- denominators are summed, never rates averaged; per-patient means and weighted survey
-- results carry their sufficient statistics (sums and sums of squares) so the statistic
-- at each geography equals the one recomputed from row-level data. Numerators,
-- denominators and sums of squares can be non-whole, so they are summed with exact_sum
-- (the same in every build); unweighted counts are whole and add exactly as doubles.
-- A practice row without a denominator, of a metric whose statistic needs one (a
-- practice-month with appointments but no registered patients), gives no row at any level,
-- its own included: its activity would inflate its parents' rates (inputs.md,
-- "Denominators over time"; data_quality lists it), and a practice row left out of its
-- parents would break the sums that disclosure control relies on.

{% set families = [
    'int_access_metric_counts',
    'int_shift_metric_counts',
    'int_continuity_metric_counts',
    'int_experience_metric_counts',
    'int_funding_metric_counts',
] %}

with practice_counts as (

    {% for family in families %}
    select
        metric_id, period_grain, period_start, period_end, period_label, practice_code,
        breakdown_type, breakdown_value, stratum, numerator, denominator, unweighted_count,
        sum_sq
    from {{ ref(family) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

geographies as (

    select * from {{ ref('int_practice_geographies') }}

),

counted_metrics as (

    -- metrics whose statistic is a ratio of the counts (every method but none)
    select metric_id from {{ ref('metric_catalogue') }} where method <> 'none'

)

select
    practice_counts.metric_id,
    practice_counts.period_grain,
    practice_counts.period_start,
    practice_counts.period_end,
    practice_counts.period_label,
    geographies.geography_type,
    geographies.geography_code,
    practice_counts.breakdown_type,
    practice_counts.breakdown_value,
    practice_counts.stratum,
    {{ exact_sum('practice_counts.numerator') }} as numerator,
    {{ exact_sum('practice_counts.denominator') }} as denominator,
    sum(practice_counts.unweighted_count) as unweighted_count,
    {{ exact_sum('practice_counts.sum_sq') }} as sum_sq
from practice_counts
inner join geographies
    on practice_counts.practice_code = geographies.practice_code
    and practice_counts.period_end = geographies.period_end
where practice_counts.denominator is not null
    or practice_counts.metric_id not in (select metric_id from counted_metrics)
group by
    practice_counts.metric_id,
    practice_counts.period_grain,
    practice_counts.period_start,
    practice_counts.period_end,
    practice_counts.period_label,
    geographies.geography_type,
    geographies.geography_code,
    practice_counts.breakdown_type,
    practice_counts.breakdown_value,
    practice_counts.stratum
