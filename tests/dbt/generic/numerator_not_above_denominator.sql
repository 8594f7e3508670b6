{% test numerator_not_above_denominator(model, where_methods) %}
{#- Proportions cannot exceed their base: fails on rows of the given methods whose
    numerator exceeds the denominator (beyond floating-point noise). -#}
select *
from {{ model }}
where method in ({% for method in where_methods %}'{{ method }}'{% if not loop.last %}, {% endif %}{% endfor %})
    and numerator > denominator + 1e-9
{% endtest %}
