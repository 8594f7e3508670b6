"""The columns of the marts, as ../shared/spec/outputs.md and maturity.md define them: the
one statement in Python of the contract the dbt models build and everything else reads."""

from __future__ import annotations

METRIC_VALUES_COLUMNS = (
    "metric_id",
    "period_grain",
    "period_start",
    "period_end",
    "period_label",
    "geography_type",
    "geography_code",
    "breakdown_type",
    "breakdown_value",
    "numerator",
    "denominator",
    "unweighted_count",
    "value",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "method",
    "comparison_to_parent",
    "not_calculated_reason",
)

SPC_COLUMNS = (
    "metric_id",
    "geography_type",
    "geography_code",
    "breakdown_type",
    "breakdown_value",
    "period_start",
    "value",
    "mean",
    "lower_process_limit",
    "upper_process_limit",
    "lower_near_limit",
    "upper_near_limit",
    "point_type",
    "is_last_point",
    "variation_icon",
    "assurance_icon",
    "target",
)

INEQUALITY_COLUMNS = (
    "metric_id",
    "period_grain",
    "period_label",
    "geography_type",
    "geography_code",
    "quintile_1_value",
    "quintile_5_value",
    "gap_absolute",
    "gap_relative",
    "core20_value",
    "rest_value",
    "core20_gap",
    "sii",
    "sii_lower_95",
    "sii_upper_95",
    "rii",
    "rii_lower_95",
    "rii_upper_95",
    "not_calculated_reason",
)

MATURITY_LEVELS_COLUMNS = (
    "neighbourhood_code",
    "assessment_period",
    "domain_id",
    "level_achieved",
    "level_name",
    "self_assessed_level",
    "evidenced_level",
    "has_discrepancy",
    "next_level_gaps",
)

MATURITY_CRITERIA_RESULTS_COLUMNS = (
    "neighbourhood_code",
    "assessment_period",
    "domain_id",
    "level",
    "criterion_id",
    "criterion_kind",
    "status",
    "evidence_summary",
    "metric_id",
    "metric_value",
    "threshold",
    "is_met",
)
