{% test limits_contain_value(model) %}
{#- Confidence limits must bracket the value, and 99.8% limits the 95% ones. -#}
select *
from {{ model }}
where value is not null
    and lower_95 is not null
    and (
        lower_95 > value + 1e-9
        or upper_95 < value - 1e-9
        or lower_998 > lower_95 + 1e-9
        or upper_998 < upper_95 - 1e-9
    )
{% endtest %}
