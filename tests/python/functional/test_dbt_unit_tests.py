"""dbt's unit tests (the hand-worked rows in models/**/_*unit_tests.yml and the models'
YAML), run against the tiny ICB's warehouse.

`nbhd build` leaves them out (their inputs are static, so they say the same of every
build: metrics_cli/engines.py, `WITHOUT_UNIT_TESTS`); this is where `make test` runs them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from metrics_cli.build import run_dbt


def test_every_dbt_unit_test_passes(tiny_warehouse: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"  # dbt writes its fixtures' relations into it
    shutil.copyfile(tiny_warehouse, warehouse)
    work = tmp_path / "dbt"

    failures = run_dbt(["test", "--select", "test_type:unit"], warehouse, {}, work)

    assert failures == []
    declared = json.loads((work / "target" / "manifest.json").read_text())["unit_tests"]
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    ran = {result["unique_id"]: result["status"] for result in results}
    assert len(declared) >= 28  # every model family's hand-worked cases are found
    assert ran == dict.fromkeys(declared, "pass")
