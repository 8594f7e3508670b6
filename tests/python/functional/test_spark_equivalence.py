"""The tiny ICB built on Spark (a local session) gives the marts it gives on DuckDB.

Every key, label, flag and whole number is identical; every floating-point value agrees
to 1e-9 relative (docs/architecture.md, "Engines"). One Spark session serves the run (one
Spark build, compared with the session's DuckDB build of the same data). The Spark build
reads the maturity matrix as a replacement matrix (var maturity_matrix_dir, a copy of the
shipped one), so the same maturity marts also show that path portable. Never skipped:
`make test` installs PySpark and dbt-spark (the `spark` extra) and CI has Java 17; without
them the build fails and so does the test.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.engines import TARGETS
from metrics_cli.maturity import CRITERIA_FILE, DOMAINS_FILE, LEVELS_FILE, default_matrix_dir

MARTS = (
    "metric_values",
    "metric_spc",
    "inequality_gaps",
    "maturity_levels",
    "maturity_criteria_results",
    "maturity_matrix",
    "int_disclosure_decisions",
    "disclosed_metric_values",
    "disclosed_metric_spc",
    "disclosed_inequality_gaps",
)
RELATIVE = 1e-9

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark_warehouse(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ICB built by `nbhd build --target spark`."""
    from metrics_cli.build import build

    state = tmp_path_factory.mktemp("spark_state")
    matrix = tmp_path_factory.mktemp("matrix")
    for name in (DOMAINS_FILE, LEVELS_FILE, CRITERIA_FILE):
        shutil.copyfile(default_matrix_dir() / name, matrix / name)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NBHD_STATE_DIR", str(state))
    try:
        warehouse = tmp_path_factory.mktemp("spark") / "warehouse.duckdb"
        result = build(tiny_data, warehouse, {"maturity_matrix_dir": str(matrix)}, target="spark")
    finally:
        monkeypatch.undo()
        stop_spark()
    assert result.ok, result.summary()
    return warehouse


def stop_spark() -> None:
    """Stop the session `nbhd build --target spark` left for later builds: the rest of the
    test run has no use for its JVM."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:  # the build has already failed, saying what to install
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def _read(warehouse: Path, table: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame: pl.DataFrame = con.sql(f"select * from main.{table}").pl()
    return frame


def _float_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if dtype.is_float()]


def _same_number(a: float | None, b: float | None, scale: float) -> bool:
    """Equal to 1e-9 relative to the larger of the two, or to the metric's scale: a value
    that is a sum cancelling to zero by construction (the ICB's funding gap is its
    practices' payments minus their own fair shares) is rounding noise the size of the
    terms, not of the result."""
    if a is None or b is None:
        return a is None and b is None
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= RELATIVE * max(abs(a), abs(b), scale)


def _scales(frame: pl.DataFrame, column: str) -> list[float]:
    """Each row's scale for `column`: the largest magnitude of its metric's values there
    (of the whole column in a mart without metric_id)."""
    group = ["metric_id"] if "metric_id" in frame.columns else []
    largest = pl.col(column).abs().max().fill_null(0.0).fill_nan(0.0)
    scale = largest.over(group) if group else largest
    return [float(value) for value in frame.with_columns(scale.alias("scale"))["scale"]]


def differences(duck: pl.DataFrame, spark: pl.DataFrame) -> list[str]:
    """What differs between two builds of one mart: columns, keys (every column that is not
    floating point, compared exactly) or floating-point values beyond 1e-9 relative."""
    if duck.columns != spark.columns:
        return [f"columns {duck.columns} != {spark.columns}"]
    floats = _float_columns(duck)
    if floats != _float_columns(spark):
        return [f"floating-point columns {floats} != {_float_columns(spark)}"]
    keys = [name for name in duck.columns if name not in floats]
    # whole numbers may be HUGEINT on one engine and BIGINT on the other: compare as Int64
    duck, spark = (
        frame.with_columns(
            pl.col(name).cast(pl.Int64)
            for name, dtype in frame.schema.items()
            if dtype.is_integer()
        ).sort(keys, nulls_last=True)
        for frame in (duck, spark)
    )
    if duck.height != spark.height:
        return [f"{duck.height} rows != {spark.height} rows"]
    if not duck.select(keys).equals(spark.select(keys)):
        differing = [name for name in keys if not duck[name].equals(spark[name])]
        return [f"keys, labels or flags differ in {differing}"]
    found = []
    for name in floats:
        pairs = zip(duck[name], spark[name], _scales(duck, name), strict=True)
        for row, (a, b, scale) in enumerate(pairs):
            if not _same_number(a, b, scale):
                found.append(f"{name} row {row}: {a!r} != {b!r}")
    return found


def test_the_comparison_finds_a_difference() -> None:
    """The comparison fails on a value 1e-8 off, a flipped flag and a changed key."""
    base = pl.DataFrame({"key": ["a", "b"], "flag": [True, False], "value": [1.0, None]})
    assert differences(base, base.clone()) == []
    assert differences(base, base.with_columns(pl.Series("value", [1.0 + 1e-8, None])))
    assert not differences(base, base.with_columns(pl.Series("value", [1.0 + 1e-10, None])))
    assert differences(base, base.with_columns(pl.Series("flag", [True, True])))
    assert differences(base, base.with_columns(pl.Series("key", ["a", "c"])))
    assert differences(base, base.with_columns(pl.Series("value", [1.0, 0.0])))
    # a value cancelling to zero agrees to 1e-9 of its metric's largest value, no looser
    gaps = pl.DataFrame(
        {
            "metric_id": ["gap", "gap", "rate"],
            "geography": ["icb", "practice", "icb"],
            "value": [2e-10, 1000.0, 1e-3],
        }
    )
    near = gaps.with_columns(pl.Series("value", [-1e-10, 1000.0, 1e-3]))
    assert differences(gaps, near) == []
    far = gaps.with_columns(pl.Series("value", [2e-6, 1000.0, 1e-3]))
    assert differences(gaps, far) == ["value row 0: 2e-10 != 2e-06"]
    rate = gaps.with_columns(pl.Series("value", [2e-10, 1000.0, 1e-3 + 1e-11]))
    assert differences(gaps, rate) == ["value row 2: 0.001 != 0.00100000001"]


def test_spark_is_a_target() -> None:
    assert TARGETS == ("duckdb", "spark")


@pytest.mark.parametrize("mart", MARTS)
def test_spark_build_gives_the_duckdb_marts(
    mart: str, tiny_warehouse: Path, spark_warehouse: Path
) -> None:
    duck = _read(tiny_warehouse, mart)
    assert duck.height > 0
    assert differences(duck, _read(spark_warehouse, mart)) == []
