"""`nbhd publish` on the real tiny build: the files users put on a website."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.cli import main
from metrics_cli.disclosure import apply_disclosure, settings_from_build_vars
from metrics_cli.marts import METRIC_VALUES_COLUMNS

pytestmark = pytest.mark.slow

COUNTS = ("numerator", "denominator", "unweighted_count")


def test_publish_the_real_marts(tiny_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    assert main(["publish", "--out", str(out), "--warehouse", str(tiny_warehouse)]) == 0
    for name in ("metric_values", "inequality_gaps", "metric_spc", "maturity_levels"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest

    published = pl.read_csv(out / "metric_values.csv", infer_schema_length=0)
    catalogue = pl.read_csv(out / "metric_catalogue.csv", infer_schema_length=0)
    people = catalogue.filter(pl.col("method").is_in(["wilson", "byars", "dsr_dobson"]))
    counted = published.join(people.select("metric_id"), on="metric_id")
    for column in COUNTS:
        shown = counted.filter(pl.col(column) != "*")[column].cast(pl.Float64)
        assert not shown.is_between(0.5, 7.5).any(), f"a count of 1 to 7 in {column}"
        assert (shown % 5 == 0).all(), f"{column} not rounded to 5"

    levels = pl.read_parquet(out / "maturity_levels.parquet")
    assert levels.height > 0


def test_unsuppressed_values_equal_the_warehouse(tiny_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    assert main(["publish", "--out", str(out), "--warehouse", str(tiny_warehouse)]) == 0
    published = pl.read_parquet(out / "metric_values.parquet").filter(~pl.col("is_suppressed"))
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        warehouse = con.sql(
            "select metric_id, period_grain, period_start, geography_type, geography_code, "
            "breakdown_type, breakdown_value, value, lower_95, upper_95 from metric_values"
        ).pl()
    keys = ["metric_id", "period_grain", "period_start", "geography_type", "geography_code",
            "breakdown_type", "breakdown_value"]
    joined = published.select([*keys, "value", "lower_95", "upper_95"]).join(
        warehouse, on=keys, suffix="_warehouse"
    )
    assert joined.height == published.height > 1000
    for column in ("value", "lower_95", "upper_95"):
        both = joined.filter(pl.col(column).is_not_null())
        assert (both[column] == both[f"{column}_warehouse"]).all(), column


def test_the_disclosed_mart_is_disclosure_control_of_metric_values(tiny_warehouse: Path) -> None:
    """The build's disclosed_metric_values is exactly apply_disclosure over every row with
    the build's vars, so reports and published files (which both read it) hide the same
    cells."""
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        metric_values = con.sql("select * from metric_values").pl()
        catalogue = con.sql("select * from metric_catalogue").pl()
        geographies = con.sql("select * from int_practice_geographies").pl()
        disclosed = con.sql("select * from disclosed_metric_values").pl()
        (vars_json,) = con.execute(
            "select value from raw.build_info where key = 'vars'"
        ).fetchone() or (None,)
    keys = ["metric_id", "period_grain", "period_start", "geography_type", "geography_code",
            "breakdown_type", "breakdown_value"]
    expected = apply_disclosure(
        metric_values.select(METRIC_VALUES_COLUMNS),
        catalogue,
        geographies,
        *settings_from_build_vars(vars_json),
    )
    assert disclosed.height == metric_values.height
    assert disclosed["is_suppressed"].sum() > 0
    assert disclosed.sort(keys).equals(expected.sort(keys))
