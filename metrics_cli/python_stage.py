"""The build's Python stage: the marts computed by the project's tested Python functions.

SPC (metrics_cli/spc.py), the slope index of inequality (sii.py) and disclosure control
(disclosure.py, secondary.py) are sequential by nature, so they are not SQL. They used to
be dbt Python models, which only dbt-duckdb and dbt-databricks can run; here they are one
stage of the build instead, the same on every engine: between dbt invocations it reads its
inputs through the engine (`Engine.read`), computes, and writes one table per step into
schema `nbhd_stage` (`Engine.write`). The dbt model of the same name publishes that table
(`select ... from source('nbhd_stage', ...)`), so its documentation and tests stay in dbt.
docs/architecture.md, "Engines", says why.

The steps come in two waves: the first reads `metric_values`; the second reads
`disclosed_metric_values`, which dbt builds from the first wave's disclosure decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from metrics_cli.disclosure import (
    CELL_KEY,
    DECISION_COLUMNS,
    disclosure_decisions,
    protect_inequality_gaps,
    protect_spc,
    round_to_base,
)
from metrics_cli.marts import SPC_COLUMNS
from metrics_cli.sii import inequality_frame
from metrics_cli.spc import SERIES_KEYS, spc_frame

STAGE_SCHEMA = "nbhd_stage"

MONTHLY_ALL = "period_grain = 'month' and breakdown_type = 'all'"
INEQUALITY_ROWS = "breakdown_type in ('imd_quintile', 'core20')"


class Engine(Protocol):
    """Where the marts are: the stage reads dbt's relations and writes its own tables."""

    def read(
        self,
        relation: str,
        where: str | None = None,
        columns: Sequence[str] | None = None,
        order_by: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Every row of dbt relation `relation` (optionally those meeting SQL `where`), every
        column or `columns`, in the order of `order_by` (ascending, nulls first, as polars
        sorts) where given."""
        ...

    def write(self, table: str, frame: pl.DataFrame) -> None:
        """Replace table `table` of schema STAGE_SCHEMA with `frame`."""
        ...


Compute = Callable[[Engine, Mapping[str, Any]], pl.DataFrame]


@dataclass(frozen=True)
class Step:
    """One table of the stage: `table` in STAGE_SCHEMA, published by the dbt model of the
    same name; `compute` reads its inputs through the engine with the build's vars."""

    table: str
    compute: Compute


def _screen(dbt_vars: Mapping[str, Any]) -> bool:
    return str(dbt_vars["spc_screen_outliers"]).strip().lower() in ("true", "1")


def decisions_step(engine: Engine, dbt_vars: Mapping[str, Any]) -> pl.DataFrame:
    """int_disclosure_decisions: which metric_values rows are withheld, and why; decided
    once per build over every row (docs/disclosure-control.md)."""
    return disclosure_decisions(
        # only the columns decided on, already in the order the decisions go through them
        # (sorted by the database, which the decisions check before sorting again)
        engine.read("metric_values", columns=DECISION_COLUMNS, order_by=CELL_KEY),
        engine.read("metric_catalogue"),
        engine.read("int_practice_geographies"),
        int(dbt_vars["disclosure_threshold"]),
        int(dbt_vars["disclosure_rounding"]),
    )


def spc_step(engine: Engine, dbt_vars: Mapping[str, Any]) -> pl.DataFrame:
    """metric_spc: a Making Data Count XmR chart for every monthly series of breakdown all,
    with the baselines and recalculation points of the spc_phases seed."""
    return spc_frame(
        engine.read("metric_values", MONTHLY_ALL),
        engine.read("metric_catalogue"),
        engine.read("spc_targets"),
        _screen(dbt_vars),
        phases=engine.read("spc_phases"),
    )


def inequality_step(engine: Engine, dbt_vars: Mapping[str, Any]) -> pl.DataFrame:
    """inequality_gaps: quintile and Core20 gaps, and the slope and relative index."""
    return inequality_frame(
        engine.read("metric_values", INEQUALITY_ROWS),
        engine.read("metric_catalogue"),
        engine.read("int_quintile_populations"),
        repetitions=int(dbt_vars["sii_repetitions"]),
        seed=int(dbt_vars["sii_seed"]),
    )


SPC_SERIES_COLUMNS = (
    "mean",
    "lower_process_limit",
    "upper_process_limit",
    "lower_near_limit",
    "upper_near_limit",
    "variation_icon",
    "assurance_icon",
    "target",
)


def with_withheld_months(
    charted: pl.DataFrame, monthly: pl.DataFrame, targets: pl.DataFrame
) -> pl.DataFrame:
    """`charted` (spc_frame's rows) plus a row for every withheld month of `monthly`, with
    no value or point type and its series' columns (hidden later); `is_last_point` marks
    each series' latest month, withheld or not."""
    series = list(SERIES_KEYS)
    schema = charted.schema
    withheld = monthly.filter(pl.col("is_suppressed")).select(
        *series, pl.col("period_start").cast(pl.Date)
    )
    series_columns = (
        charted.sort([*series, "period_start"])
        .group_by(series, maintain_order=True)
        .agg(pl.col(column).last() for column in SPC_SERIES_COLUMNS)
    )
    series_targets = targets.select(
        "metric_id",
        "geography_type",
        "geography_code",
        pl.col("target").cast(pl.Float64).alias("_target"),
    ).unique(["metric_id", "geography_type", "geography_code"], keep="first")
    added = (
        withheld.join(series_columns, on=series, how="left")
        .join(series_targets, on=["metric_id", "geography_type", "geography_code"], how="left")
        .with_columns(
            pl.coalesce("target", "_target").alias("target"),
            pl.lit(None, dtype=pl.Float64).alias("value"),
            pl.lit(None, dtype=pl.Utf8).alias("point_type"),
            pl.lit(False).alias("is_last_point"),
        )
        .select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
    )
    combined = pl.concat([charted, added], how="vertical")
    return combined.with_columns(
        (pl.col("period_start") == pl.col("period_start").max().over(series)).alias(
            "is_last_point"
        )
    ).sort([*series, "period_start"])


def disclosed_spc_step(engine: Engine, dbt_vars: Mapping[str, Any]) -> pl.DataFrame:
    """disclosed_metric_spc: the charts of the published monthly values. Withheld months are
    left out of the chart and kept as rows without a value, so that `protect_spc` can apply
    the series-level hiding rules (docs/publication.md)."""
    monthly = engine.read("disclosed_metric_values", MONTHLY_ALL)
    targets = engine.read("spc_targets")
    shown = monthly.filter(~pl.col("is_suppressed") & pl.col("value").is_not_null())
    charted = spc_frame(
        shown,
        engine.read("metric_catalogue"),
        targets,
        _screen(dbt_vars),
        phases=engine.read("spc_phases"),
    ).select(SPC_COLUMNS)
    return protect_spc(with_withheld_months(charted, monthly, targets), monthly)


def disclosed_inequality_step(engine: Engine, dbt_vars: Mapping[str, Any]) -> pl.DataFrame:
    """disclosed_inequality_gaps: the gaps of the published values, the quintiles'
    populations rounded like every count of people as the SII weights; then what would let
    a withheld quintile be solved back is hidden (docs/publication.md)."""
    rounding = int(dbt_vars["disclosure_rounding"])
    disclosed = engine.read("disclosed_metric_values", INEQUALITY_ROWS)
    populations = engine.read("int_quintile_populations")
    if rounding > 1:
        populations = populations.with_columns(round_to_base("patients", rounding))
    gaps = inequality_frame(
        disclosed,
        engine.read("metric_catalogue"),
        populations,
        repetitions=int(dbt_vars["sii_repetitions"]),
        seed=int(dbt_vars["sii_seed"]),
    )
    return protect_inequality_gaps(gaps, disclosed)


WAVES: tuple[tuple[Step, ...], ...] = (
    (
        Step("int_disclosure_decisions", decisions_step),
        Step("metric_spc", spc_step),
        Step("inequality_gaps", inequality_step),
    ),
    (
        Step("disclosed_metric_spc", disclosed_spc_step),
        Step("disclosed_inequality_gaps", disclosed_inequality_step),
    ),
)


def run_wave(wave: tuple[Step, ...], engine: Engine, dbt_vars: Mapping[str, Any]) -> None:
    """Compute every step of `wave` and write its table."""
    for step in wave:
        engine.write(step.table, step.compute(engine, dbt_vars))


def wave_selectors(index: int) -> tuple[list[str], list[str]]:
    """dbt `--select` and `--exclude` for what is built after wave `index` (-1: before the
    first wave): what descends from this wave's tables and from no later wave's."""
    def descendants(waves: tuple[tuple[Step, ...], ...]) -> list[str]:
        return [f"source:{STAGE_SCHEMA}.{step.table}+" for wave in waves for step in wave]

    later = descendants(WAVES[index + 1 :])
    if index < 0:
        return [], later
    return descendants((WAVES[index],)), later
