with source as (

    select * from {{ source('raw', 'organisations') }}

)

select
    cast(practice_code as {{ dbt.type_string() }}) as practice_code,
    cast(practice_name as {{ dbt.type_string() }}) as practice_name,
    cast(pcn_code as {{ dbt.type_string() }}) as pcn_code,
    cast(pcn_name as {{ dbt.type_string() }}) as pcn_name,
    cast(neighbourhood_code as {{ dbt.type_string() }}) as neighbourhood_code,
    cast(neighbourhood_name as {{ dbt.type_string() }}) as neighbourhood_name,
    cast(place_code as {{ dbt.type_string() }}) as place_code,
    cast(place_name as {{ dbt.type_string() }}) as place_name,
    cast(icb_code as {{ dbt.type_string() }}) as icb_code,
    cast(icb_name as {{ dbt.type_string() }}) as icb_name,
    cast(provider_code as {{ dbt.type_string() }}) as provider_code,
    cast(provider_name as {{ dbt.type_string() }}) as provider_name,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to
from source
