{#- Judgements a reader is shown, each made here once and stored as a mart column
    (docs/judgements.md): the change on a year before, the comparison with the ICB's value
    (the reference line of the benchmarking charts) and the direction of a deprivation gap.
    Reports, the maturity matrix and published files read the columns; none decides again. -#}

{% macro change_from_year_before(
    value, lower, upper, is_withheld,
    before_value, before_lower, before_upper, before_is_withheld,
    polarity, spc_point_type
) -%}
    {#- How the latest figure compares with a year before, as the maturity matrix's
        `improving` rule counts it:
          withheld            the figure, or (where the SPC chart does not decide) the figure
                              a year before, is withheld by disclosure control: nothing is
                              said that would reveal it;
          improved            a special-cause improvement at the latest month of the SPC
                              chart, or the two rows' 95% limits do not overlap on the good
                              side (worsened: on the bad side); for neutral metrics higher /
                              lower;
          no_significant_change  the limits overlap; or there is no figure a year before and
                              the SPC chart has enough points and no special cause;
          higher / lower / unchanged  by polarity as improved / worsened / unchanged, for rows
                              without limits (values within floating-point rounding are equal);
          not_comparable      no figure to compare.
        Values within 1e-9 relative of each other count as equal (maturity_tolerance). -#}
    {%- set tolerance = maturity_tolerance([value, lower, upper, before_value, before_lower, before_upper]) -%}
    case
        when {{ is_withheld }} then 'withheld'
        when {{ value }} is null then 'not_comparable'
        when {{ spc_point_type }} = 'special_cause_improvement' then 'improved'
        when {{ before_value }} is null then
            case
                when {{ spc_point_type }} = 'special_cause_concern' then 'worsened'
                when {{ spc_point_type }} is not null and {{ spc_point_type }} <> 'too_few_points'
                    then 'no_significant_change'
                when {{ before_is_withheld }} then 'withheld'
                else 'not_comparable'
            end
        when {{ lower }} is null or {{ upper }} is null
            or {{ before_lower }} is null or {{ before_upper }} is null then
            case
                when {{ value }} > {{ before_value }} + {{ tolerance }} then
                    case {{ polarity }}
                        when 'higher_is_better' then 'improved'
                        when 'lower_is_better' then 'worsened'
                        else 'higher'
                    end
                when {{ value }} < {{ before_value }} - {{ tolerance }} then
                    case {{ polarity }}
                        when 'higher_is_better' then 'worsened'
                        when 'lower_is_better' then 'improved'
                        else 'lower'
                    end
                else 'unchanged'
            end
        when {{ lower }} > {{ before_upper }} + {{ tolerance }} then
            case {{ polarity }}
                when 'higher_is_better' then 'improved'
                when 'lower_is_better' then 'worsened'
                else 'higher'
            end
        when {{ upper }} < {{ before_lower }} - {{ tolerance }} then
            case {{ polarity }}
                when 'higher_is_better' then 'worsened'
                when 'lower_is_better' then 'improved'
                else 'lower'
            end
        else 'no_significant_change'
    end
{%- endmacro %}

{% macro comparison_to_reference(value, lower, upper, is_withheld, reference, reference_is_withheld) -%}
    {#- A figure against a reference value (the ICB's, drawn as the benchmarking charts'
        reference line): higher / lower when the reference lies outside the figure's 95%
        limits, else similar; not_compared without limits or reference; withheld when either
        figure is withheld. -#}
    case
        when {{ is_withheld }} or coalesce({{ reference_is_withheld }}, false) then 'withheld'
        else {{ compare_to_parent(value, lower, upper, reference, "'neutral'") }}
    end
{%- endmacro %}

{% macro gap_direction(sii, sii_lower, sii_upper, quintile_1_value, quintile_5_value, sii_is_withheld, polarity) -%}
    {#- Which way a deprivation gap runs, from the slope index of inequality's 95% limits:
        deprived_worse when the most deprived fare significantly worse by the metric's
        polarity (higher_is_better: the limits lie above zero; lower_is_better: below),
        deprived_better when significantly better, no_significant_gap when the limits
        include zero; not_compared for neutral metrics or without an SII, its limits or both
        end quintiles; withheld when disclosure control withheld the SII. -#}
    case
        when {{ sii_is_withheld }} then 'withheld'
        when {{ sii }} is null or {{ sii_lower }} is null or {{ sii_upper }} is null
            or {{ quintile_1_value }} is null or {{ quintile_5_value }} is null
            or {{ polarity }} not in ('higher_is_better', 'lower_is_better')
            then 'not_compared'
        when {{ sii_lower }} <= 0 and {{ sii_upper }} >= 0 then 'no_significant_gap'
        when ({{ sii_lower }} > 0) = ({{ polarity }} = 'higher_is_better') then 'deprived_worse'
        else 'deprived_better'
    end
{%- endmacro %}

{% macro relative_gap(sii, overall_value) -%}
    {#- The size of a gap for ranking across metrics: |SII| relative to the whole
        population's value (|SII| itself where that value is missing or zero). -#}
    case
        when {{ sii }} is null then null
        when {{ overall_value }} is null or {{ overall_value }} = 0 then abs({{ sii }})
        else abs({{ sii }}) / abs({{ overall_value }})
    end
{%- endmacro %}

{#- `left.c = right.c and ...` for each of `columns`: the join of two relations on the same
    values (a series, a cell), stated once instead of column by column. -#}
{% macro same_values(left, right, columns) -%}
{%- for column in columns -%}
{{ ' and ' if not loop.first }}{{ left }}.{{ column }} = {{ right }}.{{ column }}
{%- endfor -%}
{%- endmacro %}
