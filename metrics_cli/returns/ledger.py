"""The input directory's ledger (`_returns/`): which return supplies each slice, and the
staged, all-or-nothing writing of the datasets and the ledger. A replacement removes
exactly the old return's rows, and a slice can never be supplied twice: that is how
nothing is lost or counted twice (docs/maturity.md)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from metrics_cli.errors import DataError, UsageError
from metrics_cli.files import csv_bytes, safe_cell, write_csv
from metrics_cli.returns.datasets import (
    DATASETS_BY_NAME,
    ReturnDataset,
    as_date,
    dataset_file,
    read_text,
    slice_columns,
    with_slices,
)

LEDGER = "_returns"


SliceKey = tuple[str, str, str]  # dataset, owner, slice


RETURNS_FILE = "returns.csv"


SLICES_FILE = "slices.csv"


LOG_FILE = "log.csv"


RETURNS_COLUMNS = ("return_id", "provider", "period", "period_end", "content_sha256", "stored_file")


LOG_COLUMNS = (
    "logged_at",
    "action",
    "provider",
    "period",
    "file",
    "content_sha256",
    "rows_added",
    "rows_removed",
    "detail",
)


@dataclass
class Plan:
    """The ledger as it will be after this run, and the row changes that get it there."""

    returns: dict[str, dict[str, str]]
    slices: dict[SliceKey, str]
    initial: frozenset[SliceKey]
    file_counts: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    removals: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    additions: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    log: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def ledger_lock(ledger: Path) -> Iterator[None]:
    ledger.mkdir(parents=True, exist_ok=True)
    lock = ledger / ".lock"
    try:
        handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError as error:
        raise UsageError(
            f"another consolidation is running on {ledger.parent} (remove {lock} if it is not)"
        ) from error
    os.close(handle)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def load_plan(ledger: Path) -> Plan:
    returns = {row["return_id"]: row for row in _read_rows(ledger / RETURNS_FILE)}
    slices = {
        (row["dataset"], row["owner"], row["slice"]): row["return_id"]
        for row in _read_rows(ledger / SLICES_FILE)
    }
    return Plan(returns=returns, slices=slices, initial=frozenset(slices))


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def file_slices(plan: Plan, into: Path, name: str) -> dict[tuple[str, str], int]:
    """Row counts per slice of the dataset's file as it was when the run began (cached)."""
    if name not in plan.file_counts:
        path = dataset_file(into, name)
        counts: dict[tuple[str, str], int] = {}
        if path is not None:
            spec = DATASETS_BY_NAME[name]
            frame = read_text(path, slice_columns(spec))
            grouped = with_slices(frame, spec).group_by("_owner", "_slice").len()
            counts = {
                (owner, period): count
                for owner, period, count in grouped.select("_owner", "_slice", "len").iter_rows()
            }
        plan.file_counts[name] = counts
    return plan.file_counts[name]


def base_slices(plan: Plan, into: Path, name: str) -> set[tuple[str, str]]:
    """Slices in the dataset's file that no return supplied: the ICB's own rows."""
    return {key for key in file_slices(plan, into, name) if (name, *key) not in plan.initial}


def release(plan: Plan, into: Path, keys: Iterable[SliceKey]) -> int:
    """Take slices away from the returns holding them: their rows leave the file, or the
    rows planned earlier in this run. Returns how many rows go."""
    removed = 0
    for name, owner, period in sorted(keys):
        holder = plan.slices.pop((name, owner, period), None)
        if holder is None:
            continue
        scheduled = plan.removals.setdefault(name, set())
        if (name, owner, period) in plan.initial and (owner, period) not in scheduled:
            scheduled.add((owner, period))
            removed += file_slices(plan, into, name).get((owner, period), 0)
        pending = plan.additions.get((name, holder))
        if pending is not None:
            matches = (pl.col("_owner") == owner) & (pl.col("_slice") == period)
            removed += pending.filter(matches).height
            plan.additions[(name, holder)] = pending.filter(~matches)
    return removed


def without_slices(frame: pl.DataFrame, keys: set[tuple[str, str]]) -> pl.DataFrame:
    """Rows of a sliced frame whose (owner, slice) is not among keys."""
    if not keys:
        return frame
    unwanted = pl.DataFrame(
        sorted(keys), schema={"_owner": pl.Utf8, "_slice": pl.Utf8}, orient="row"
    )
    return frame.join(unwanted, on=["_owner", "_slice"], how="anti", nulls_equal=False)


