"""`nbhd build`: validate an input directory, load it into a new DuckDB file, run dbt, swap in.

The build is atomic: dbt runs against a new warehouse file beside the old one, which
replaces the old one (``os.replace``) only when every model and test has passed. A failed
build deletes its new file and leaves the last good warehouse readable. Everything a build
writes is inside its own temporary `.nbhd-build-*` directory beside the warehouse (DuckDB's
spill files too), and that directory is removed however the build ends, including when it
is stopped by SIGTERM or SIGINT; one left by a build killed outright (SIGKILL, power cut)
is swept by the next build in that directory. The tool never deletes anything it did not
create: arguments are checked before any work (`check_arguments`), so the warehouse, its
`validation/` report directory and dbt's `dbt/` directory are never an input or inside
one, and `validation/` is replaced only if `nbhd validate` wrote it. One build per
warehouse runs at a time (a lock file beside it); a full disk is one sentence.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics_cli import __version__
from metrics_cli.dbt_vars import checked_vars
from metrics_cli.engines import DEFAULT_TARGET, build_marts, check_target
from metrics_cli.errors import DataError, DiskFull, NbhdError, UsageError
from metrics_cli.files import (
    MANIFEST,
    Signalled,
    check_not_input,
    check_replaceable,
    check_warehouse_to_replace,
    check_writable_path,
    file_lock,
    file_sha256,
    is_disk_full,
    is_duckdb_file,
    is_locked,
    output_lock,
    received_signal,
    replace_owned_directory,
    says_disk_full,
    stopped_by_signals,
    warehouse_lock,
)
from metrics_cli.schemas import DATASETS
from metrics_cli.settings import Settings, load_settings
from metrics_cli.validate import (
    WRITTEN_BY,
    ValidationReport,
    format_report,
    validate_directory,
)

DBT_ENV_WAREHOUSE = "NBHD_DBT_DUCKDB_PATH"
DBT_ENV_MEMORY_LIMIT = "NBHD_DUCKDB_MEMORY_LIMIT"
WORK_PREFIX = ".nbhd-build-"
WORK_LOCK = ".lock"
# a `.nbhd-build-*` directory without a lock file and without anything a build writes is
# kept until it is this old: it may be a directory another build has just made (the lock
# file is created the instant after) or not the tool's at all
STALE_UNLOCKED_SECONDS = 24 * 3600
# what a build (of this version or an older one) writes in its directory, after its lock
WORK_MARKS = ("validated", "warehouse.duckdb", ".validated.nbhd-new-*")


class BuildStopped(NbhdError):
    """The build was stopped by a signal; its temporary directory has been removed."""

    exit_code = 128 + signal.SIGTERM


@dataclass(frozen=True)
class BuildResult:
    """What a build did: the warehouse it wrote, the validation report and timings."""

    ok: bool
    warehouse: Path
    validation: ValidationReport
    seconds_validate: float
    seconds_dbt: float
    dbt_failures: tuple[str, ...] = field(default_factory=tuple)
    seconds_load: float = 0.0

    def summary(self) -> str:
        lines = [format_report(self.validation), ""]
        if self.ok:
            lines.append(
                f"Built {self.warehouse} "
                f"(validate {self.seconds_validate:.1f}s, load {self.seconds_load:.1f}s, "
                f"dbt {self.seconds_dbt:.1f}s)"
            )
        else:
            lines.append("dbt build failed; the previous warehouse was left untouched:")
            lines.extend(f"  - {failure}" for failure in self.dbt_failures)
        return "\n".join(lines)


def build(
    data_dir: Path,
    warehouse: Path,
    vars_text: Mapping[str, str],
    target: str = DEFAULT_TARGET,
) -> BuildResult:
    """Validate `data_dir`, build a new warehouse with dbt on `target` (metrics_cli/engines.py),
    and replace `warehouse` on success."""
    check_target(target)
    dbt_vars = checked_vars(vars_text)
    warehouse = check_arguments(data_dir, warehouse)
    _check_matrix_var(dbt_vars)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with (
        warehouse_lock(warehouse),
        # validation/ beside it is an output as `nbhd validate --out` is: one writer at a time
        output_lock(reports_dir(warehouse), "the validation report directory"),
        stopped_by_signals(),
        _disk_full_reported(warehouse),
    ):
        sweep_stale_work(warehouse.parent)
        work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=warehouse.parent))
        try:
            with file_lock(work / WORK_LOCK):
                return _build_in(work, data_dir, warehouse, dbt_vars, target)
        except Signalled as stopped:
            error = BuildStopped(
                f"the build was stopped ({stopped}); its temporary directory was removed "
                "and the previous warehouse is untouched"
            )
            error.exit_code = 128 + signal.Signals[str(stopped)].value  # 143, or 129 (SIGHUP)
            raise error from None
        finally:
            shutil.rmtree(work, ignore_errors=True)


def reports_dir(warehouse: Path) -> Path:
    """Where a build keeps its validation report: `validation/` beside the warehouse."""
    return warehouse.parent / "validation"


def check_arguments(data_dir: Path, warehouse: Path) -> Path:
    """Refuse, before any work, a build that could lose a file it did not create; return
    the warehouse path resolved."""
    if not data_dir.is_dir():
        raise UsageError(f"input directory {data_dir} does not exist")
    if warehouse.is_dir():
        raise UsageError(f"--warehouse {warehouse} is a directory, not a DuckDB warehouse")
    check_writable_path(warehouse, "--warehouse", directory=False)
    if warehouse.exists() and not is_duckdb_file(warehouse):
        raise UsageError(
            f"--warehouse {warehouse} is not a DuckDB warehouse, and a build would replace it"
        )
    if warehouse.exists():
        check_warehouse_to_replace(warehouse)
    resolved = warehouse.expanduser().resolve()
    check_not_input(resolved, [data_dir], "--warehouse")
    for kept, what in (
        (reports_dir(resolved), "validation report"),
        (resolved.parent / "dbt", "dbt log"),
    ):
        check_not_input(kept, [data_dir], f"--warehouse {warehouse}: its {what} directory")
    check_replaceable(
        reports_dir(resolved),
        WRITTEN_BY,
        f"--warehouse {warehouse}: its validation report directory",
    )
    return resolved


def sweep_stale_work(directory: Path) -> list[Path]:
    """Remove the `.nbhd-build-*` directories of builds that ended without cleaning up (a
    SIGKILL): their lock file is held by no process. A directory whose build is running
    holds its lock and is kept. One with no lock file but holding what a build writes
    (WORK_MARKS) is an older version's, which took no lock, and is swept at once: a build
    of this version creates its lock before writing anything. Any other is kept unless a
    day old."""
    swept = []
    for work in sorted(directory.glob(f"{WORK_PREFIX}*")):
        if not work.is_dir() or work.is_symlink():
            continue
        lock = work / WORK_LOCK
        if lock.is_file():
            stale = not is_locked(lock)
        elif any(next(work.glob(mark), None) for mark in WORK_MARKS):
            stale = True
        else:
            stale = time.time() - work.stat().st_mtime > STALE_UNLOCKED_SECONDS
        if stale:
            shutil.rmtree(work, ignore_errors=True)
            swept.append(work)
    return swept


@contextmanager
def _disk_full_reported(warehouse: Path) -> Iterator[None]:
    """A full disk, wherever it is met (Python, DuckDB, polars, dbt), is one sentence."""
    try:
        yield
    except NbhdError:
        raise
    except Exception as error:
        if not is_disk_full(error):
            raise
        raise _disk_full(warehouse, str(error) or type(error).__name__) from error


def _disk_full(warehouse: Path, detail: str) -> DiskFull:
    first = detail.strip().splitlines()[0] if detail.strip() else "no space left"
    return DiskFull(
        f"the disk holding {warehouse.parent} is full ({first}); the build stopped, "
        "removed its temporary files and left the previous warehouse untouched"
    )


def _build_in(
    work: Path, data_dir: Path, warehouse: Path, dbt_vars: dict[str, Any], target: str
) -> BuildResult:
    """The build proper, writing only inside `work` until the end: the validation report
    replaces `validation/` beside the warehouse once validation is over, and the new
    warehouse replaces the old one once dbt has passed."""
    started = time.perf_counter()
    report = validate_directory(data_dir, work / "validated")
    seconds_validate = time.perf_counter() - started
    reports = reports_dir(warehouse)
    _keep_reports(work / "validated", reports)
    if report.has_file_errors:
        raise DataError(
            "the input has file-level errors, so the warehouse was not touched:\n"
            + format_report(replace(report, out_dir=reports)),
            where=str(reports / "problems.csv"),
        )
    new_file = work / "warehouse.duckdb"
    started = time.perf_counter()
    load_raw(new_file, work / "validated", data_dir, dbt_vars)
    seconds_load = time.perf_counter() - started
    started = time.perf_counter()
    failures = _build_marts(target, new_file, work, dbt_vars, warehouse.parent / "dbt")
    seconds_dbt = time.perf_counter() - started
    full = [failure for failure in failures if says_disk_full(failure)]
    if full:  # every model after the first failed for the same reason: report it once
        raise _disk_full(warehouse, full[0])
    if not failures:
        os.replace(new_file, warehouse)
        _remember(warehouse)
    return BuildResult(
        ok=not failures,
        warehouse=warehouse,
        validation=replace(report, out_dir=reports),
        seconds_validate=seconds_validate,
        seconds_dbt=seconds_dbt,
        dbt_failures=tuple(failures),
        seconds_load=seconds_load,
    )


def _build_marts(
    target: str, new_file: Path, work: Path, dbt_vars: dict[str, Any], dbt_dir: Path
) -> list[str]:
    """dbt and the Python stage on `target` (metrics_cli/engines.py); the failures."""

    def dbt(command: list[str]) -> list[str]:
        return run_dbt([*command, "--target", target], new_file, dbt_vars, dbt_dir)

    return build_marts(target, dbt, new_file, work, dbt_vars, dbt_dir / "target" / "manifest.json")


def _check_matrix_var(dbt_vars: Mapping[str, Any]) -> None:
    """A replacement maturity matrix is checked before anything is built."""
    matrix_dir = dbt_vars.get("maturity_matrix_dir")
    if matrix_dir:
        from metrics_cli.maturity import validate_matrix

        validate_matrix(Path(str(matrix_dir)))


def _keep_reports(validated: Path, destination: Path) -> None:
    """The validation report, quarantine and problem list (not the validated datasets)
    replace `destination` whole, which only a build or `nbhd validate` wrote."""

    def copy(staging: Path) -> None:
        for item in validated.iterdir():
            if item.suffix == ".parquet" and item.stem in DATASETS:
                continue
            if item.is_dir():
                shutil.copytree(item, staging / item.name)
            else:
                shutil.copy2(item, staging / item.name)

    manifest = json.loads((validated / MANIFEST).read_text(encoding="utf-8"))
    manifest.pop("written_by", None)
    replace_owned_directory(destination, WRITTEN_BY, copy, manifest, "--warehouse")


def _remember(warehouse: Path) -> None:
    settings = load_settings()
    try:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        settings.last_warehouse_file.write_text(str(warehouse))
    except OSError:
        # Remembering the last warehouse is a convenience; the build itself succeeded.
        pass


_DUCKDB_TYPES = {
    pl.Utf8: "varchar",
    pl.Int64: "bigint",
    pl.Int32: "integer",
    pl.Float64: "double",
    pl.Date: "date",
    pl.Boolean: "boolean",
}


def _duckdb_type(dtype: Any) -> str:
    for polars_type, sql_type in _DUCKDB_TYPES.items():
        if dtype == polars_type:
            return sql_type
    raise TypeError(f"no DuckDB type for polars dtype {dtype}")


def load_raw(
    new_file: Path,
    validated: Path,
    data_dir: Path,
    dbt_vars: Mapping[str, Any],
    spill: Path | None = None,
) -> None:
    """Create schema `raw` in a new DuckDB file: every dataset (empty where absent) and the
    validation results, input checksums and build information."""
    settings: Settings = load_settings()
    spill = spill or new_file.with_name(new_file.name + ".tmp")
    con = duckdb.connect(str(new_file), config=settings.duckdb_config(spill))
    try:
        con.execute("create schema raw")
        for name, spec in DATASETS.items():
            parquet = validated / f"{name}.parquet"
            columns = ", ".join(f'"{col}"' for col in spec.columns)
            if parquet.is_file():
                con.execute(
                    f'create table raw."{name}" as select {columns} '
                    f"from read_parquet('{_sql_path(parquet)}')"
                )
            else:
                definition = ", ".join(
                    f'"{col}" {_duckdb_type(dtype)}' for col, dtype in spec.columns.items()
                )
                con.execute(f'create table raw."{name}" ({definition})')
        results = validated / "validation_results.parquet"
        con.execute(
            "create table raw.validation_results as "
            f"select * from read_parquet('{_sql_path(results)}')"
        )
        con.execute(
            "create table raw.input_files (dataset varchar, file_name varchar, "
            "sha256 varchar, rows_read bigint, rows_loaded bigint, rows_quarantined bigint)"
        )
        for row in _input_files(data_dir, con):
            con.execute("insert into raw.input_files values (?, ?, ?, ?, ?, ?)", row)
        con.execute("create table raw.build_info (key varchar, value varchar)")
        info = {
            "code_version": __version__,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_dir": str(data_dir.resolve()),
            "vars": json.dumps(dict(dbt_vars), sort_keys=True, default=str),
        }
        con.executemany("insert into raw.build_info values (?, ?)", list(info.items()))
        _load_matrix(con, dbt_vars)
    finally:
        con.close()


MATRIX_TABLES = ("maturity_domains", "maturity_domain_levels", "maturity_criteria")


def _load_matrix(con: duckdb.DuckDBPyConnection, dbt_vars: Mapping[str, Any]) -> None:
    """A replacement maturity matrix (var maturity_matrix_dir, validated already) into
    `raw.replacement_<file>`, every column as text, where the int_maturity_* models read it
    on any engine (source `maturity_matrix`)."""
    matrix_dir = dbt_vars.get("maturity_matrix_dir")
    if not matrix_dir:
        return
    for name in MATRIX_TABLES:
        path = Path(str(matrix_dir)) / f"{name}.csv"
        con.execute(
            f'create table raw."replacement_{name}" as select * from '
            f"read_csv('{_sql_path(path)}', header = true, all_varchar = true)"
        )


def _input_files(
    data_dir: Path, con: duckdb.DuckDBPyConnection
) -> Iterator[tuple[str, str, str, int, int, int]]:
    """One row per input file: checksum, and rows read / loaded / quarantined from validation."""
    counts = {
        (dataset, check): rows
        for dataset, check, rows in con.execute(
            "select dataset, check_name, sum(rows_affected) from raw.validation_results "
            "where practice_code is null and period_start is null "
            "group by all"
        ).fetchall()
    }
    for name in DATASETS:
        for suffix in (".csv", ".parquet"):
            path = data_dir / f"{name}{suffix}"
            if path.is_file():
                yield (
                    name,
                    path.name,
                    file_sha256(path),
                    int(counts.get((name, "rows_read"), 0)),
                    int(counts.get((name, "rows_loaded"), 0)),
                    int(counts.get((name, "rows_quarantined"), 0)),
                )


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _release_dbt_connections(warehouse: Path) -> None:
    """Close the DuckDB connection dbt-duckdb keeps open in-process and checkpoint the file,
    so that nothing is left in a write-ahead log when the file is moved into place."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()  # type: ignore[no-untyped-call]
    if warehouse.is_file():
        with duckdb.connect(str(warehouse)) as con:
            con.execute("checkpoint")


