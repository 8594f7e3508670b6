"""Registered populations as real data have them (issue 16): a practice that closes mid-series
and a practice missing from `registered_population`, each built from the tiny synthetic ICB
with that one change. Expected figures are recomputed from the input files.

Before the fix, the closed practice kept its last list size for ever (the tiny ICB's A&E rate
in October 2024 was 521 / 15,219 instead of 321 / 9,961 per 1,000 here, 35% too low) and the
missing practice's activity inflated its PCN (A&E 51.07 instead of 35.68 per 1,000).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.build import build
from metrics_cli.report.figures import (
    DisclosedValues,
    load_disclosed_metric_values,
    resolve_period,
)
from metrics_cli.report.html import render_html
from metrics_cli.report.sections import build_report
from metrics_cli.warehouse import open_warehouse

pytestmark = pytest.mark.slow

CLOSED = "Y01001"  # closes on 2024-06-30; hospital records still name it for 3 months
MISSING = "Y01003"  # absent from every registered_population extract
CLOSURE_MONTH = "2024-07-01"
LAGGING_MONTHS = ("2024-07-01", "2024-08-01", "2024-09-01")


def _read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema_length=0)


def _close_practice(data: Path) -> None:
    population = _read(data / "registered_population.csv")
    population.filter(
        ~((pl.col("practice_code") == CLOSED) & (pl.col("extract_date") >= CLOSURE_MONTH))
    ).write_csv(data / "registered_population.csv")
    organisations = _read(data / "organisations.csv")
    organisations.with_columns(
        valid_to=pl.when(pl.col("practice_code") == CLOSED)
        .then(pl.lit("2024-06-30"))
        .otherwise(pl.col("valid_to"))
    ).write_csv(data / "organisations.csv")
    gpad = _read(data / "gp_appointments.csv")
    month = pl.col("APPOINTMENT_MONTH_START_DATE").str.to_date("%d%b%Y")
    gpad.filter(~((pl.col("GP_CODE") == CLOSED) & (month >= pl.date(2024, 7, 1)))).write_csv(
        data / "gp_appointments.csv"
    )
    workforce = _read(data / "workforce.csv")
    workforce.filter(  # PCN-employed staff (no practice) stay
        ~(pl.col("practice_code").eq_missing(CLOSED) & (pl.col("census_date") >= CLOSURE_MONTH))
    ).write_csv(data / "workforce.csv")
    hospital = _read(data / "hospital_activity.csv")
    hospital.filter(
        ~(
            (pl.col("practice_code") == CLOSED)
            & (pl.col("month") >= CLOSURE_MONTH)
            & ~pl.col("month").is_in(LAGGING_MONTHS)
        )
    ).write_csv(data / "hospital_activity.csv")


def _drop_practice_population(data: Path) -> None:
    population = _read(data / "registered_population.csv")
    population.filter(pl.col("practice_code") != MISSING).write_csv(
        data / "registered_population.csv"
    )


def _variant(
    tiny_data: Path, factory: pytest.TempPathFactory, change: Callable[[Path], None]
) -> tuple[Path, Path]:
    data = factory.mktemp("variant") / "data"
    shutil.copytree(tiny_data, data)
    change(data)
    warehouse = data.parent / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NBHD_STATE_DIR", str(data.parent / "state"))
        result = build(data, warehouse, {})
    assert result.ok, result.summary()
    return data, warehouse


@pytest.fixture(scope="module")
def closure(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _variant(tiny_data, tmp_path_factory, _close_practice)


@pytest.fixture(scope="module")
def missing(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _variant(tiny_data, tmp_path_factory, _drop_practice_population)


def _sql(warehouse: Path, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def _ae_attendances(data: Path, month: str, practices: set[str]) -> int:
    hospital = _read(data / "hospital_activity.csv").filter(
        (pl.col("month") == month)
        & pl.col("practice_code").is_in(practices)
        & pl.col("activity_type").is_in(["ae_type1", "ae_other"])
    )
    return int(hospital["events"].cast(pl.Int64).sum())


def _list_size(data: Path, extract_date: str, practices: set[str]) -> int:
    population = _read(data / "registered_population.csv").filter(
        (pl.col("extract_date") == extract_date) & pl.col("practice_code").is_in(practices)
    )
    return int(population["patients"].cast(pl.Int64).sum())


def _ae_rate(warehouse: Path, month: str, geography: str) -> tuple[object, ...]:
    """numerator, denominator, value and not_calculated_reason of the A&E rate of a month;
    `geography` is a condition on geography_type and geography_code."""
    ((row),) = _sql(
        warehouse,
        "select numerator, denominator, value, not_calculated_reason from metric_values "
        "where metric_id = 'ae_attendance_rate' and breakdown_type = 'all' "
        f"and {geography} and period_grain = 'month' and period_start = '{month}'",
    )
    return row


def _assert_rate_of(
    data: Path, warehouse: Path, geography: str, month: str, practices: set[str], extract: str
) -> None:
    """The geography's A&E rate of `month` is that of `practices` alone, per 1,000 of their
    list size in `extract`."""
    numerator, denominator, value, reason = _ae_rate(warehouse, month, geography)
    assert numerator == _ae_attendances(data, month, practices)
    assert denominator == _list_size(data, extract, practices)
    assert value == pytest.approx(numerator / denominator * 1000, rel=1e-12)  # type: ignore[operator]
    assert reason is None


def test_a_closed_practice_has_no_list_size_after_closing(closure: tuple[Path, Path]) -> None:
    data, warehouse = closure
    icb, others = "geography_type = 'icb'", {"Y01002", "Y01003"}
    # October 2024 uses the 2024-10-01 extract, which no longer lists the closed practice
    _assert_rate_of(data, warehouse, icb, "2024-10-01", others, "2024-10-01")
    # its hospital records that lag the closure are in no rate, its own or the ICB's
    assert _ae_attendances(data, "2024-08-01", {CLOSED}) > 0
    _assert_rate_of(data, warehouse, icb, "2024-08-01", others, "2024-07-01")
    closed_months = _sql(
        warehouse,
        "select cast(period_start as varchar) from metric_values "
        f"where metric_id = 'ae_attendance_rate' and geography_code = '{CLOSED}' "
        "and breakdown_type = 'all' and period_grain = 'month' and period_start >= '2024-06-01'",
    )
    assert closed_months == [("2024-06-01",)]
    # June still uses the April extract, which lists it
    _assert_rate_of(data, warehouse, icb, "2024-06-01", {CLOSED, *others}, "2024-04-01")


def test_data_quality_lists_activity_after_the_extracts_end(closure: tuple[Path, Path]) -> None:
    _, warehouse = closure
    rows = _sql(
        warehouse,
        "select dataset, check_name, severity, practice_code, "
        "cast(period_start as varchar), rows_affected from data_quality "
        "where check_name in ('no_registered_patients', 'extracts_end_before_activity') "
        "order by all",
    )
    lagging = [
        row[4]
        for row in rows
        if row[:4] == ("hospital_activity", "no_registered_patients", "warning", CLOSED)
    ]
    assert lagging == list(LAGGING_MONTHS)
    assert (
        "registered_population",
        "extracts_end_before_activity",
        "warning",
        CLOSED,
        "2024-07-01",
        3,
    ) in rows
    assert len(rows) == 4


def test_the_report_data_quality_page_shows_the_lagging_practice(
    closure: tuple[Path, Path],
) -> None:
    """The closed practice's neighbourhood report lists both checks on its data quality page."""
    _, warehouse = closure
    ((neighbourhood,),) = _sql(
        warehouse,
        "select distinct neighbourhood_code from raw.organisations "
        f"where practice_code = '{CLOSED}'",
    )
    with open_warehouse(warehouse) as wh:
        period = resolve_period(wh, None)
        disclosed = DisclosedValues.in_memory(load_disclosed_metric_values(wh, None))
        report = build_report(
            wh, disclosed, ("neighbourhood", str(neighbourhood)), period, date(2025, 7, 14)
        )
    shown = {(row.dataset, row.check_name): row.rows_affected for row in report.data_quality}
    assert shown[("registered_population", "extracts_end_before_activity")] == 3
    assert ("hospital_activity", "no_registered_patients") in shown
    page = render_html(report)
    assert "extracts_end_before_activity" in page
    assert "no_registered_patients" in page


