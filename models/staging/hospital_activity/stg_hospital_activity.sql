with source as (

    select * from {{ source('raw', 'hospital_activity') }}

),

typed as (

    select
        cast(month as date) as month,
        cast(practice_code as {{ dbt.type_string() }}) as practice_code,
        cast(lsoa_code as {{ dbt.type_string() }}) as lsoa_code,
        cast(sex as {{ dbt.type_string() }}) as sex,
        cast(age_band as {{ dbt.type_string() }}) as age_band,
        cast(activity_type as {{ dbt.type_string() }}) as activity_type,
        cast(acsc_category as {{ dbt.type_string() }}) as acsc_category,
        cast(events as bigint) as events,
        cast(bed_days as bigint) as bed_days,
        cast(cost_gbp as double) as cost_gbp
    from source

)

select
    month,
    practice_code,
    lsoa_code,
    sex,
    age_band,
    activity_type,
    acsc_category,
    sum(events) as events,
    sum(bed_days) as bed_days,
    {{ exact_sum('cost_gbp') }} as cost_gbp
from typed
group by
    month,
    practice_code,
    lsoa_code,
    sex,
    age_band,
    activity_type,
    acsc_category
