"""inequality_gaps: quintile and Core20 gaps, and the slope and relative index of inequality.

The method lives in metrics_cli/sii.py (tested there); this model only fetches its inputs.
"""

from typing import Any

from metrics_cli.sii import inequality_frame


def model(dbt: Any, session: Any) -> Any:
    dbt.config(materialized="table")
    repetitions = int(dbt.config.meta_get("sii_repetitions"))
    seed = int(dbt.config.meta_get("sii_seed"))
    metric_values = (
        dbt.ref("metric_values").filter("breakdown_type in ('imd_quintile', 'core20')").pl()
    )
    catalogue = dbt.ref("metric_catalogue").pl()
    quintile_populations = dbt.ref("int_quintile_populations").pl()
    return inequality_frame(
        metric_values,
        catalogue,
        quintile_populations,
        repetitions=repetitions,
        seed=seed,
    ).to_arrow()
