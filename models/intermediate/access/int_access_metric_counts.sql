-- Same-day access from GPAD, per practice and month, in the common long shape. A
-- practice-month absent from GPAD produces no row (missing, not zero).

with appointments as (

    select * from {{ ref('stg_gp_appointments') }}

),

periods as (

    {{ covered_periods('gp_appointments', ['month']) }}

),

practice_months as (

    select
        month,
        practice_code,
        sum(appointments) as appointments,
        sum(case when booking_interval = 'Same Day' then appointments else 0 end)
            as same_day,
        sum(case when booking_interval in (
            'Same Day', '1 Day', '2 to 7 Days', '8  to 14 Days'
        ) then appointments else 0 end) as within_two_weeks,
        sum(case when booking_interval <> 'Unknown / Data Quality' then appointments else 0 end)
            as known_interval,
        sum(case when appt_status = 'DNA' then appointments else 0 end) as did_not_attend,
        sum(case when appt_status in ('Attended', 'DNA') then appointments else 0 end)
            as attended_or_dna,
        sum(case when appt_mode = 'Face-to-Face' then appointments else 0 end) as face_to_face,
        sum(case when appt_mode <> 'Unknown' then appointments else 0 end) as known_mode,
        sum(case when hcp_type = 'GP' then appointments else 0 end) as with_gp,
        sum(case when hcp_type <> 'Unknown' then appointments else 0 end) as known_type
    from appointments
    group by month, practice_code

),

population as (

    select month, practice_code, sum(patients) as patients
    from {{ ref('int_population_monthly') }}
    group by month, practice_code

),

measures as (

    select
        periods.period_grain,
        periods.period_start,
        periods.period_end,
        periods.period_label,
        practice_months.*,
        population.patients
    from practice_months
    inner join periods on practice_months.month = periods.period_start
    left join population
        on practice_months.month = population.month
        and practice_months.practice_code = population.practice_code

),

long_form as (

    {% set ratios = [
        ('appointments_per_1000', 'appointments', 'patients', 'appointments'),
        ('same_day_share', 'same_day', 'known_interval', 'known_interval'),
        ('within_two_weeks_share', 'within_two_weeks', 'known_interval', 'known_interval'),
        ('dna_rate', 'did_not_attend', 'attended_or_dna', 'attended_or_dna'),
        ('face_to_face_share', 'face_to_face', 'known_mode', 'known_mode'),
        ('gp_appointment_share', 'with_gp', 'known_type', 'known_type'),
    ] %}
    {% for metric_id, numerator, denominator, count in ratios %}
    select
        '{{ metric_id }}' as metric_id,
        period_grain,
        period_start,
        period_end,
        period_label,
        practice_code,
        'all' as breakdown_type,
        'all' as breakdown_value,
        'all' as stratum,
        cast({{ numerator }} as double) as numerator,
        cast({{ denominator }} as double) as denominator,
        cast({{ count }} as double) as unweighted_count,
        cast(null as double) as sum_sq
    from measures
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from long_form
