{#- Breakdowns: one macro turns a relation at its finest grain into the long rows of every
    breakdown a metric supports, so no family re-types the rules (metrics.md, "Breakdowns"). -#}

{% macro breakdown_rows(relation, breakdowns, keys, measures) -%}
    {#- relation: a CTE or relation with the `keys` columns, the `measures` columns, and
        imd_quintile (nullable), sex, age_band and, for cohorts, is_age_75_plus,
        is_multimorbid, is_frail.
        breakdowns: list of `all`, `imd_quintile`, `core20`, `age_band`, `sex`, `cohort`.
        Patients whose LSOA has no quintile fall in neither a quintile nor Core20/rest;
        a null sex or age band falls only in `all`. Measures are summed with exact_sum, as
        they may be non-whole (indices, weights, mean populations). -#}
    {%- set cohorts = [
        ('age_75_plus', 'is_age_75_plus'),
        ('multimorbid', 'is_multimorbid'),
        ('frail', 'is_frail'),
    ] -%}
    {%- set parts = [] -%}
    {%- for breakdown in breakdowns -%}
        {%- if breakdown == 'all' -%}
            {%- do parts.append(("'all'", "'all'", "1 = 1")) -%}
        {%- elif breakdown == 'imd_quintile' -%}
            {%- do parts.append(("'imd_quintile'", "cast(imd_quintile as " ~ dbt.type_string() ~ ")", "imd_quintile is not null")) -%}
        {%- elif breakdown == 'core20' -%}
            {%- do parts.append(("'core20'", "case when imd_quintile = 1 then 'core20' else 'rest' end", "imd_quintile is not null")) -%}
        {%- elif breakdown == 'age_band' -%}
            {%- do parts.append(("'age_band'", "age_band", "age_band is not null")) -%}
        {%- elif breakdown == 'sex' -%}
            {%- do parts.append(("'sex'", "sex", "sex is not null")) -%}
        {%- elif breakdown == 'cohort' -%}
            {%- for cohort, flag in cohorts -%}
                {%- do parts.append(("'cohort'", "'" ~ cohort ~ "'", flag)) -%}
            {%- endfor -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("unknown breakdown " ~ breakdown) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for breakdown_type, breakdown_value, condition in parts %}
    select
        {% for key in keys %}{{ key }},
        {% endfor -%}
        {{ breakdown_type }} as breakdown_type,
        {{ breakdown_value }} as breakdown_value,
        {% for measure in measures %}{{ exact_sum(measure) }} as {{ measure }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ relation }}
    where {{ condition }}
    group by {% for key in keys %}{{ key }}, {% endfor %}{{ breakdown_value }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
