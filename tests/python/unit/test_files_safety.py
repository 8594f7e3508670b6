"""The shared file helpers: spreadsheet-safe CSV, output directories the tool owns, and the
refusal of any output path that is, holds or lies inside an input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from metrics_cli.errors import UsageError
from metrics_cli.files import (
    check_not_input,
    csv_bytes,
    neutralise,
    replace_owned_directory,
    safe_cell,
    staged_directory,
    write_csv,
)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("  =1+1", "'  =1+1"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("-1e-05", "-1e-05"),
        ("Practice =A", "Practice =A"),
        ("'=already", "'=already"),
        ("", ""),
    ],
)
def test_a_cell_that_would_start_a_formula_is_neutralised(value: str, written: str) -> None:
    assert safe_cell(value) == written
    frame = pl.DataFrame({"name": [value]})
    assert frame.select(neutralise(pl.col("name"))).item() == written


def test_the_shared_writer_neutralises_text_and_leaves_numbers(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"name": ["=HYPERLINK(1)", "Ok", None], "value": [-1.5, 2.0, None], "n": [-3, 4, 5]}
    )
    path = tmp_path / "out.csv"
    write_csv(frame, path)
    assert path.read_text(encoding="utf-8") == (
        "name,value,n\n'=HYPERLINK(1),-1.5,-3\nOk,2.0,4\n,,5\n"
    )
    assert csv_bytes(frame) == path.read_bytes()
    buffer = io.BytesIO()
    write_csv(frame.head(1), buffer, include_header=False)
    assert buffer.getvalue() == b"'=HYPERLINK(1),-1.5,-3\n"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[1][0] == "'=HYPERLINK(1)"


# ---------------------------------------------------------------- inputs are never outputs
@pytest.mark.parametrize("where", ["same", "inside", "parent", "input file"])
def test_an_output_that_is_holds_or_lies_in_an_input_is_refused(tmp_path: Path, where: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "spend.csv").write_text("a\n", encoding="utf-8")
    out = {
        "same": data,
        "inside": data / "validation",
        "parent": tmp_path,
        "input file": data / "spend.csv",
    }[where]
    with pytest.raises(UsageError) as raised:
        check_not_input(out, [data], "--out")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("--out ")
    assert str(data) in message


def test_an_output_beside_the_input_is_allowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    check_not_input(tmp_path / "validation", [data], "--out")
    check_not_input(tmp_path / "data2", [data], "--out")


def test_a_symlinked_output_into_the_input_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "link").symlink_to(data)
    with pytest.raises(UsageError):
        check_not_input(tmp_path / "link" / "out", [data], "--out")


# ---------------------------------------------------------------- owned directories
def _write_one(name: str) -> object:
    def write(staging: Path) -> None:
        (staging / name).write_text(name, encoding="utf-8")

    return write


def test_an_owned_directory_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "validation"
    replace_owned_directory(out, "nbhd validate", _write_one("first.txt"))  # type: ignore[arg-type]
    assert (out / "first.txt").read_text(encoding="utf-8") == "first.txt"
    replace_owned_directory(out, "nbhd validate", _write_one("second.txt"))  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "second.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_directory_the_tool_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "validation"
    out.mkdir()
    (out / "mine.xlsx").write_text("precious", encoding="utf-8")
    with pytest.raises(UsageError, match="not written by nbhd"):
        replace_owned_directory(out, "nbhd validate", _write_one("x.txt"))  # type: ignore[arg-type]
    assert [p.name for p in out.iterdir()] == ["mine.xlsx"]


def test_a_failed_write_leaves_the_previous_directory(tmp_path: Path) -> None:
    out = tmp_path / "validation"
    replace_owned_directory(out, "nbhd validate", _write_one("first.txt"))  # type: ignore[arg-type]

    def fail(staging: Path) -> None:
        (staging / "half.txt").write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_owned_directory(out, "nbhd validate", fail)
    assert sorted(p.name for p in out.iterdir()) == ["first.txt", "manifest.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_report_of_an_earlier_version_is_recognised_and_nothing_more(tmp_path: Path) -> None:
    """Before the manifest, `nbhd validate` wrote problems.csv, quarantine/,
    validation_results.parquet and the datasets' Parquet: such a directory is replaced; one
    holding anything else (an input CSV) is not."""
    legacy = tmp_path / "validation"
    (legacy / "quarantine").mkdir(parents=True)
    for name in ("problems.csv", "validation_results.parquet", "patients.parquet"):
        (legacy / name).write_bytes(b"x")
    replace_owned_directory(legacy, "nbhd validate", _write_one("new.txt"))  # type: ignore[arg-type]
    assert sorted(p.name for p in legacy.iterdir()) == ["manifest.json", "new.txt"]

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name in ("validation_results.parquet", "spend.csv"):
        (inputs / name).write_bytes(b"x")
    with pytest.raises(UsageError):
        replace_owned_directory(inputs, "nbhd validate", _write_one("new.txt"))  # type: ignore[arg-type]
    assert sorted(p.name for p in inputs.iterdir()) == ["spend.csv", "validation_results.parquet"]


def test_a_header_that_would_start_a_formula_is_neutralised_too() -> None:
    frame = pl.DataFrame({"=cmd|' /C calc'!A0": ["x"], "ok": ["-1"]})
    assert csv_bytes(frame) == b"'=cmd|' /C calc'!A0,ok\nx,-1\n"


def test_a_staged_directory_sweeps_what_a_killed_run_left_and_replaces_out(
    tmp_path: Path,
) -> None:
    """`nbhd publish` fills its new publication in `staged_directory`: a staging folder a
    publish killed outright (SIGKILL) left beside --out is removed by the next one, and a
    failure inside the block leaves --out and nothing else."""
    out = tmp_path / "published"
    out.mkdir()
    (out / "metric_values.csv").write_text("old\n")
    killed = tmp_path / ".published.nbhd-new-killed"
    killed.mkdir()
    (killed / "metric_values.csv").write_text("half written\n")
    with staged_directory(out) as staging:
        (staging / "metric_values.csv").write_text("new\n")
    assert (out / "metric_values.csv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published"]
    with pytest.raises(RuntimeError), staged_directory(out) as staging:
        (staging / "metric_values.csv").write_text("never\n")
        raise RuntimeError("disk full")
    assert (out / "metric_values.csv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["published"]
