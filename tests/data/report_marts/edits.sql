-- Hand edits applied by load_snapshot (tests/python/report_snapshot.py) after the CSVs
-- load: features the tiny build's report rows lack, made as the build would make them
-- (README.md says why). Nothing else in the snapshot is edited.

-- Withheld cells. The build hides every count and derived column of such a cell, and
-- the judgements of it say `withheld` (macros/judgements.sql).
create temporary table withheld_by_hand as
select
    metric_id, period_grain, period_start, geography_type, geography_code,
    breakdown_type, breakdown_value,
    case
        when breakdown_type = 'cohort' and method = 't_mean' then 'small_base'
        when breakdown_type = 'cohort' or breakdown_value = '1' then 'small_count'
        else 'secondary'
    end as rule
from main.disclosed_metric_values
where geography_code = 'NBH0001' and (
    -- 1. A small count and its secondary: the neighbourhood's 2024/25 ACSC admissions in
    --    IMD quintile 1 withheld as a small count, quintile 2 so that quintile 1 cannot be
    --    worked out from the total.
    metric_id = 'acsc_emergency_admission_dsr' and period_label = '2024/25'
    and breakdown_type = 'imd_quintile' and breakdown_value in ('1', '2')
    -- 2. A small cohort: the neighbourhood's frail patients in the year to March 2025 (the
    --    financial year and the 12 months, the same months) taken as fewer than 10, so
    --    every continuity figure of the cohort is withheld: a mean for its small base, a
    --    share for its small count.
    or period_end = date '2025-03-31' and breakdown_type = 'cohort'
    and breakdown_value = 'frail'
);

update main.disclosed_metric_values as cell
set
    is_suppressed = true,
    suppression_rule = hand.rule,
    numerator = null, denominator = null, unweighted_count = null,
    value = null, lower_95 = null, upper_95 = null, lower_998 = null, upper_998 = null,
    comparison_to_parent = null
from withheld_by_hand as hand
where cell.metric_id = hand.metric_id and cell.period_grain = hand.period_grain
    and cell.period_start = hand.period_start and cell.geography_type = hand.geography_type
    and cell.geography_code = hand.geography_code
    and cell.breakdown_type = hand.breakdown_type
    and cell.breakdown_value = hand.breakdown_value;

update main.metric_judgements
set change_from_year_before = 'withheld', comparison_to_icb = 'withheld'
where (
    metric_id, period_grain, period_start, geography_type, geography_code, breakdown_type,
    breakdown_value
) in (
    select (
        metric_id, period_grain, period_start, geography_type, geography_code,
        breakdown_type, breakdown_value
    )
    from withheld_by_hand
);

-- ... and the ACSC gap row: a withheld quintile 1 hides its value, both gaps, the SII and
--    RII (disclosure.protect_inequality_gaps); the gap's direction is then `withheld`
--    (macros/judgements.sql, gap_direction), with no relative size.
update main.disclosed_inequality_gaps
set
    is_suppressed = true,
    suppressed_columns = 'quintile_1_value|gap_absolute|gap_relative|sii|sii_lower_95|'
        || 'sii_upper_95|rii|rii_lower_95|rii_upper_95',
    quintile_1_value = null, gap_absolute = null, gap_relative = null,
    sii = null, sii_lower_95 = null, sii_upper_95 = null,
    rii = null, rii_lower_95 = null, rii_upper_95 = null
where metric_id = 'acsc_emergency_admission_dsr' and geography_code = 'NBH0001'
    and period_label = '2024/25';

update main.inequality_judgements
set gap_direction = 'withheld', relative_gap = null
where metric_id = 'acsc_emergency_admission_dsr' and geography_code = 'NBH0001'
    and period_label = '2024/25';

-- 3. A target for a reported geography: the shipped spc_targets rows set targets for the
--    `all` geography only, so no report of the tiny build has an assurance icon. The
--    neighbourhood's same-day series gets the 40% target, and with it the assurance the
--    build gives the `all` series of the same values (every point and both process limits
--    above 40%: `consistent_pass`), on every row as the build writes them.
update main.disclosed_metric_spc
set target = 40.0, assurance_icon = 'consistent_pass'
where metric_id = 'same_day_share' and geography_code = 'NBH0001';
