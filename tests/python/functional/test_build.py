"""`nbhd build` on the tiny synthetic ICB: the real warehouse, reconciled against the inputs.

These tests share one session-scoped build (tests/python/conftest.py) and open it read-only.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.build import build
from metrics_cli.errors import DataError

pytestmark = pytest.mark.slow

MARTS = (
    "metric_values",
    "metric_spc",
    "inequality_gaps",
    "maturity_levels",
    "maturity_criteria_results",
    "data_quality",
    "geographies",
)


def _sql(warehouse: Path, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_mart_is_built(tiny_warehouse: Path) -> None:
    tables = {row[0] for row in _sql(tiny_warehouse, "select table_name from duckdb_tables()")}
    assert set(MARTS) <= tables


def test_input_rows_reconcile_to_loaded_plus_quarantined(
    tiny_warehouse: Path, tiny_data: Path
) -> None:
    files = _sql(
        tiny_warehouse,
        "select dataset, rows_read, rows_loaded, rows_quarantined from raw.input_files",
    )
    assert {row[0] for row in files} >= {"organisations", "gp_encounters", "gp_appointments"}
    for dataset, read, loaded, quarantined in files:
        assert read == loaded + quarantined, dataset
        raw_count = _sql(tiny_warehouse, f'select count(*) from raw."{dataset}"')[0][0]
        assert raw_count == loaded, dataset
    encounters = pl.read_csv(tiny_data / "gp_encounters.csv")
    read = dict((row[0], row[1]) for row in files)
    assert read["gp_encounters"] == encounters.height


def test_same_day_share_matches_the_gpad_file(tiny_warehouse: Path, tiny_data: Path) -> None:
    """An access figure recomputed by hand from the published-format GPAD file."""
    gpad = pl.read_csv(tiny_data / "gp_appointments.csv", infer_schema_length=0).with_columns(
        pl.col("COUNT_OF_APPOINTMENTS").cast(pl.Int64)
    )
    practice, month_text = (
        gpad.row(0, named=True)["GP_CODE"],
        gpad.row(0, named=True)["APPOINTMENT_MONTH_START_DATE"],
    )
    rows = gpad.filter(
        (pl.col("GP_CODE") == practice) & (pl.col("APPOINTMENT_MONTH_START_DATE") == month_text)
    )
    known = rows.filter(pl.col("TIME_BETWEEN_BOOK_AND_APPT") != "Unknown / Data Quality")
    same_day = known.filter(pl.col("TIME_BETWEEN_BOOK_AND_APPT") == "Same Day")
    expected = 100 * same_day["COUNT_OF_APPOINTMENTS"].sum() / known["COUNT_OF_APPOINTMENTS"].sum()
    ((value, numerator, denominator, method),) = _sql(
        tiny_warehouse,
        "select value, numerator, denominator, method from metric_values "
        "where metric_id = 'same_day_share' and geography_type = 'practice' "
        f"and geography_code = '{practice}' and period_grain = 'month' "
        "and period_start = (select min(period_start) from metric_values "
        "  where metric_id = 'same_day_share')",
    )
    assert numerator == same_day["COUNT_OF_APPOINTMENTS"].sum()
    assert denominator == known["COUNT_OF_APPOINTMENTS"].sum()
    assert value == pytest.approx(expected, abs=1e-9)
    assert method == "wilson"


def test_practices_sum_to_the_icb(tiny_warehouse: Path) -> None:
    """Numerators and denominators are summed up the hierarchy, never rates averaged."""
    rows = _sql(
        tiny_warehouse,
        """
        select
            parent.metric_id,
            parent.period_grain,
            parent.period_start,
            parent.numerator,
            sum(child.numerator),
            parent.denominator,
            sum(child.denominator)
        from metric_values as parent
        inner join metric_values as child
            on child.metric_id = parent.metric_id
            and child.period_grain = parent.period_grain
            and child.period_start = parent.period_start
            and child.breakdown_type = parent.breakdown_type
            and child.breakdown_value = parent.breakdown_value
            and child.geography_type = 'practice'
        where parent.geography_type = 'icb' and parent.breakdown_type = 'all'
            and parent.metric_id in ('dna_rate', 'ae_attendance_rate', 'continuity_slicc')
        group by all
        """,
    )
    assert len(rows) > 20
    for metric_id, _, _, parent_num, child_num, parent_den, child_den in rows:
        assert parent_num == pytest.approx(child_num), metric_id
        assert parent_den == pytest.approx(child_den), metric_id


def test_planted_continuity_gradient_by_deprivation(tiny_warehouse: Path) -> None:
    """Continuity is planted lower in deprived areas: UPC rises from quintile 1 to 5."""
    values = dict(
        _sql(
            tiny_warehouse,
            "select breakdown_value, value from metric_values "
            "where metric_id = 'continuity_upc' and geography_type = 'all' "
            "and breakdown_type = 'imd_quintile' and period_grain = 'financial_year' "
            "and period_start = (select max(period_start) from metric_values "
            "  where metric_id = 'continuity_upc' and period_grain = 'financial_year')",
        )
    )
    present = sorted(values)
    assert len(present) >= 3
    assert values[present[0]] < values[present[-1]]


def test_planted_same_day_hub_step_change(tiny_warehouse: Path) -> None:
    """The tiny neighbourhood opens a same-day hub at month 13: the share steps up."""
    series = _sql(
        tiny_warehouse,
        "select period_start, value from metric_values "
        "where metric_id = 'same_day_share' and geography_type = 'neighbourhood' "
        "and breakdown_type = 'all' order by period_start",
    )
    assert len(series) == 24
    before = [value for _, value in series[:12]]
    after = [value for _, value in series[12:]]
    assert min(after) > max(before)
    assert sum(after) / 12 - sum(before) / 12 > 10


def test_planted_shift_to_community_spend(tiny_warehouse: Path) -> None:
    """The tiny ICB's only place is the shifting place: its spend share rises every year."""
    shares = [
        value
        for _, value in _sql(
            tiny_warehouse,
            "select period_start, value from metric_values "
            "where metric_id = 'primary_community_spend_share' and geography_type = 'place' "
            "order by period_start",
        )
    ]
    assert len(shares) >= 2
    assert all(later > earlier for earlier, later in itertools.pairwise(shares))


