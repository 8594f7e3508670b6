-- Per-patient continuity over every index window (financial years and rolling 12 months):
-- one row per window, practice and patient with a GP encounter at that practice in the
-- window. The indices are filled for eligible patients, those with at least
-- var('continuity_min_encounters') encounters; the rest keep their encounter count for the
-- frequent attender concentration. Windows are computed once each: a financial year is the
-- same window as the rolling 12 months ending in March, so periods are attached later, by
-- period_start and period_end. A consecutive pair counts in a window only when both its
-- encounters fall inside it, so a window always holds N - 1 pairs.

{%- set min_encounters = var('continuity_min_encounters') | int %}
{%- if min_encounters < 2 %}
    {{ exceptions.raise_compiler_error(
        "var continuity_min_encounters must be at least 2 (COC and SECON need a pair of encounters); got "
        ~ min_encounters
    ) }}
{%- endif %}

with windows as (

    select distinct
        period_start,
        period_end
    from ({{ covered_periods('gp_encounters', ['financial_year', 'rolling_12m']) }}) as periods

),

encounters as (

    select * from {{ ref('int_continuity_encounters_sequenced') }}

),

-- Each month with the windows that contain it (a few dozen rows), so the encounters meet
-- the windows in an equality join on month rather than a range join.
window_months as (

    select distinct
        windows.period_start,
        windows.period_end,
        encounter_months.month
    from (
        {{ month_spine(
            '(select min(period_start) from windows)',
            '(select max(period_end) from windows)',
        ) }}
    ) as encounter_months
    inner join windows
        on encounter_months.month between windows.period_start and windows.period_end

),

clinician_counts as (

    select
        window_months.period_start,
        window_months.period_end,
        encounters.practice_code,
        encounters.patient_id,
        encounters.clinician_id,
        cast(sum(encounters.encounters) as bigint) as encounters,
        cast(sum(
            case when encounters.previous_month >= window_months.period_start
                then encounters.same_clinician_pairs else 0 end
        ) as bigint) as same_clinician_pairs
    from encounters
    inner join window_months on encounters.month = window_months.month
    group by
        window_months.period_start,
        window_months.period_end,
        encounters.practice_code,
        encounters.patient_id,
        encounters.clinician_id

),

patient_counts as (

    select
        period_start,
        period_end,
        practice_code,
        patient_id,
        cast(sum(encounters) as bigint) as encounters,
        cast(count(*) as bigint) as clinicians,
        max(encounters) as max_clinician_encounters,
        cast(sum(encounters * encounters) as bigint) as sum_sq_clinician_encounters,
        cast(sum(same_clinician_pairs) as bigint) as same_clinician_pairs
    from clinician_counts
    group by period_start, period_end, practice_code, patient_id

),

eligibility as (

    select
        *,
        encounters >= {{ min_encounters }} as is_eligible
    from patient_counts

)

select
    period_start,
    period_end,
    practice_code,
    patient_id,
    encounters,
    clinicians,
    max_clinician_encounters,
    sum_sq_clinician_encounters,
    same_clinician_pairs,
    is_eligible,
    case when is_eligible
        then cast(max_clinician_encounters as double) / encounters end as upc,
    case when is_eligible
        then cast(sum_sq_clinician_encounters - encounters as double)
            / (encounters * (encounters - 1)) end as coc,
    case when is_eligible
        then cast(same_clinician_pairs as double) / (encounters - 1) end as secon,
    case when is_eligible
        then (1 - clinicians / (cast(encounters as double) + 0.1))
            / (1 - 1 / (cast(encounters as double) + 0.1)) end as mmci
from eligibility
