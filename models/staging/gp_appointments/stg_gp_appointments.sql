-- A table, not a view: it sums rows that share their keys, and a view would repeat
-- that aggregation in every model that reads it.
{{ config(materialized='table') }}

with source as (

    select * from {{ source('raw', 'gp_appointments') }}

),

renamed as (

    select
        cast(APPOINTMENT_MONTH_START_DATE as date) as month,
        GP_CODE as practice_code,
        PCN_CODE as pcn_code,
        HCP_TYPE as hcp_type,
        APPT_MODE as appt_mode,
        NATIONAL_CATEGORY as national_category,
        TIME_BETWEEN_BOOK_AND_APPT as booking_interval,
        APPT_STATUS as appt_status,
        cast(COUNT_OF_APPOINTMENTS as bigint) as appointments
    from source

)

select
    month,
    practice_code,
    pcn_code,
    hcp_type,
    appt_mode,
    national_category,
    booking_interval,
    appt_status,
    sum(appointments) as appointments
from renamed
group by
    month,
    practice_code,
    pcn_code,
    hcp_type,
    appt_mode,
    national_category,
    booking_interval,
    appt_status
