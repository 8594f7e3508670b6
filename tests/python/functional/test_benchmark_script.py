"""`make bench` runs benchmarks/run.py; keep the script working at tiny scale.

The build's split into stages and dbt model groups is checked on a made-up timeline, so the
test stays fast; the script itself runs generate and the two reference points.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import run as bench  # noqa: E402  (benchmarks/ is scripts, not a package)


def _run(out: Path, steps: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--scale", "tiny",
         "--seed", "1", "--steps", steps, "--out", str(out)],
        capture_output=True, text=True, check=False,
    )


def test_benchmark_records_time_memory_and_reference_points(tmp_path: Path) -> None:
    completed = _run(tmp_path, "generate,floor,pandas")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads((tmp_path / "tiny" / "results.json").read_text())
    rows = {row["stage"]: row for row in results["stages"]}
    assert rows["generate"]["exit_code"] == 0 and rows["generate"]["seconds"] > 0
    assert rows["generate"]["peak_mib"] > 50
    assert (tmp_path / "tiny" / "data-seed1" / "organisations.csv").is_file()
    # both references compute the same indices over the same patient-windows
    assert rows["floor"]["note"] == rows["pandas"]["note"]
    assert "patient-windows" in rows["floor"]["note"]
    assert (tmp_path / "tiny" / "results.csv").read_text().startswith("stage,kind,seconds")
    assert "floor" in completed.stdout and "targets use CPU seconds" in completed.stdout

    again = _run(tmp_path, "generate")  # the data directory is kept between runs
    assert again.returncode == 0, again.stdout + again.stderr
    (row,) = json.loads((tmp_path / "tiny" / "results.json").read_text())["stages"]
    assert row["note"] == "cached"


def _iso(second: float) -> str:
    return f"2026-12-05T10:00:{second:06.3f}Z"


def test_build_is_split_into_stages_and_model_groups(tmp_path: Path) -> None:
    start = bench._epoch(_iso(0))
    models = {
        "model.nbhd.stg_gp_encounters": ("models/staging/gp/stg_gp_encounters.sql", 2, 4),
        "model.nbhd.int_continuity_patient_indices": (
            "models/intermediate/continuity/int_continuity_patient_indices.sql", 4, 8),
        "model.nbhd.disclosed_metric_values": ("models/marts/disclosed_metric_values.sql", 8, 9),
        "model.nbhd.metric_values": ("models/marts/metric_values.sql", 9, 10),
    }
    manifest: dict[str, Any] = {
        "nodes": {
            uid: {"resource_type": "model", "original_file_path": path}
            for uid, (path, _, _) in models.items()
        },
        "unit_tests": {"unit_test.nbhd.x.y": {"resource_type": "unit_test"}},
    }
    results = [
        {"unique_id": uid, "status": "success",
         "timing": [{"name": "execute", "started_at": _iso(s), "completed_at": _iso(e)}]}
        for uid, (_, s, e) in models.items()
    ]
    results.append({"unique_id": "unit_test.nbhd.x.y", "status": "pass", "timing": [
        {"name": "execute", "started_at": _iso(10), "completed_at": _iso(11)}]})
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results}))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    # one CPU second per second, memory growing by 1 MiB a second
    samples = [(start + t, float(t), (100 + t) * 1024**2) for t in range(13)]
    timeline = {
        "samples": samples,
        "marks": [
            {"stage": "validate", "start": start, "end": start + 1, "cpu_start": 0, "cpu_end": 1},
            {"stage": "load", "start": start + 1, "end": start + 2, "cpu_start": 1, "cpu_end": 2},
            {"stage": "dbt", "start": start + 2, "end": start + 12, "cpu_start": 2, "cpu_end": 12},
        ],
        "run_results": str(tmp_path / "run_results.json"),
        "manifest": str(tmp_path / "manifest.json"),
    }
    rows, nodes = bench.build_rows(timeline)
    by_stage = {row.stage: row for row in rows}
    assert [row.stage for row in rows] == [
        "validate", "load", "dbt staging", "dbt intermediate continuity",
        "int_continuity_patient_indices", "dbt marts", "dbt disclosure", "dbt tests",
        "dbt other",
    ]
    continuity = by_stage["dbt intermediate continuity"]
    assert continuity.seconds == 4 and continuity.cpu_seconds == 4
    assert continuity.peak_mib == 109  # the sample just after the model ended
    indices = by_stage["int_continuity_patient_indices"]
    assert (indices.kind, indices.seconds, indices.cpu_seconds) == ("dbt model", 4, 4)
    assert by_stage["dbt other"].seconds == 10 - 9  # dbt's time outside any node
    assert len(nodes) == 5

    outcome = bench.Outcome(rows=[
        bench.Row("build", "step", 100, 60, 500, 0),
        bench.Row("floor", "reference", 2, 2, 100, 0),
        bench.Row("pandas", "reference", 20, 20, 100, 0),
        continuity,
        bench.Row("int_continuity_patient_indices", "dbt model", 2.5, 2, 100),
        bench.Row("report per report", "step", 1, 0.5, None),
    ])
    outcome.ratios = bench.ratios(outcome)
    assert outcome.ratios == {
        "build / floor": 30.0,
        "continuity models / floor": 2.0,
        "pandas / continuity models": 5.0,
        "pandas / per-patient indices model": 10.0,
    }
    assert bench.ratios(outcome, "seconds") == {
        "build / floor": 50.0,
        "continuity models / floor": 2.0,
        "pandas / continuity models": 5.0,
        "pandas / per-patient indices model": 8.0,
    }
    verdicts = {t["target"]: t["met"] for t in bench.check_targets(outcome, "icb")}
    assert all(verdicts.values()), verdicts


def test_references_are_checked_against_what_the_build_computed() -> None:
    built = {"rows": 10, "mean_upc": 0.5, "mean_coc": 0.25, "mean_secon": 0.2, "mean_mmci": 0.4}
    floor = {"rows": 10, "windows": 3, "mean_upc": 0.5 + 1e-12, "mean_coc": 0.25}
    pandas = {**built, "windows": 3, "mean_secon": 0.2001}
    lines, agree = bench.reference_checks(built, {"floor": floor})
    assert agree and lines[-1] == "  floor: same means as the build (upc, coc)"
    lines, agree = bench.reference_checks(built, {"floor": floor, "pandas": pandas})
    assert not agree
    assert lines[-1] == "  pandas does not compute what the build computes: check (mean_secon)"
    lines, agree = bench.reference_checks(built, {"floor": {**floor, "rows": 9}})
    assert not agree and lines[-1].endswith("check (patient-windows)")


def test_a_step_that_did_not_finish_meets_no_target() -> None:
    outcome = bench.Outcome(rows=[bench.Row("report", "step", 340, 600, 900, -15)])
    (report,) = [t for t in bench.check_targets(outcome, "national") if "report" in t["target"]]
    assert report["measured"] is None and report["met"] is None
