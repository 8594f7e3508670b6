with source as (

    select * from {{ source('raw', 'community_activity') }}

),

typed as (

    select
        cast(month as date) as month,
        cast(practice_code as {{ dbt.type_string() }}) as practice_code,
        cast(service as {{ dbt.type_string() }}) as service,
        cast(contacts as bigint) as contacts,
        cast(patients as bigint) as patients
    from source

)

select
    month,
    practice_code,
    service,
    sum(contacts) as contacts,
    sum(patients) as patients
from typed
group by month, practice_code, service