def test_activity_without_patients_stays_out_of_its_parents(missing: tuple[Path, Path]) -> None:
    data, warehouse = missing
    registered = {"Y01001", "Y01002"}
    pcn = "geography_type = 'pcn'"
    _assert_rate_of(data, warehouse, pcn, "2024-10-01", registered, "2024-10-01")
    # the PCN's DSR is its registered practices' events over their populations
    ((pcn_events, pcn_population, pcn_value),) = _sql(
        warehouse,
        "select numerator, denominator, value from metric_values "
        "where metric_id = 'acsc_emergency_admission_dsr' and breakdown_type = 'all' "
        "and geography_type = 'pcn' and period_label = '2024/25'",
    )
    practices = _sql(
        warehouse,
        "select geography_code, numerator, denominator from metric_values "
        "where metric_id = 'acsc_emergency_admission_dsr' and breakdown_type = 'all' "
        "and geography_type = 'practice' and period_label = '2024/25' order by all",
    )
    assert [row[0] for row in practices] == sorted(registered)
    assert pcn_events == sum(row[1] for row in practices)  # type: ignore[misc]
    assert pcn_population == pytest.approx(sum(row[2] for row in practices), rel=1e-12)  # type: ignore[misc]
    assert pcn_value is not None


def test_a_practice_without_patients_has_no_rate_per_patient(
    missing: tuple[Path, Path],
) -> None:
    """Its appointments per 1,000 had a value of its appointments x 1,000 (2,006,000 in the
    issue) beside the reason 'no denominator'; now it has no row, and data_quality says why.
    Its shares of appointments (per appointment, not per patient) are still there."""
    _, warehouse = missing
    metrics = _sql(
        warehouse,
        "select distinct metric_id from metric_values "
        f"where geography_code = '{MISSING}' and period_start = '2024-10-01' order by all",
    )
    assert ("appointments_per_1000",) not in metrics
    assert ("ae_attendance_rate",) not in metrics
    assert ("same_day_share",) in metrics
    months = _sql(
        warehouse,
        "select dataset, count(*) from data_quality "
        f"where check_name = 'no_registered_patients' and practice_code = '{MISSING}' "
        "group by all order by all",
    )
    # and its payments, in financial years with no registered patients: no fair share
    assert months == [
        ("gp_appointments", 24),
        ("hospital_activity", 24),
        ("practice_payments", 2),
        ("workforce", 8),
    ]


def test_staff_without_patients_stay_out_of_their_parents(missing: tuple[Path, Path]) -> None:
    """The ICB's GP FTE at a census is that of its registered practices and its PCN's own
    staff: the missing practice's GPs are set against no patients, so they are left out."""
    data, warehouse = missing
    census = "2024-09-30"
    workforce = _read(data / "workforce.csv").filter(
        (pl.col("census_date") == census)
        & pl.col("staff_group").is_in(["gp_partner", "gp_salaried", "gp_locum"])
    )
    counted = workforce.filter(
        pl.col("practice_code").is_null() | (pl.col("practice_code") != MISSING)
    )
    left_out = workforce.filter(pl.col("practice_code") == MISSING)
    ((numerator,),) = _sql(
        warehouse,
        "select numerator from metric_values where metric_id = 'gp_fte_per_10k' "
        f"and geography_type = 'icb' and period_start = '{census}'",
    )
    assert left_out.height > 0
    assert numerator == pytest.approx(counted["fte"].cast(pl.Float64).sum(), rel=1e-12)
