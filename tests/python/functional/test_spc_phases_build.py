"""The spc_phases seed reaches the charts: a copy of the project whose seed recalculates the
tiny neighbourhood's same-day share from the month its same-day hub opened (month 13), built
on the tiny synthetic ICB. Each segment's mean is the mean of its own months' values."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.build import build

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
PROJECT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests/dbt")


def test_a_phase_recalculates_the_limits_from_its_month(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    for part in PROJECT_PARTS:
        source, target = REPO_ROOT / part, project / part
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    organisations = (tiny_data / "organisations.csv").read_text(encoding="utf-8").splitlines()
    header = organisations[0].split(",")
    neighbourhood = organisations[1].split(",")[header.index("neighbourhood_code")]
    gpad = pl.read_csv(tiny_data / "gp_appointments.csv", infer_schema_length=0)
    first = gpad["APPOINTMENT_MONTH_START_DATE"].str.to_date("%d%b%Y").min()
    assert isinstance(first, date)
    hub = date(first.year + 1, first.month, 1).isoformat()  # month 13
    (project / "seeds" / "spc_phases.csv").write_text(
        "metric_id,geography_type,geography_code,recalculate_from,baseline_points\n"
        f"same_day_share,neighbourhood,{neighbourhood},{hub},\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NBHD_PROJECT_DIR", str(project))
    monkeypatch.setenv("NBHD_STATE_DIR", str(tmp_path / "state"))
    warehouse = tmp_path / "warehouse.duckdb"
    result = build(tiny_data, warehouse, {})
    assert result.ok, result.summary()

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select period_start >= cast(? as date), value, mean, point_type from metric_spc "
            "where metric_id = 'same_day_share' and geography_type = 'neighbourhood' "
            "order by period_start",
            [hub],
        ).fetchall()
    assert len(rows) == 24
    for after in (False, True):
        segment = [row for row in rows if row[0] is after]
        assert len(segment) == 12
        mean = sum(row[1] for row in segment) / 12
        assert all(row[2] == pytest.approx(mean, rel=1e-12) for row in segment)
    # one chart over the step flags the months after it as improvement (a run of 7 and
    # more above the mean: test_same_day_hub_is_special_cause_improvement); each phase
    # charted on its own has no such run
    assert sum(row[3] == "special_cause_improvement" for row in rows) < 7
