"""Writing files safely: never half-written, never over an input, never over a directory
the tool did not write, and never a CSV cell a spreadsheet would run as a formula."""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO

import polars as pl

from metrics_cli.errors import UsageError

MANIFEST = "manifest.json"

# OWASP "CSV Injection": a cell whose first character is one of these is read as a formula
# by Excel, LibreOffice Calc and Google Sheets. Leading white space is skipped first, since
# some spreadsheets skip it too.
FORMULA_START = "=+-@\t\r"
_FORMULA_CELL = r"^[ \t\r\n]*[=+\-@\t\r]"
# ... except a plain number such as -12.5 or +3, which no spreadsheet runs as a formula.
_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
CSV_SAFETY_NOTE = (
    "Safe to open in a spreadsheet: a text cell that would start a formula (one beginning, "
    "after any spaces, with `=`, `+`, `-`, `@`, a tab or a carriage return, other than a "
    "plain number such as `-1.5`) is written with a leading apostrophe (`'`), as OWASP "
    "advises against CSV injection, so spreadsheets show it as text. Parquet files hold "
    "the values unchanged."
)


# Characters that hide or reorder text: C0 controls other than tab, line feed and carriage
# return (a NUL byte ends a string in many programs), DEL and the C1 controls, and Unicode's
# direction embeddings, overrides and isolates (U+202E shows "Riverside" for "edisreviR").
# Validation refuses them in input values; every CSV the tool writes shows any that reach
# it as a visible escape, `<U+202E>`.
HIDING_CHARACTERS = (
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_HIDING = re.compile(HIDING_CHARACTERS)


def shown_escaped(value: str) -> str:
    """`value` with each character that hides or reorders text written `<U+XXXX>`."""
    return _HIDING.sub(lambda found: f"<U+{ord(found.group()):04X}>", value)


def printable(text: str) -> str:
    """`text` as one line of a message: `shown_escaped`, and tabs and line ends as `\\t`,
    `\\n`, `\\r` (a column name or an argument may hold them)."""
    escapes = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
    return "".join(escapes.get(c, c) for c in shown_escaped(text))


# ---------------------------------------------------------------- spreadsheet-safe CSV
def safe_cell(value: str) -> str:
    """`value` as a CSV cell no spreadsheet runs as a formula: a cell that would start one
    gets a leading apostrophe (OWASP), which spreadsheets show as text and do not display;
    a character that hides or reorders text is shown as `<U+XXXX>`."""
    value = shown_escaped(value)
    if re.match(_FORMULA_CELL, value) and not re.match(_PLAIN_NUMBER, value):
        return "'" + value
    return value


def neutralise(text: pl.Expr) -> pl.Expr:
    """The formula part of `safe_cell` for a polars text column."""
    risky = text.str.contains(_FORMULA_CELL) & ~text.str.contains(_PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + text).otherwise(text)


def _escaped_column(column: pl.Series) -> pl.Series:
    """`shown_escaped` over a text column, done only if some value needs it (rare)."""
    if not column.str.contains(HIDING_CHARACTERS).fill_null(False).any():
        return column
    return column.map_elements(shown_escaped, return_dtype=pl.String, skip_nulls=True)


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of `frame` made safe (`safe_cell`); numbers, dates and booleans as
    they are."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if text_columns:
        frame = frame.with_columns(_escaped_column(frame.get_column(name)) for name in text_columns)
        frame = frame.with_columns(neutralise(pl.col(name)).alias(name) for name in text_columns)
    headers = {name: safe_cell(name) for name in frame.columns if safe_cell(name) != name}
    return frame.rename(headers) if headers else frame


def write_csv(
    frame: pl.DataFrame, target: Path | IO[bytes], *, include_header: bool = True
) -> None:
    """The one way the tool writes a CSV from a frame: UTF-8, `\\n` line ends, formula
    cells neutralised."""
    safe_frame(frame).write_csv(target, include_header=include_header)


def csv_bytes(frame: pl.DataFrame, *, include_header: bool = True) -> bytes:
    """`write_csv` into bytes."""
    return safe_frame(frame).write_csv(include_header=include_header).encode("utf-8")


def safe_row(values: Sequence[object]) -> list[object]:
    """A row for `csv.writer` with its text cells neutralised."""
    return [safe_cell(value) if isinstance(value, str) else value for value in values]


# ---------------------------------------------------------------- inputs are never outputs
def _resolved(path: Path) -> Path:
    return path.expanduser().resolve()


def check_not_input(out: Path, inputs: Sequence[Path], option: str) -> None:
    """Refuse an output path that is an input, holds one or lies inside one (symbolic
    links followed): the tool replaces what it writes, so an input there would be lost."""
    target = _resolved(out)
    for given in inputs:
        source = _resolved(given)
        if target == source:
            raise UsageError(f"{option} {out} is the input {given}; choose a path outside it")
        if source in target.parents:
            raise UsageError(
                f"{option} {out} is inside the input {given}; choose a path outside it"
            )
        if target in source.parents:
            raise UsageError(f"{option} {out} holds the input {given}; choose a path outside it")


def check_writable_path(out: Path, option: str, *, directory: bool) -> None:
    """Refuse an output under a file (`a_file.txt/out`), or a file where a directory goes
    (and the reverse), with one sentence instead of an OSError."""
    for parent in _resolved(out).parents:
        if parent.exists() and not parent.is_dir():
            raise UsageError(f"{option} {out}: {parent} is a file, not a directory")
    if directory and out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out} is a file; give a directory")
    if directory and _resolved(out) in (Path("/"), _resolved(Path.home())):
        raise UsageError(
            f"{option} {out} is the {'root' if _resolved(out) == Path('/') else 'home'} "
            "directory; give a directory of its own, such as out/"
        )
    if not directory and out.is_dir():
        raise UsageError(f"{option} {out} is a directory; give a file name")


