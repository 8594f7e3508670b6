with source as (

    select * from {{ source('raw', 'workforce') }}

),

typed as (

    select
        cast(census_date as date) as census_date,
        cast(practice_code as {{ dbt.type_string() }}) as practice_code,
        cast(pcn_code as {{ dbt.type_string() }}) as pcn_code,
        cast(staff_group as {{ dbt.type_string() }}) as staff_group,
        cast(role as {{ dbt.type_string() }}) as role,
        cast(is_arrs_funded as boolean) as is_arrs_funded,
        cast(fte as double) as fte,
        cast(headcount as bigint) as headcount
    from source

)

select
    census_date,
    practice_code,
    pcn_code,
    staff_group,
    role,
    is_arrs_funded,
    {{ exact_sum('fte') }} as fte,
    sum(headcount) as headcount
from typed
group by census_date, practice_code, pcn_code, staff_group, role, is_arrs_funded
