-- Every criterion each criterion depends on, directly or through others (depends_on holds
-- `|`-separated criterion ids; the matrix is checked for cycles before a build). A criterion
-- counts as met only when all of these are met too.

with recursive positions as (

    select 1 as position
    union all
    select position + 1 from positions where position < 20

),

direct_prerequisites as (

    select distinct
        criteria.criterion_id,
        trim({{ split_part_at('criteria.depends_on', '|', 'positions.position') }})
            as prerequisite_id
    from {{ ref('int_maturity_criteria') }} as criteria
    cross join positions
    where criteria.depends_on is not null

),

all_prerequisites as (

    select criterion_id, prerequisite_id
    from direct_prerequisites
    where prerequisite_id is not null and prerequisite_id <> ''

    -- union all (Spark has no union in a recursive CTE): the matrix has no cycles, so the
    -- recursion ends; the duplicates it makes are dropped below
    union all

    select all_prerequisites.criterion_id, direct_prerequisites.prerequisite_id
    from all_prerequisites
    inner join direct_prerequisites
        on direct_prerequisites.criterion_id = all_prerequisites.prerequisite_id
    where direct_prerequisites.prerequisite_id is not null
        and direct_prerequisites.prerequisite_id <> ''

)

select distinct
    criterion_id,
    prerequisite_id
from all_prerequisites
