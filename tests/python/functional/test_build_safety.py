"""`nbhd build` only ever deletes what it created (issue 14, cases 1, 6, 7 and 9).

Most of these builds stop before dbt (a refused argument, or a file-level error in the
input), so they take a second; the SIGKILL test runs a real build until it is killed.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from metrics_cli import build as build_module
from metrics_cli.build import build
from metrics_cli.cli import main
from metrics_cli.errors import DataError, NbhdError, UsageError
from metrics_cli.files import file_lock, warehouse_lock

POPULATION = (
    "extract_date,practice_code,lsoa_code,sex,age_band,patients\n"
    "2024-04-01,A81001,E01012345,F,0-4,10\n"
)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def broken_inputs(directory: Path) -> Path:
    """An input directory with a file-level error (organisations missing): a build stops
    after validation, before it loads anything."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "registered_population.csv").write_text(POPULATION, encoding="utf-8")
    (directory / "spend.parquet").write_bytes(b"PAR1 not really")
    return directory


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NBHD_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


# ---------------------------------------------------------------- case 1
def test_a_build_never_deletes_an_input_directory_named_validation(tmp_path: Path) -> None:
    data = broken_inputs(tmp_path / "validation")
    before = snapshot(data)

    with pytest.raises(UsageError, match="--warehouse"):
        build(data, tmp_path / "w.duckdb", {})

    assert snapshot(data) == before


def test_a_build_never_overwrites_an_input_file_with_a_warehouse(tmp_path: Path) -> None:
    data = broken_inputs(tmp_path / "data")
    (data / "spend.csv").write_text("financial_year\n", encoding="utf-8")
    (data / "spend.parquet").unlink()
    before = snapshot(data)

    for warehouse in (data / "spend.csv", data / "w.duckdb"):
        with pytest.raises(UsageError):
            build(data, warehouse, {})
        assert snapshot(data) == before
    assert sorted(p.name for p in data.iterdir()) == sorted(before)


def test_a_build_never_replaces_a_validation_directory_it_did_not_write(tmp_path: Path) -> None:
    data = broken_inputs(tmp_path / "data")
    mine = tmp_path / "validation"
    mine.mkdir()
    (mine / "notes.docx").write_bytes(b"my own notes")

    with pytest.raises(UsageError, match="not written by nbhd"):
        build(data, tmp_path / "w.duckdb", {})

    assert snapshot(mine) == {"notes.docx": b"my own notes"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".nbhd-build-")]


def test_the_validation_report_of_a_stopped_build_is_where_the_message_says(
    tmp_path: Path,
) -> None:
    """Case 9: the build printed the path of a problems file it had already deleted."""
    data = broken_inputs(tmp_path / "data")

    with pytest.raises(DataError) as raised:
        build(data, tmp_path / "w.duckdb", {})

    assert raised.value.where == str(tmp_path / "validation" / "problems.csv")
    assert Path(raised.value.where).is_file()
    assert (tmp_path / "validation" / "manifest.json").is_file()
    # a second run replaces the report it wrote itself
    with pytest.raises(DataError):
        build(data, tmp_path / "w.duckdb", {})
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- case 6
def test_a_second_build_of_one_warehouse_is_refused(tmp_path: Path, state: Path) -> None:
    data = broken_inputs(tmp_path / "data")
    warehouse = tmp_path / "w.duckdb"

    with warehouse_lock(warehouse), pytest.raises(UsageError) as raised:
        build(data, warehouse, {})

    assert str(raised.value) == (
        f"another build of {warehouse} is running; wait for it to finish and try again"
    )
    assert not (tmp_path / "validation").exists()
    assert not (state / "last_warehouse").exists()


def test_a_failed_build_never_moves_the_last_warehouse_pointer(tmp_path: Path, state: Path) -> None:
    state.mkdir()
    (state / "last_warehouse").write_text("/somewhere/good.duckdb")
    with pytest.raises(DataError):
        build(broken_inputs(tmp_path / "data"), tmp_path / "w.duckdb", {})
    assert (state / "last_warehouse").read_text() == "/somewhere/good.duckdb"


