"""`make bench` runs benchmarks/run.py; keep the script working at tiny scale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_records_time_and_memory(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run.py"), "--scale", "tiny",
         "--steps", "generate", "--out", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (result,) = json.loads((tmp_path / "tiny" / "results.json").read_text())
    assert result["step"] == "generate" and result["exit_code"] == 0
    assert result["seconds"] > 0
    assert result["peak_memory_mib"] > 50
    assert (tmp_path / "tiny" / "data" / "organisations.csv").is_file()