def missing_directories(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist yet, deepest first: what a command
    writing `path` would create, and so may remove again if it fails."""
    missing = []
    for candidate in (_resolved(path), *_resolved(path).parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def remove_empty_directories(directories: Sequence[Path]) -> None:
    """Remove each of `directories` (deepest first) that is empty; never one holding anything."""
    for directory in directories:
        try:
            directory.rmdir()
        except FileNotFoundError:  # never created, or already removed
            continue
        except OSError:  # it holds something: so do its parents
            break


# ---------------------------------------------------------------- directories the tool owns
def is_owned(directory: Path, written_by: str | None = None) -> bool:
    """Whether `directory` holds the manifest `replace_owned_directory` writes."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or "written_by" not in manifest:
        return False
    return written_by is None or manifest["written_by"] == written_by


# What versions before the manifest wrote: such a directory, holding nothing else, is
# recognised as the tool's own (so an existing `demo/validation/` is replaced as before).
LEGACY_OUTPUTS = {
    "nbhd validate": (
        frozenset({"validation_results.parquet"}),
        frozenset({"problems.csv", "quarantine", "validation_results.parquet", ".duckdb_tmp"}),
    )
}


def _is_legacy(out: Path, names: tuple[frozenset[str], frozenset[str]]) -> bool:
    required, allowed = names
    present = {entry.name for entry in out.iterdir()}
    datasets = {name for name in present if name.endswith(".parquet")}
    return required <= present and present - datasets <= allowed


def check_replaceable(out: Path, written_by: str, option: str) -> None:
    """`out` must be absent, empty, or a directory `written_by` wrote before."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {out} is a file; give a directory")
    if out.is_dir() and any(out.iterdir()) and not is_owned(out, written_by):
        if written_by in LEGACY_OUTPUTS and _is_legacy(out, LEGACY_OUTPUTS[written_by]):
            return
        raise UsageError(
            f"{option} {out} is not empty and was not written by {written_by}; "
            "choose a new or empty directory"
        )


def replace_owned_directory(
    out: Path,
    written_by: str,
    write: Callable[[Path], None],
    manifest: dict[str, object] | None = None,
    option: str = "the output",
) -> None:
    """Fill a new directory beside `out` with `write(staging)` and its manifest, then put it
    in place of `out` in two renames. `out` is only ever replaced if it is empty or holds a
    manifest of `written_by`; if anything fails, `out` stays as it was and the staging
    directory goes."""
    check_replaceable(out, written_by, option)
    with staged_directory(out) as staging:
        write(staging)
        content = {"written_by": written_by, **(manifest or {})}
        (staging / MANIFEST).write_text(
            json.dumps(content, indent=2, sort_keys=True, default=str) + "\n",
            encoding="utf-8",
        )


@contextmanager
def staged_directory(out: Path) -> Iterator[Path]:
    """A new directory beside `out` to fill, put in place of `out` in two renames when the
    block ends without error; removed in any case. While it is filled it holds a lock, so a
    later run knows it from one killed outright and sweeps only the latter
    (`sweep_stale_staging`, done here first)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_staging(out)
    staging = out.parent / f".{out.name}{_NEW}{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        with file_lock(staging / _STAGING_LOCK):
            yield staging
            (staging / _STAGING_LOCK).unlink()  # held until the block ends; not part of out
            swap_directory(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_NEW = ".nbhd-new-"
_OLD = ".nbhd-old-"
_STAGING_LOCK = ".nbhd-staging-lock"


def sweep_stale_staging(out: Path) -> list[Path]:
    """Remove what a run writing `out` killed outright (SIGKILL, a power cut) left beside
    it: its staging directory `.<out>.nbhd-new-*` (validated Parquet, patient-level rows
    among them) whose lock no process holds, and an old copy `.<out>.nbhd-old-*` that a
    swap had moved aside (the new one was already in place)."""
    swept = []
    for prefix in (_NEW, _OLD):
        for stale in out.parent.glob(f".{glob.escape(out.name)}{prefix}*"):
            if not stale.is_dir() or stale.is_symlink():
                continue
            if prefix == _NEW and (stale / _STAGING_LOCK).exists() and is_locked(
                stale / _STAGING_LOCK
            ):
                continue
            shutil.rmtree(stale, ignore_errors=True)
            swept.append(stale)
    return swept


def recorded_files(directory: Path, written_by: str) -> dict[str, dict[str, object]]:
    """The files earlier runs of `written_by` wrote into a directory they share (imports,
    reports), by name, as its manifest lists them; empty if the directory is not theirs."""
    if not is_owned(directory, written_by):
        return {}
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    files = manifest.get("files", {})
    return dict(files) if isinstance(files, dict) else {}


def check_own_file(path: Path, written_by: str, hint: str) -> Path:
    """`path`, which `written_by` is about to replace: refused if something is there that
    no run of it recorded (a file the user put in the directory it owns)."""
    if path.exists() and path.name not in recorded_files(path.parent, written_by):
        raise UsageError(f"{path} was not written by {written_by}; {hint}")
    return path


def write_files_manifest(
    directory: Path, written_by: str, recorded: dict[str, dict[str, object]]
) -> None:
    """Replace the manifest of a shared directory: who owns it and each file it wrote."""
    manifest = {"written_by": written_by, "files": dict(sorted(recorded.items()))}
    with atomic_path(directory / MANIFEST) as staged:
        staged.write_text(
            json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )


def swap_directory(staging: Path, out: Path) -> None:
    """Replace `out` with the finished `staging` directory; on failure put `out` back."""
    if not out.exists():
        os.replace(staging, out)
        return
    retired = out.parent / f".{out.name}{_OLD}{os.getpid()}-{time.time_ns()}"
    os.replace(out, retired)
    try:
        os.replace(staging, out)
    except BaseException:
        os.replace(retired, out)
        raise
    shutil.rmtree(retired, ignore_errors=True)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary file beside `target` that replaces it only if the block succeeds: the
    previous `target`, if any, stays as it was when anything in the block fails. The new
    file gets the usual permissions (0666 less the umask), not mkstemp's private 0600."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod(0o666 & ~umask)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


# ---------------------------------------------------------------- locks
class Locked(Exception):
    """Another process holds the lock."""


# what the operating system says when a path may not be written: permissions, read-only
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _open_lock(lock: Path, writing: str | None = None) -> int:
    """Open the lock file `lock`, creating it. When `writing` names the output it guards
    (`--out OUT`), its folder is created too, and one the user may not write is refused in
    one sentence."""
    try:
        if writing is not None:
            lock.parent.mkdir(parents=True, exist_ok=True)
        return os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
        if writing is not None:
            refuse_unwritable(error, writing, lock.parent)
        raise


def refuse_unwritable(error: OSError, writing: str, where: Path) -> None:
    """If `error` says the folder `where` may not be written (permissions, a read-only file
    system), raise one sentence naming the output `writing` (`--out OUT`); else return."""
    if error.errno in _NOT_WRITABLE:
        reason = (error.strerror or str(error)).lower()
        raise UsageError(
            f"{writing} cannot be written ({reason} in {where}); "
            "choose a directory you may write to"
        ) from None


@contextmanager
def file_lock(lock: Path, writing: str | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock` (created if absent) for the block, or raise
    `Locked` at once. The operating system releases it when the process ends, however it
    ends (SIGKILL too), so a lock is never left stale; the file itself stays."""
    handle = _open_lock(lock, writing)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise Locked(str(lock)) from error
        yield
    finally:
        os.close(handle)


def is_locked(lock: Path) -> bool:
    """Whether a live process holds `lock` (False if the file is absent)."""
    try:
        with file_lock(lock):
            return False
    except Locked:
        return True
    except FileNotFoundError:
        return False


def warehouse_lock_file(warehouse: Path) -> Path:
    return warehouse.parent / f"{warehouse.name}.lock"


@contextmanager
def warehouse_lock(warehouse: Path) -> Iterator[None]:
    """One build per warehouse at a time: a second is refused with one sentence."""
    try:
        with file_lock(warehouse_lock_file(warehouse), f"--warehouse {warehouse}"):
            yield
    except Locked:
        raise UsageError(
            f"another build of {warehouse} is running; wait for it to finish and try again"
        ) from None


def output_lock_file(out: Path) -> Path:
    """The lock file of an output path: hidden, beside it (the path itself is replaced)."""
    resolved = _resolved(out)
    return resolved.parent / f".{resolved.name}.nbhd-lock"


@contextmanager
def output_lock(out: Path, option: str) -> Iterator[None]:
    """One command at a time writing `out` (validate, import, report, publish, ...): a second
    is refused with one sentence, whichever command it is. The lock file is removed when
    the command ends (the operating system releases the lock itself after a SIGKILL)."""
    lock = output_lock_file(out)
    handle = _open_lock(lock, f"{option} {out}")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # the holder before us may have removed the file between our open and flock
            if os.fstat(handle).st_ino != os.stat(lock).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            raise UsageError(
                f"another nbhd command is writing {option} {out}; "
                "wait for it to finish and try again"
            ) from None
        try:
            yield
        finally:
            # removed while still held, so no one can lock the old file after us
            lock.unlink(missing_ok=True)
    finally:
        os.close(handle)


# ---------------------------------------------------------------- a full disk
_DISK_FULL = ("no space left on device", "disk full", "not enough space on the disk")


def says_disk_full(text: str) -> bool:
    """Whether an error's text says the disk is full."""
    return any(words in text.lower() for words in _DISK_FULL)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the disk is full, as an OSError or as the
    text DuckDB, polars and pyarrow put in their own exceptions."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if says_disk_full(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def is_duckdb_file(path: Path) -> bool:
    """Whether `path` is a DuckDB database file (its header says `DUCK` at byte 8)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # never open a pipe: it would block
            return False
        with path.open("rb") as handle:
            return handle.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def check_warehouse_to_replace(warehouse: Path) -> None:
    """An existing `--warehouse` a build would replace must be one `nbhd build` wrote (its
    schema `raw` holds the build record): never another tool's DuckDB database."""
    import duckdb

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            found = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'raw' and table_name in "
                "('build_info', 'input_files', 'validation_results')"
            ).fetchone()
    except duckdb.Error as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise UsageError(
            f"--warehouse {warehouse} could not be opened to check that nbhd built it "
            f"({reason}); a build would replace it"
        ) from None
    if not found or not found[0]:
        raise UsageError(
            f"--warehouse {warehouse} is a DuckDB database nbhd did not build, and a build "
            "would replace it; choose another path"
        )


def check_warehouse_to_read(warehouse: Path, option: str = "--warehouse") -> None:
    """A warehouse a command reads must be an existing DuckDB file: one sentence if not."""
    if warehouse.is_dir():
        raise UsageError(f"{option} {warehouse} is a directory, not a DuckDB warehouse")
    if not warehouse.exists():
        raise UsageError(f"no warehouse at {warehouse}; run `nbhd build` first")
    if not is_duckdb_file(warehouse):
        raise UsageError(f"{option} {warehouse} is not a DuckDB warehouse")


# ---------------------------------------------------------------- signals
class Signalled(SystemExit):
    """Raised by the signal handler, so that every `finally` (removing a staging or build
    directory) runs before the process ends. A `SystemExit`, so that dbt, when the signal
    lands while it runs models, cancels their queries and waits for its threads before the
    build's directory is removed (as a plain `BaseException` it left them writing into the
    directory while it was being removed, and the directory survived)."""


_RECEIVED: list[str] = []


def received_signal() -> str | None:
    """The signal that stopped the command, if any. DuckDB turns a signal raised while it
    runs a query into its own `Query interrupted` error, losing `Signalled`."""
    return _RECEIVED[-1] if _RECEIVED else None


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """While the block runs, SIGINT (ctrl-C), SIGTERM and SIGHUP raise `Signalled`, so
    clean-up code runs and every command stops the same way (a KeyboardInterrupt made dbt
    print its traceback); `timeout` and schedulers stop jobs with
    SIGTERM. DuckDB checks for Python signals while it executes, so a query stops too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    _RECEIVED.clear()  # a signal handled by an earlier command of this process is over

    def stop(signum: int, _frame: FrameType | None) -> None:
        _RECEIVED.append(signal.Signals(signum).name)
        raise Signalled(signal.Signals(signum).name)

    # SIGHUP: the terminal the command ran in was closed; one ignored (`nohup nbhd build`)
    # stays ignored
    stopping = [
        signum
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(signum) is not signal.SIG_IGN
    ]
    previous = {signum: signal.signal(signum, stop) for signum in stopping}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
