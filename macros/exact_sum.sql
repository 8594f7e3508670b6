{#- Sums that do not depend on the order rows are added in (docs/publication.md, "Two builds").

    Floating-point addition is not associative, and a parallel warehouse adds a group's
    rows in whatever order its threads reach them, so a double sum of non-whole numbers
    (per-patient indices, survey weights, mean populations, money, FTE) can differ in its
    last bit between two builds of the same inputs. Each term is cast to a fixed-point
    decimal, where addition is exact and so independent of order, and the total back to a
    double. Sums of whole numbers (counts of people or events) need none of this: they are
    integers, or doubles that add exactly below 2^53.

    decimal(38, 18): 18 places keep each term to within a double's own rounding (about
    1e-16 of the term; 5e-19 at the least), so the total is at least as accurate as a
    double sum, with no absolute error floor to show in a small variance; 20 whole digits
    hold any term and total below 1e20, far above national scale (62 million patients,
    money in pounds up to about 1e10). DuckDB stops the build with an overflow error
    beyond that, never a silent wrong total. -#}

{% macro exact_sum(expression, window=none) -%}
    {{ return(adapter.dispatch('exact_sum', 'nbhd')(expression, window)) }}
{%- endmacro %}

{% macro default__exact_sum(expression, window=none) -%}
    {{ stats_double(
        'sum(cast(' ~ expression ~ ' as decimal(38, 18)))'
        ~ (' over ' ~ window if window else '')
    ) }}
{%- endmacro %}

{% macro exact_mean(expression) -%}
    {{ return(adapter.dispatch('exact_mean', 'nbhd')(expression)) }}
{%- endmacro %}

{% macro default__exact_mean(expression) -%}
    ({{ exact_sum(expression) }} / nullif(count({{ expression }}), 0))
{%- endmacro %}