def test_failed_build_leaves_the_last_good_warehouse(
    tiny_warehouse: Path, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(tiny_warehouse, warehouse)
    before = _digest(warehouse)

    # a file-level error: the required organisations dataset is missing
    broken = tmp_path / "broken"
    shutil.copytree(tiny_data, broken)
    (broken / "organisations.csv").unlink()
    with pytest.raises(DataError, match="file-level"):
        build(broken, warehouse, {})
    assert _digest(warehouse) == before

    # a dbt failure: a var that makes a model's SQL invalid (`nbhd build` refuses such a
    # value before any work; here it is let through to make dbt fail)
    monkeypatch.setattr("metrics_cli.build.checked_vars", dict)
    result = build(tiny_data, warehouse, {"funding_need_weight": "not-a-number"})
    assert not result.ok
    assert result.dbt_failures
    assert _digest(warehouse) == before
    assert _sql(warehouse, "select count(*) from metric_values")[0][0] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".nbhd-build-")]


def test_build_stopped_by_sigterm_removes_its_temporary_directory(
    tiny_warehouse: Path, start_build: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """`timeout` and schedulers stop jobs with SIGTERM: the build's `.nbhd-build-*` directory
    goes with it, and the previous warehouse stays as it was."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy2(tiny_warehouse, warehouse)
    before = _digest(warehouse)
    process = start_build(warehouse, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def build_dirs() -> list[Path]:
        return [p for p in tmp_path.iterdir() if p.name.startswith(".nbhd-build-")]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".nbhd-build-*/*.duckdb")):
        # the new warehouse file appears once validation is over: loading and dbt are next
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    assert build_dirs(), "the build never created its temporary directory"
    time.sleep(2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert b"stopped" in stderr
    assert not build_dirs()
    assert _digest(warehouse) == before
