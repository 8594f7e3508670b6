-- Share of GP encounters made by the top 5% of attending patients, per financial year and
-- geography. Not summable, so built at every geography from patient-level counts: at a
-- practice, a patient's encounters there; at a wider geography, the sum of the patient's
-- encounters at all of its practices (patient_id is stable across practices).
-- k = ceil(attending patients / 20), exact in integers (0.05 x n in floating point can land
-- just above a whole number). The top k are taken most encounters first, ties by
-- patient_id; tied patients have equal counts, so the sum over the top k does not depend on
-- which of them are taken, and it is formed from each geography's distribution of counts
-- (how many patients had each count). Patients seen at one practice in the year add their
-- count to that practice's distribution, which sums up the hierarchy; only patients seen at
-- several practices are followed one by one. Counts per practice and patient come from
-- int_continuity_patient_indices, whose windows include every financial year.

with periods as (

    {{ covered_periods('gp_encounters', ['financial_year']) }}

),

practice_patient_counts as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        patient_windows.practice_code,
        patient_windows.patient_id,
        patient_windows.encounters
    from {{ ref('int_continuity_patient_indices') }} as patient_windows
    inner join periods
        on patient_windows.period_start = periods.period_start
        and patient_windows.period_end = periods.period_end

),

geographies as (

    select * from {{ ref('int_practice_geographies') }}

),

patient_counts as (

    select
        period_start,
        patient_id,
        min(practice_code) as first_practice_code,
        max(practice_code) as last_practice_code,
        sum(encounters) as encounters
    from practice_patient_counts
    group by period_start, patient_id

),

single_practice_distribution as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        patient_counts.first_practice_code as practice_code,
        patient_counts.encounters,
        count(*) as patients
    from patient_counts
    inner join periods on patient_counts.period_start = periods.period_start
    where patient_counts.first_practice_code = patient_counts.last_practice_code
    group by
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        patient_counts.first_practice_code,
        patient_counts.encounters

),

single_practice_geography_distribution as (

    select
        single_practice_distribution.period_grain,
        single_practice_distribution.period_start,
        single_practice_distribution.period_end,
        single_practice_distribution.period_label,
        geographies.geography_type,
        geographies.geography_code,
        single_practice_distribution.encounters,
        single_practice_distribution.patients
    from single_practice_distribution
    inner join geographies
        on single_practice_distribution.practice_code = geographies.practice_code
        and single_practice_distribution.period_end = geographies.period_end

),

multi_practice_geography_counts as (

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
    inner join patient_counts
        on practice_patient_counts.period_start = patient_counts.period_start
        and practice_patient_counts.patient_id = patient_counts.patient_id
        and patient_counts.first_practice_code <> patient_counts.last_practice_code
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
        sum(patients) as patients
    from (
        select * from single_practice_geography_distribution
        union all
        select
            period_grain,
            period_start,
            period_end,
            period_label,
            geography_type,
            geography_code,
            encounters,
            1 as patients
        from multi_practice_geography_counts
    ) as distributions
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
        (sum(patients) over geography_counts_descending) - patients as patients_above,
        sum(patients) over geography as attending_patients,
        sum(encounters * patients) over geography as total_encounters
    from count_distribution
    window
        geography as (
            partition by period_start, geography_type, geography_code
        ),
        geography_counts_descending as (
            partition by period_start, geography_type, geography_code
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
