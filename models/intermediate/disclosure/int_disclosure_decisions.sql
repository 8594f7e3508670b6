-- int_disclosure_decisions: computed by the build's Python stage (metrics_cli/python_stage.py)
-- on every engine, published here so that its documentation and tests stay in dbt
-- (docs/architecture.md).

select * from {{ source('nbhd_stage', 'int_disclosure_decisions') }}
