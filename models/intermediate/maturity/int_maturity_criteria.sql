-- The criteria in use. Metric criteria default to breakdown `all` and the neighbourhood's
-- own rows; self-assessed criteria carry no rule.

with criteria as (

    select * from {{ maturity_matrix_relation('maturity_criteria') }}

),

trimmed as (

    select
        {{ maturity_text('criterion_id') }} as criterion_id,
        {{ maturity_text('domain_id') }} as domain_id,
        {{ maturity_text('criterion_kind') }} as criterion_kind,
        {{ maturity_text('statement') }} as statement,
        {{ maturity_text('rule') }} as rule,
        {{ maturity_text('metric_id') }} as metric_id,
        {{ maturity_text('breakdown_type') }} as breakdown_type,
        {{ maturity_text('breakdown_value') }} as breakdown_value,
        {{ maturity_text('period_grain') }} as period_grain,
        {{ maturity_text('geography_level') }} as geography_level,
        {{ maturity_text('operator') }} as operator,
        {{ maturity_text('depends_on') }} as depends_on,
        {{ maturity_text('source') }} as source,
        cast({{ maturity_text('level') }} as integer) as level,
        cast({{ maturity_text('threshold') }} as double) as threshold
    from criteria

)

select
    criterion_id,
    domain_id,
    criterion_kind,
    statement,
    rule,
    metric_id,
    case when criterion_kind = 'metric' then coalesce(breakdown_type, 'all') end
        as breakdown_type,
    case when criterion_kind = 'metric' then coalesce(breakdown_value, 'all') end
        as breakdown_value,
    period_grain,
    case when criterion_kind = 'metric' then coalesce(geography_level, 'neighbourhood') end
        as geography_level,
    operator,
    depends_on,
    source,
    level,
    threshold
from trimmed
