"""disclosed_metric_values: metric_values after disclosure control, decided once per build.

The rules live in metrics_cli/disclosure.py (tested there, docs/disclosure-control.md);
this model only fetches its inputs. Reports and `nbhd publish` read this table, so every
report and every published file hides the same cells.
"""

import json
from typing import Any

from metrics_cli.disclosure import apply_disclosure, settings_from_build_vars
from metrics_cli.marts import METRIC_VALUES_COLUMNS


def model(dbt: Any, session: Any) -> Any:
    dbt.config(materialized="table")
    threshold, rounding = settings_from_build_vars(
        json.dumps(
            {
                "disclosure_threshold": dbt.config.meta_get("disclosure_threshold"),
                "disclosure_rounding": dbt.config.meta_get("disclosure_rounding"),
            }
        )
    )
    metric_values = dbt.ref("metric_values").pl().select(METRIC_VALUES_COLUMNS)
    catalogue = dbt.ref("metric_catalogue").pl()
    geographies = dbt.ref("int_practice_geographies").pl()
    return apply_disclosure(
        metric_values, catalogue, geographies, threshold, rounding
    ).to_arrow()