# ---------------------------------------------------------------- case 7
def test_stale_build_directories_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    stale = tmp_path / ".nbhd-build-stale"
    stale.mkdir()
    (stale / "validated").mkdir()
    (stale / "validated" / "patients.parquet").write_bytes(b"patient-level rows")
    (stale / ".lock").touch()
    live = tmp_path / ".nbhd-build-live"
    live.mkdir()
    other = tmp_path / ".nbhd-build-notes"  # not ours: no lock file, and recent
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    legacy = tmp_path / ".nbhd-build-legacy"  # an older version's: no lock, a build's files
    (legacy / "validated").mkdir(parents=True)
    (legacy / "validated" / "patients.parquet").write_bytes(b"patient-level rows")
    (legacy / "warehouse.duckdb").write_bytes(b"half a warehouse")

    with file_lock(live / ".lock"), pytest.raises(DataError):
        build(broken_inputs(tmp_path / "data"), tmp_path / "w.duckdb", {})

    assert not stale.exists()
    assert not legacy.exists()
    assert live.is_dir() and other.is_dir()


def test_a_full_disk_is_one_sentence_and_leaves_the_last_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = broken_inputs(tmp_path / "data")
    warehouse = tmp_path / "w.duckdb"
    with pytest.raises(DataError):
        build(data, warehouse, {})
    report = snapshot(tmp_path / "validation")

    calls = []

    def disk_full(*_: object, **__: object) -> None:
        calls.append(1)
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    monkeypatch.setattr(build_module, "validate_directory", disk_full)
    code = main(["build", "--data", str(data), "--warehouse", str(warehouse)])

    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith(f"nbhd: the disk holding {tmp_path} is full")
    assert snapshot(tmp_path / "validation") == report
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".nbhd-build-")]
    assert calls == [1]


def test_an_oserror_for_a_full_disk_is_recognised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(build_module, "validate_directory", disk_full)
    with pytest.raises(NbhdError, match="is full"):
        build(broken_inputs(tmp_path / "data"), tmp_path / "w.duckdb", {})


@pytest.mark.slow
def test_a_build_killed_outright_is_swept_by_the_next(
    start_build: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """SIGKILL cannot be caught: the next build removes what the killed one left."""
    process = start_build(tmp_path / "w.duckdb")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".nbhd-build-*/validated/*")):
        assert process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert list(tmp_path.glob(".nbhd-build-*")), "the killed build left nothing to sweep"

    with pytest.raises(DataError):
        build(broken_inputs(tmp_path / "data"), tmp_path / "w.duckdb", {})

    assert not list(tmp_path.glob(".nbhd-build-*"))


@pytest.mark.slow
def test_validate_stopped_by_sigterm_leaves_no_staging_directory(
    tiny_data: Path, tmp_path: Path
) -> None:
    """SIGTERM during `nbhd validate`: its staging directory beside --out (patient-level
    Parquet in it) goes, and the message is one sentence."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "metrics_cli.cli", "validate", str(tiny_data)]
    process = subprocess.Popen(
        [*command, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".out.nbhd-new-*/*.parquet")):
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert stderr == b"nbhd: stopped by SIGTERM; temporary files were removed\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_build_stopped_while_dbt_runs_ends_cleanly_with_the_signals_code(
    stop: signal.Signals, start_build: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Issue 14, third round. Before: SIGTERM while dbt's threads ran DuckDB queries cleaned
    up, then the interpreter aborted on exit (exit -6, "terminate called after throwing an
    instance of ''" and nanobind's leaked-instance lines on stderr), or dbt's failures were
    reported as a failed build (exit 1); ctrl-C gave exit 2."""
    warehouse = tmp_path / "w" / "w.duckdb"
    process = start_build(warehouse, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not (warehouse.parent / "dbt" / "target").is_dir():
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    time.sleep(3)  # models and tests under way in dbt's threads
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 128 + stop, stderr
    assert stderr.decode() == (
        f"nbhd: the build was stopped ({stop.name}); its temporary directory was removed "
        "and the previous warehouse is untouched\n"
    )
    assert not list(warehouse.parent.glob(".nbhd-build-*"))
    assert not warehouse.exists()
