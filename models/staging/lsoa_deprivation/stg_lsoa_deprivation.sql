with source as (

    select * from {{ source('raw', 'lsoa_deprivation') }}

)

select
    lsoa_code,
    cast(imd_decile as integer) as imd_decile,
    cast(imd_rank as integer) as imd_rank,
    cast(ceil(imd_decile / 2.0) as integer) as imd_quintile,
    imd_decile <= 2 as is_core20
from source
