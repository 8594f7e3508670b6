{#- Sums that do not depend on the order rows are added in (docs/publication.md, "Two builds").

    Floating-point addition is not associative, and a parallel warehouse adds a group's
    rows in whatever order its threads reach them, so a double sum of non-whole numbers
    (per-patient indices, survey weights, mean populations, money, FTE) can differ in its
    last bit between two builds of the same inputs. Here each term is turned into a whole
    number of 2^-60ths, held in a decimal(38, 0), where addition is exact and so the same in
    any order; the total is turned back into a double once.

    Multiplying a double by 2^60 is exact (a power of two), and a double of magnitude
    2^-7 or more times 2^60 is already a whole number, so such a term is held exactly; a
    smaller one is rounded to the nearest 2^-60 (within 4.4e-19). Whole numbers stay whole.
    The total is the exact sum of the terms, rounded once to a double: more accurate than
    any double sum. decimal(38, 0) holds terms and totals below 1e38 / 2^60, about 8.6e19,
    far above national scale (62 million patients, money in pounds up to about 1e10);
    beyond it DuckDB stops the build with an overflow error, never a wrong total.
    (Casting a double to a decimal with decimal places would not do: DuckDB scales it by a
    power of ten in double arithmetic, so even 2373 becomes 2372.999999999999737856.) -#}

{% macro exact_sum(expression, window=none) -%}
    {{ return(adapter.dispatch('exact_sum', 'nbhd')(expression, window)) }}
{%- endmacro %}

{% macro default__exact_sum(expression, window=none) -%}
    {#- 1152921504606846976 is 2^60 -#}
    ({{ stats_double(
        'sum(cast(' ~ stats_double(expression) ~ ' * 1152921504606846976 as decimal(38, 0)))'
        ~ (' over ' ~ window if window else '')
    ) }} / 1152921504606846976)
{%- endmacro %}

{% macro exact_mean(expression) -%}
    {{ return(adapter.dispatch('exact_mean', 'nbhd')(expression)) }}
{%- endmacro %}

{% macro default__exact_mean(expression) -%}
    ({{ exact_sum(expression) }} / nullif(count({{ expression }}), 0))
{%- endmacro %}
