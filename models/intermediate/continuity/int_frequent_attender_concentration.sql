-- Share of GP encounters made by the top 5% of attending patients, per financial year and
-- geography. Not summable, so built at every geography from patient-level counts: at a
-- practice a patient's encounters there; at a wider geography the sum of the patient's
-- encounters at all of its practices (patient_id is stable across practices).
-- k = ceil(patients with >= 1 encounter / 20), computed exactly (0.05 x n in floating point
-- can land just above a whole number). The top k are taken most encounters first, ties by
-- patient_id; tied patients have equal counts, so the sum over the top k is the same
-- whichever of them are taken, and it is formed from the distribution of counts per
-- geography (how many patients had each count) instead of sorting patients.

with periods as (

    {{ covered_periods('gp_encounters', ['financial_year']) }}

),

encounters as (

    select * from {{ ref('int_continuity_encounters_sequenced') }}

),

geographies as (

    select * from {{ ref('int_practice_geographies') }}

),

practice_patient_counts as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        encounters.practice_code,
        encounters.patient_id,
        sum(encounters.encounters) as encounters
    from encounters
    inner join periods
        on encounters.month between periods.period_start and periods.period_end
    group by
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        encounters.practice_code,
        encounters.patient_id

),

geography_patient_counts as (

    select
        practice_patient_counts.period_grain,
        practice_patient_counts.period_start,
        practice_patient_counts.period_end,
        practice_patient_counts.period_label,
        geographies.geography_type,
        geographies.geography_code,
        practice_patient_counts.patient_id,
        sum(practice_patient_counts.encounters) as encounters
    from practice_patient_counts
    inner join geographies
        on practice_patient_counts.practice_code = geographies.practice_code
        and practice_patient_counts.period_end = geographies.period_end
    group by
        practice_patient_counts.period_grain,
        practice_patient_counts.period_start,
        practice_patient_counts.period_end,
        practice_patient_counts.period_label,
        geographies.geography_type,
        geographies.geography_code,
        practice_patient_counts.patient_id

),

count_distribution as (

    select
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        encounters,
        count(*) as patients
    from geography_patient_counts
    group by
        period_grain,
        period_start,
        period_end,
        period_label,
        geography_type,
        geography_code,
        encounters

),

ranked_counts as (

    select
        *,
        sum(patients) over geography_counts_descending - patients as patients_above,
        sum(patients) over geography as attending_patients,
        sum(encounters * patients) over geography as total_encounters
    from count_distribution
    window
        geography as (
            partition by period_start, period_end, geography_type, geography_code
        ),
        geography_counts_descending as (
            partition by period_start, period_end, geography_type, geography_code
            order by encounters desc
            rows between unbounded preceding and current row
        )

),

top_patients_taken as (

    select
        *,
        greatest(
            0,
            least(patients, cast(ceil(attending_patients / 20.0) as bigint) - patients_above)
        ) as patients_taken
    from ranked_counts

)

select
    'frequent_attender_concentration' as metric_id,
    period_grain,
    period_start,
    period_end,
    period_label,
    geography_type,
    geography_code,
    'all' as breakdown_type,
    'all' as breakdown_value,
    cast(sum(encounters * patients_taken) as double) as numerator,
    cast(max(total_encounters) as double) as denominator,
    cast(max(attending_patients) as double) as unweighted_count
from top_patients_taken
group by
    period_grain,
    period_start,
    period_end,
    period_label,
    geography_type,
    geography_code