def apply_plan(plan: Plan, into: Path) -> None:
    """Write the planned datasets and ledger: every file is staged first, then each one
    replaces its original, so a failure part-way leaves the originals as they were."""
    ledger = into / LEDGER
    staged: list[tuple[Path, Path]] = []
    try:
        names = sorted({name for name, _ in plan.additions} | set(plan.removals))
        for name in names:
            additions = [
                frame.drop("_owner", "_slice", "_period_end")
                for (dataset, _), frame in sorted(plan.additions.items())
                if dataset == name and frame.height
            ]
            removals = plan.removals.get(name, set())
            if not additions and not removals:
                continue
            target = dataset_file(into, name) or into / f"{name}.csv"
            if not target.is_file() and not additions:
                continue
            staged.append(
                (_stage_dataset(target, DATASETS_BY_NAME[name], additions, removals), target)
            )
        for stored, data in plan.stored.items():
            target = ledger / stored
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.append((_stage_bytes(target, data), target))
        returns = [plan.returns[key] for key in sorted(plan.returns)]
        staged.append(
            (
                _stage_bytes(ledger / RETURNS_FILE, _csv_bytes(RETURNS_COLUMNS, returns)),
                ledger / RETURNS_FILE,
            )
        )
        slices = [
            {"dataset": name, "owner": owner, "slice": period, "return_id": holder}
            for (name, owner, period), holder in sorted(plan.slices.items())
        ]
        staged.append(
            (
                _stage_bytes(
                    ledger / SLICES_FILE,
                    _csv_bytes(("dataset", "owner", "slice", "return_id"), slices),
                ),
                ledger / SLICES_FILE,
            )
        )
        log_path = ledger / LOG_FILE
        logged_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entries = [{"logged_at": logged_at, **entry} for entry in plan.log]
        previous = log_path.read_bytes() if log_path.is_file() else b""
        body = _csv_bytes(LOG_COLUMNS, entries, header=not previous)
        staged.append((_stage_bytes(log_path, previous + body), log_path))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in staged:
        os.replace(temporary, target)


def _stage_dataset(
    target: Path,
    spec: ReturnDataset,
    additions: list[pl.DataFrame],
    removals: set[tuple[str, str]],
) -> Path:
    """A temporary copy of one dataset file with the removed slices gone and the additions
    appended, in the file's own format (Parquet keeps its column types)."""
    temporary = _temporary_beside(target)
    if target.suffix == ".parquet" and target.is_file():
        typed = pl.read_parquet(target)
        text = typed.select(pl.col(name).cast(pl.Utf8) for name in typed.columns)
        keep = without_slices(with_slices(text, spec).with_row_index("_row"), removals)["_row"]
        kept = (
            typed.with_row_index("_row").filter(pl.col("_row").is_in(keep.implode())).drop("_row")
        )
        added = [_cast_like(frame, kept.schema, target) for frame in additions]
        pl.concat([kept, *added], how="vertical").write_parquet(temporary)
        return temporary
    if target.is_file():
        header = _csv_header(target)
        fits = all(set(frame.columns) <= set(header) for frame in additions)
        if not removals and fits:
            shutil.copyfile(target, temporary)
            with temporary.open("ab") as handle:
                if temporary.stat().st_size and not _ends_with_newline(target):
                    handle.write(b"\n")
                for frame in additions:
                    ordered = frame.select(
                        pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.Utf8).alias(c)
                        for c in header
                    )
                    handle.write(csv_bytes(ordered, include_header=False))
            return temporary
        existing = read_text(target)
        kept = without_slices(with_slices(existing, spec), removals).drop(
            "_owner", "_slice", "_period_end"
        )
        write_csv(pl.concat([kept, *additions], how="diagonal"), temporary)
        return temporary
    write_csv(pl.concat(additions, how="diagonal"), temporary)
    return temporary


def _cast_like(frame: pl.DataFrame, schema: pl.Schema, target: Path) -> pl.DataFrame:
    """Text rows cast to a Parquet file's column types (missing columns null)."""
    columns = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
        elif dtype == pl.Date:
            columns.append(as_date(pl.col(name)).alias(name))
        elif dtype == pl.Boolean:
            columns.append((pl.col(name).str.to_lowercase() == "true").alias(name))
        else:
            columns.append(pl.col(name).cast(dtype))
    try:
        return frame.select(columns)
    except pl.exceptions.PolarsError as error:
        raise DataError(
            f"a return's rows do not fit the column types of {target}: {error}"
        ) from error


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _csv_bytes(
    columns: Sequence[str], rows: Iterable[Mapping[str, str]], header: bool = True
) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows({key: safe_cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue().encode("utf-8")


def _temporary_beside(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    return Path(name)


def _stage_bytes(target: Path, data: bytes) -> Path:
    temporary = _temporary_beside(target)
    temporary.write_bytes(data)
    return temporary
