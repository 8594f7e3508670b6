"""`nbhd report --out DIR` owns DIR as `validate`, `publish` and `import` own theirs (issue 14,
third round): a manifest lists every report written, a later run adds or replaces only the
tool's own files, a directory or file the tool did not write is refused, and a report run
stopped by ctrl-C or SIGTERM stops its workers at once and leaves no partial report.

HTML reports are used where the format does not matter: they render in a second, a PDF in
several."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from metrics_cli.cli import main

NEIGHBOURHOOD = ["--neighbourhood", "NBH0001"]
PLACE = ["--place", "E06900001"]
PERIOD = "2025-03"  # the tiny ICB's latest month


def report(warehouse: Path, out: Path, *scope: str) -> int:
    arguments = ["report", *scope, "--format", "html", "--out", str(out)]
    return main([*arguments, "--warehouse", str(warehouse)])


def one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def entry(kind: str, code: str) -> dict[str, str]:
    return {"kind": kind, "code": code, "format": "html", "period": PERIOD}


STATIC = {"format": "html", "holds": "the reports' styles and fonts"}


@pytest.mark.slow
def test_two_scopes_reported_into_one_directory_are_both_kept(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "board" / "reports"
    assert report(tiny_warehouse, out, *NEIGHBOURHOOD) == 0
    first = (out / "neighbourhood_NBH0001.html").read_bytes()
    assert report(tiny_warehouse, out, *PLACE) == 0
    assert report(tiny_warehouse, out, *NEIGHBOURHOOD) == 0  # replaces its own file only

    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "neighbourhood_NBH0001.html",
        "place_E06900001.html",
        "static",
    ]
    assert (out / "neighbourhood_NBH0001.html").read_bytes() == first  # same inputs, same bytes
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == {
        "written_by": "nbhd report",
        "files": {
            "neighbourhood_NBH0001.html": entry("neighbourhood", "NBH0001"),
            "place_E06900001.html": entry("place", "E06900001"),
            "static": STATIC,
        },
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board"]  # no lock, no staging left


@pytest.mark.slow
def test_a_directory_the_tool_did_not_write_is_refused(
    tiny_warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the report was written in beside the user's files."""
    (tmp_path / "minutes.docx").write_bytes(b"the board's minutes")

    assert report(tiny_warehouse, tmp_path, *NEIGHBOURHOOD) == 2
    assert one_sentence(capsys) == (
        f"nbhd: --out {tmp_path} is not empty and was not written by nbhd report; "
        "choose a new or empty directory\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minutes.docx"]


@pytest.mark.slow
def test_a_users_file_in_the_reports_directory_is_never_replaced(
    tiny_warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a file the user saved under a report's name was overwritten."""
    assert report(tiny_warehouse, tmp_path, *NEIGHBOURHOOD) == 0
    capsys.readouterr()
    theirs = tmp_path / "place_E06900001.html"
    theirs.write_text("my annotated copy", encoding="utf-8")

    assert report(tiny_warehouse, tmp_path, *PLACE) == 2
    assert one_sentence(capsys) == (
        f"nbhd: {theirs} was not written by nbhd report; "
        "move it away or write the reports into another directory\n"
    )
    assert theirs.read_text(encoding="utf-8") == "my annotated copy"


@pytest.mark.slow
def test_the_validation_report_beside_the_warehouse_is_not_a_reports_directory(
    tiny_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validation = tiny_warehouse.parent / "validation"
    before = sorted(p.name for p in validation.iterdir())

    assert report(tiny_warehouse, validation, *NEIGHBOURHOOD) == 2
    assert one_sentence(capsys) == (
        f"nbhd: --out {validation} is not empty and was not written by nbhd report; "
        "choose a new or empty directory\n"
    )
    assert sorted(p.name for p in validation.iterdir()) == before


@pytest.mark.slow
def test_reports_written_before_the_manifest_are_recognised(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    """A directory holding only report files (as `nbhd demo` left `demo/reports`) is the
    tool's: a new report goes in beside them, and the manifest adopts them."""
    (tmp_path / "neighbourhood_NBH0001.pdf").write_bytes(b"%PDF- an earlier report")

    assert report(tiny_warehouse, tmp_path, *PLACE) == 0
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["files"] == {
        "neighbourhood_NBH0001.pdf": {"written_by": "an earlier version"},
        "place_E06900001.html": entry("place", "E06900001"),
        "static": STATIC,
    }
    assert (tmp_path / "neighbourhood_NBH0001.pdf").read_bytes() == b"%PDF- an earlier report"


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_report_run_stopped_by_a_signal_stops_at_once_and_keeps_only_whole_reports(
    stop: signal.Signals, tiny_warehouse: Path, tmp_path: Path
) -> None:
    """Before: ctrl-C waited for every report under way (seconds each), then said
    "interrupted" with exit code 2. Now the workers are stopped at once, the staging folder
    goes with whatever they were writing, and the exit code is the shell's for the signal."""
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "metrics_cli.cli", "report", "--all", "--format", "pdf"]
    process = subprocess.Popen(
        [*command, "--out", str(out), "--warehouse", str(tiny_warehouse)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(out.glob("*.pdf")):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(stop)
    signalled = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    stopped_after = time.monotonic() - signalled

    assert process.returncode == 128 + stop, stderr
    assert stderr.decode().splitlines()[-1] == (
        f"nbhd: stopped by {stop.name}; temporary files were removed"
    )
    assert b"Traceback" not in stderr
    assert stopped_after < 3, stopped_after  # a PDF of the tiny ICB takes about 7 s
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    kept = sorted(p.name for p in out.iterdir())
    assert kept == sorted([*manifest["files"], "manifest.json"])  # nothing hidden, no staging
    assert 1 <= len(manifest["files"]) < 4  # the tiny ICB has four reports
    for name in manifest["files"]:
        pdf = (out / name).read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF"), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]  # its lock removed
