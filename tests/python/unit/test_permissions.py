"""Issue 14, third round: a folder the user may not write, or an input the user may not read,
is one sentence, never a traceback. The tests run as root in CI, where `chmod` stops
nothing, so the operating system's refusal is simulated: `os.open`, `Path.mkdir`,
`Path.open` and `os.listdir` raise `PermissionError` for the paths under test."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_output_safety import one_sentence

from metrics_cli.cli import main
from metrics_cli.errors import UsageError
from metrics_cli.report.run import owned_output


def denied(path: object) -> PermissionError:
    return PermissionError(errno.EACCES, "Permission denied", str(path))


@pytest.fixture
def read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder in which nothing may be created, as a read-only directory would be."""
    folder = tmp_path / "read_only"
    folder.mkdir()

    def inside(path: object) -> bool:
        return folder in Path(str(path)).resolve().parents

    real_open: Callable[..., int] = os.open
    real_mkdir = Path.mkdir

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and inside(path):
            raise denied(path)
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if inside(self):
            raise denied(self)
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(Path, "mkdir", guarded_mkdir)
    return folder


@pytest.mark.parametrize(
    ("command", "option", "name"),
    [("validate", "--out", "out"), ("build", "--warehouse", "w.duckdb")],
)
def test_an_output_in_a_read_only_folder_is_one_sentence(
    command: str,
    option: str,
    name: str,
    tmp_path: Path,
    read_only: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: "nbhd: Permission denied: .../read_only/.out.nbhd-lock" (or `w.duckdb.lock`),
    naming a hidden lock file."""
    data = tmp_path / "data"
    data.mkdir()
    out = read_only / name
    given = [str(data)] if command == "validate" else ["--data", str(data)]
    assert main([command, *given, option, str(out)]) == 2
    assert one_sentence(capsys) == (
        f"nbhd: {option} {out} cannot be written (permission denied in {read_only}); "
        "choose a directory you may write to\n"
    )
    assert list(read_only.iterdir()) == []


def test_reports_into_a_read_only_folder_are_one_sentence(
    tmp_path: Path, read_only: Path
) -> None:
    """The lock beside `--out` could be taken; the staging folder inside it could not."""
    with (
        pytest.raises(UsageError) as refused,
        owned_output(read_only, tmp_path / "w.duckdb", ["icb_Q1.pdf"]),
    ):
        pass
    assert str(refused.value) == (
        f"--out {read_only} cannot be written (permission denied in {read_only}); "
        "choose a directory you may write to"
    )
    assert list(read_only.iterdir()) == []


def test_an_input_file_that_cannot_be_read_is_a_file_level_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the PermissionError stopped the whole validation (exit 2) naming the file;
    now it is that file's problem, reported with the others (exit 1), and the rest is
    validated."""
    data = tmp_path / "data"
    data.mkdir()
    locked = data / "workforce.csv"
    locked.write_text("practice_code\n", encoding="utf-8")
    real_open = Path.open

    def guarded_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == locked:
            raise denied(self)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    out = tmp_path / "out"
    assert main(["validate", str(data), "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err and printed.err == ""
    assert (
        "  - workforce.csv: unreadable: it cannot be opened (permission denied)" in printed.out
    )
    problems = (out / "problems.csv").read_text(encoding="utf-8").splitlines()
    assert "workforce.csv,,,,unreadable: it cannot be opened (permission denied)" in problems


def test_an_input_directory_that_cannot_be_listed_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    real_listdir = os.listdir

    def guarded_listdir(path: Any = ".") -> list[str]:
        if Path(path) == data:
            raise denied(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", guarded_listdir)
    out = tmp_path / "out"
    assert main(["validate", str(data), "--out", str(out)]) == 2
    assert one_sentence(capsys) == (
        f"nbhd: the input directory {data} cannot be read (permission denied)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