def run_dbt(
    command: list[str],
    warehouse: Path,
    dbt_vars: Mapping[str, Any],
    work: Path,
) -> list[str]:
    """Run a dbt command in-process against `warehouse`; return the failures (empty = success).

    DuckDB gets the memory limit of the settings and spills beside the warehouse file
    (`<warehouse>.tmp`: inside the build's own directory)."""
    from dbt.cli.main import dbtRunner

    settings = load_settings()
    project_dir = settings.project_dir
    if not (project_dir / "dbt_project.yml").is_file():
        raise UsageError(f"no dbt project at {project_dir}; set NBHD_PROJECT_DIR")
    args = [
        *command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--no-use-colors",
    ]
    if dbt_vars:
        args += ["--vars", json.dumps(dict(dbt_vars), default=str)]
    environment = {
        DBT_ENV_WAREHOUSE: str(warehouse),
        DBT_ENV_MEMORY_LIMIT: settings.duckdb_memory_limit,
    }
    with _environment(**environment):
        try:
            result = dbtRunner().invoke(args)
        finally:
            _release_dbt_connections(warehouse)
    if isinstance(result.exception, Signalled | KeyboardInterrupt):
        # dbtRunner catches every exception; a signal must still stop the build.
        raise result.exception
    if received_signal() is not None:  # raised in a model's thread: dbt reports failures
        raise Signalled(received_signal())
    if result.success:
        return []
    failures = []
    if result.exception is not None:
        failures.append(str(result.exception))
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status in {"error", "fail", "runtime error"}:
            node = getattr(node_result, "node", None)
            name = getattr(node, "unique_id", "?")
            failures.append(f"{name}: {status}: {getattr(node_result, 'message', '')}")
    return failures or ["dbt reported failure; see its log"]
