"""disclosed_metric_spc: the Making Data Count charts of the published monthly values.

The chart is drawn on the months `disclosed_metric_values` shows (values from rounded
counts); withheld months are left out of the chart and kept as rows without a value, so
that `protect_spc` (metrics_cli/disclosure.py) can apply the series-level hiding rules:
a withheld month hides its point, a series with one hides its mean, limits and assurance,
a withheld last month hides the variation icon. docs/publication.md says why.
"""

from typing import Any

import polars as pl

from metrics_cli.disclosure import protect_spc
from metrics_cli.marts import SPC_COLUMNS
from metrics_cli.spc import SERIES_KEYS, spc_frame

SERIES_COLUMNS = (
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
        .agg(pl.col(column).last() for column in SERIES_COLUMNS)
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


def model(dbt: Any, session: Any) -> Any:
    dbt.config(materialized="table")
    screen = str(dbt.config.meta_get("spc_screen_outliers")).strip().lower() in ("true", "1")
    monthly = (
        dbt.ref("disclosed_metric_values")
        .filter("period_grain = 'month' and breakdown_type = 'all'")
        .pl()
    )
    catalogue = dbt.ref("metric_catalogue").pl()
    targets = dbt.ref("spc_targets").pl()
    phases = dbt.ref("spc_phases").pl()
    shown = monthly.filter(~pl.col("is_suppressed") & pl.col("value").is_not_null())
    charted = spc_frame(shown, catalogue, targets, screen, phases=phases).select(SPC_COLUMNS)
    points = with_withheld_months(charted, monthly, targets)
    return protect_spc(points, monthly).to_arrow()
