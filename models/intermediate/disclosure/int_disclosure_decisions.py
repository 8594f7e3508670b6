"""int_disclosure_decisions: which metric_values rows are withheld, and why; decided once per build.

The rules live in metrics_cli/disclosure.py (tested there; docs/disclosure-control.md);
this model only fetches its inputs. Every disclosed mart reads these decisions, so every
report and every published file withholds the same cells.
"""

from typing import Any

from metrics_cli.disclosure import disclosure_decisions
from metrics_cli.marts import METRIC_VALUES_COLUMNS


def model(dbt: Any, session: Any) -> Any:
    dbt.config(materialized="table")
    threshold = int(dbt.config.meta_get("disclosure_threshold"))
    metric_values = dbt.ref("metric_values").pl().select(METRIC_VALUES_COLUMNS)
    catalogue = dbt.ref("metric_catalogue").pl()
    geographies = dbt.ref("int_practice_geographies").pl()
    return disclosure_decisions(metric_values, catalogue, geographies, threshold).to_arrow()
