with source as (

    select * from {{ source('raw', 'organisations') }}

)

select
    cast(practice_code as varchar) as practice_code,
    cast(practice_name as varchar) as practice_name,
    cast(pcn_code as varchar) as pcn_code,
    cast(pcn_name as varchar) as pcn_name,
    cast(neighbourhood_code as varchar) as neighbourhood_code,
    cast(neighbourhood_name as varchar) as neighbourhood_name,
    cast(place_code as varchar) as place_code,
    cast(place_name as varchar) as place_name,
    cast(icb_code as varchar) as icb_code,
    cast(icb_name as varchar) as icb_name,
    cast(provider_code as varchar) as provider_code,
    cast(provider_name as varchar) as provider_name,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to
from source
