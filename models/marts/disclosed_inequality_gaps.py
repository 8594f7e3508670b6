"""disclosed_inequality_gaps: the inequality gaps of the published values.

`inequality_frame` (metrics_cli/sii.py) over the IMD quintile and Core20 rows of
`disclosed_metric_values` (values and limits from rounded counts; withheld rows have no
value), with the quintiles' registered populations rounded to `disclosure_rounding` as the
SII weights, then `protect_inequality_gaps` (metrics_cli/disclosure.py) hides what would
let a withheld quintile be solved back. docs/publication.md says why.
"""

from typing import Any

from metrics_cli.disclosure import protect_inequality_gaps, round_to_base
from metrics_cli.sii import inequality_frame


def model(dbt: Any, session: Any) -> Any:
    dbt.config(materialized="table")
    repetitions = int(dbt.config.meta_get("sii_repetitions"))
    seed = int(dbt.config.meta_get("sii_seed"))
    rounding = int(dbt.config.meta_get("disclosure_rounding"))
    disclosed = (
        dbt.ref("disclosed_metric_values")
        .filter("breakdown_type in ('imd_quintile', 'core20')")
        .pl()
    )
    catalogue = dbt.ref("metric_catalogue").pl()
    populations = dbt.ref("int_quintile_populations").pl()
    if rounding > 1:
        # the weights as published elsewhere: rounded like every count of people
        populations = populations.with_columns(round_to_base("patients", rounding))
    gaps = inequality_frame(
        disclosed, catalogue, populations, repetitions=repetitions, seed=seed
    )
    return protect_inequality_gaps(gaps, disclosed).to_arrow()
