{#- Means with t-distribution limits, from summable sufficient statistics:
    mean +/- t(n - 1, (1 + level) / 2) * sd / sqrt(n), sd^2 = (sum_x2 - sum_x^2 / n) / (n - 1).
    The variance is computed from sums, which is exact enough for bounded per-patient
    values (indices on 0-1); it is clamped at 0 against rounding when all values are equal. -#}

{% macro t_quantile(degrees_of_freedom, level, quantiles=none) -%}
    {{ return(adapter.dispatch('t_quantile', 'nbhd')(degrees_of_freedom, level, quantiles)) }}
{%- endmacro %}

{% macro default__t_quantile(degrees_of_freedom, level, quantiles=none) -%}
    {#- Two-sided critical value of Student's t: exact from the t_distribution_quantiles seed
        for 1..100 degrees of freedom, above that the Cornish-Fisher expansion in 1/df to the
        fifth order (Abramowitz and Stegun 26.7.5; error below 5e-11 from 101 df). Null below
        1 df, and for fractional df up to 100. With `quantiles`, the alias under which the
        caller has left-joined the seed on `t_degrees_of_freedom = degrees_of_freedom`, its
        row is read; without, a scalar subquery finds it (a correlated join per call). -#}
    {%- set df = '(' ~ degrees_of_freedom ~ ')' -%}
    {%- set d = stats_double(degrees_of_freedom) -%}
    {%- set z = stats_normal_quantile(level) -%}
    {%- set g1 = (z ** 3 + z) / 4 -%}
    {%- set g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96 -%}
    {%- set g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384 -%}
    {%- set g4 = (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160 -%}
    {%- set g5 = (27 * z ** 11 + 339 * z ** 9 + 930 * z ** 7 - 1782 * z ** 5 - 765 * z ** 3
        + 17955 * z) / 368640 -%}
    case
        when {{ df }} > 100 then {{ stats_number(z) }} + (
            {{ stats_number(g1) }} + (
                {{ stats_number(g2) }} + (
                    {{ stats_number(g3) }} + (
                        {{ stats_number(g4) }} + {{ stats_number(g5) }} / {{ d }}
                    ) / {{ d }}
                ) / {{ d }}
            ) / {{ d }}
        ) / {{ d }}
        {%- if quantiles %}
        when {{ df }} >= 1 then {{ stats_double(quantiles ~ '.t_' ~ stats_level_suffix(level)) }}
        {%- else %}
        when {{ df }} >= 1 then (
            select {{ stats_double('t_distribution_quantiles.t_' ~ stats_level_suffix(level)) }}
            from {{ ref('t_distribution_quantiles') }} as t_distribution_quantiles
            where t_distribution_quantiles.t_degrees_of_freedom = {{ df }}
        )
        {%- endif %}
    end
{%- endmacro %}

{% macro t_mean_lower(sum_x, sum_x2, n, level, quantiles=none) -%}
    {{ return(adapter.dispatch('t_mean_lower', 'nbhd')(sum_x, sum_x2, n, level, quantiles)) }}
{%- endmacro %}

{% macro default__t_mean_lower(sum_x, sum_x2, n, level, quantiles=none) -%}
    {{ stats_t_mean_limit(sum_x, sum_x2, n, level, '-', quantiles) }}
{%- endmacro %}

{% macro t_mean_upper(sum_x, sum_x2, n, level, quantiles=none) -%}
    {{ return(adapter.dispatch('t_mean_upper', 'nbhd')(sum_x, sum_x2, n, level, quantiles)) }}
{%- endmacro %}

{% macro default__t_mean_upper(sum_x, sum_x2, n, level, quantiles=none) -%}
    {{ stats_t_mean_limit(sum_x, sum_x2, n, level, '+', quantiles) }}
{%- endmacro %}

{% macro stats_t_mean_limit(sum_x, sum_x2, n, level, sign, quantiles=none) -%}
    {#- Null when n < 2 (no standard deviation). `quantiles`: as t_quantile's, joined on
        `t_degrees_of_freedom = n - 1`. -#}
    {%- set total = stats_double(sum_x) -%}
    {%- set count = stats_double(n) -%}
    {%- set variance -%}
        ({{ stats_double(sum_x2) }} - {{ total }} * {{ total }} / {{ count }}) / ({{ count }} - 1)
    {%- endset -%}
    case
        when {{ count }} >= 2
            then {{ total }} / {{ count }}
                {{ sign }} {{ t_quantile('(' ~ n ~ ') - 1', level, quantiles) }}
                * sqrt(case when {{ variance }} > 0 then {{ variance }} else 0 end / {{ count }})
    end
{%- endmacro %}
