"""Issue 14, third round: a failed command leaves no empty directory it created, a build's
`validation/` is locked like any `--out`, and ctrl-C gives the shell's exit code."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from test_output_safety import one_sentence

from metrics_cli.build import build, reports_dir
from metrics_cli.cli import main
from metrics_cli.errors import UsageError
from metrics_cli.files import (
    missing_directories,
    output_lock,
    output_lock_file,
    remove_empty_directories,
)


def test_a_failed_validate_leaves_no_directory_it_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `a/b/` (where the lock of `a/b/c` went) was left behind."""
    out = tmp_path / "a" / "b" / "c"
    assert main(["validate", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert one_sentence(capsys) == f"nbhd: there is no input directory at {tmp_path / 'nowhere'}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_command_never_removes_a_directory_that_existed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "empty.csv").touch()
    out = tmp_path / "a" / "b" / "data"
    assert main(["import", "epcn", str(tmp_path / "empty.csv"), "--out", str(out)]) == 2
    assert one_sentence(capsys) == "nbhd: empty.csv could not be read as CSV: empty CSV\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "empty.csv"]


def test_a_failed_build_leaves_no_directory_it_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    warehouse = tmp_path / "x" / "y" / "w.duckdb"
    arguments = ["build", "--data", str(data), "--warehouse", str(warehouse)]
    assert main([*arguments, "--vars", "sii_seed=-1"]) == 2
    one_sentence(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_successful_command_keeps_the_directories_it_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "a" / "b"
    assert main(["validate", str(data), "--out", str(out)]) == 1  # problems reported: kept
    assert (out / "problems.csv").is_file()


def test_only_empty_directories_are_removed_deepest_first(tmp_path: Path) -> None:
    created = missing_directories(tmp_path / "a" / "b" / "c")
    assert created == [tmp_path / "a" / "b" / "c", tmp_path / "a" / "b", tmp_path / "a"]
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "kept.txt").write_text("mine", encoding="utf-8")
    remove_empty_directories(created)  # c never made; b empty; a holds a file
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "kept.txt"]


def test_validate_into_a_running_builds_validation_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `nbhd validate --out W/validation` ran while a build of W/w.duckdb was
    writing that directory, and the last swap won."""
    data = tmp_path / "data"
    data.mkdir()
    validation = reports_dir(tmp_path / "w.duckdb")
    with output_lock(validation, "the validation report directory"):  # what a build holds
        assert main(["validate", str(data), "--out", str(validation)]) == 2
    assert one_sentence(capsys) == (
        f"nbhd: another nbhd command is writing --out {validation}; "
        "wait for it to finish and try again\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_build_waits_for_no_validate_writing_its_validation_directory(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    warehouse = tmp_path / "w.duckdb"
    with (
        output_lock(reports_dir(warehouse), "--out"),
        pytest.raises(UsageError) as refused,
    ):
        build(data, warehouse, {})
    assert str(refused.value) == (
        f"another nbhd command is writing the validation report directory "
        f"{reports_dir(warehouse)}; wait for it to finish and try again"
    )
    assert not output_lock_file(reports_dir(warehouse)).exists()


@pytest.mark.parametrize(
    ("stop", "code"), [(KeyboardInterrupt, 130), (SystemExit, None)], ids=["ctrl-c", "exit"]
)
def test_ctrl_c_gives_the_shells_exit_code_and_one_sentence(
    stop: type[BaseException],
    code: int | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        (tmp_path / "out").mkdir()
        raise stop()

    monkeypatch.setattr("metrics_cli.cli.cmd_validate", interrupted)
    data = tmp_path / "data"
    data.mkdir()
    arguments = ["validate", str(data), "--out", str(tmp_path / "out")]
    if code is None:
        with pytest.raises(SystemExit):
            main(arguments)
    else:
        assert main(arguments) == code
        assert one_sentence(capsys) == "nbhd: stopped by SIGINT; temporary files were removed\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # its empty --out gone


def test_a_closed_terminal_stops_a_command_cleanly_unless_it_was_nohup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: SIGHUP (the terminal closed) killed the command at once, its staging
    directory (patient-level Parquet) left beside --out."""
    import os
    import signal

    def hung_up(args: argparse.Namespace) -> int:
        (tmp_path / "out").mkdir()
        os.kill(os.getpid(), signal.SIGHUP)
        return 0

    monkeypatch.setattr("metrics_cli.cli.cmd_validate", hung_up)
    data = tmp_path / "data"
    data.mkdir()
    arguments = ["validate", str(data), "--out", str(tmp_path / "out")]
    # as a terminal starts it, whatever started the test run (`nohup make test` ignores it)
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        assert main(arguments) == 129
        assert one_sentence(capsys) == "nbhd: stopped by SIGHUP; temporary files were removed\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]

        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as `nohup nbhd ...` starts it
        assert main(arguments) == 0
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_main_called_in_process_returns_its_code_whatever_threads_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line ends its own process at once after a signal when other threads
    remain (dbt's, which may be inside DuckDB); a caller of `main` in-process never is."""
    import threading

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()
    try:
        monkeypatch.setattr("metrics_cli.cli.cmd_validate", interrupted)
        (tmp_path / "data").mkdir()
        arguments = ["validate", str(tmp_path / "data"), "--out", str(tmp_path / "out")]
        assert main(arguments) == 130
    finally:
        release.set()
        waiting.join()
    assert one_sentence(capsys) == "nbhd: stopped by SIGINT; temporary files were removed\n"
