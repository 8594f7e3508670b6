"""metric_spc: a Making Data Count XmR chart for every monthly series of breakdown `all`.

The rules live in metrics_cli/spc.py (tested there); this model only fetches its inputs,
with the baselines and recalculation points of the spc_phases seed.
"""

from typing import Any

from metrics_cli.spc import spc_frame


def model(dbt: Any, session: Any) -> Any:
    dbt.config(materialized="table")
    screen = str(dbt.config.meta_get("spc_screen_outliers")).strip().lower() in ("true", "1")
    metric_values = (
        dbt.ref("metric_values").filter("period_grain = 'month' and breakdown_type = 'all'").pl()
    )
    catalogue = dbt.ref("metric_catalogue").pl()
    targets = dbt.ref("spc_targets").pl()
    phases = dbt.ref("spc_phases").pl()
    return spc_frame(metric_values, catalogue, targets, screen, phases=phases).to_arrow()
