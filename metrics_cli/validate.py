"""`nbhd validate`: check an input directory row by row against `schemas.py`.

Every `<dataset>.csv|.parquet` is read as text in chunks, checked by its pandera schema
(lazily, every failure kept), and split: passing rows go to `<out>/<dataset>.parquet` in
the canonical columns and dtypes, failing rows to `<out>/quarantine/<dataset>.csv` with
their row number and reason. Every problem goes to `<out>/problems.csv` and the counts to
`<out>/validation_results.parquet`. Input rows = loaded + quarantined, for every dataset.
"""

from __future__ import annotations

import csv
import os
import stat
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import IO, Any

import polars as pl
import pyarrow.parquet as pq

from metrics_cli import __version__
from metrics_cli._pandera import pa_types, pandera_errors
from metrics_cli.errors import UsageError
from metrics_cli.files import (
    check_not_input,
    check_replaceable,
    csv_bytes,
    is_disk_full,
    printable,
    replace_owned_directory,
    safe_row,
    write_csv,
)
from metrics_cli.schemas import (
    DATASETS,
    BuiltSchema,
    DatasetSpec,
    Rule,
    SchemaContext,
    dataset_schema,
    empty_frame,
    is_name_column,
    key_text,
    main_date_range,
    nhs_numbers_in,
    parsed_flag,
    postcodes_in,
    question_ids,
    to_canonical,
)
from metrics_cli.settings import load_settings

CHUNK_ROWS = 1_000_000
REPORT_PROBLEM_LIMIT = 10_000
WITHHELD = "[withheld: direct identifier]"
_ROW = "__nbhd_row__"
PROBLEM_COLUMNS = ("file", "row", "column", "value", "rule")
RESULT_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "check_name": pl.String(),
    "severity": pl.String(),
    "practice_code": pl.String(),
    "period_start": pl.Date(),
    "rows_affected": pl.Int64(),
    "detail": pl.String(),
}


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, 1-based data row, column), the value, and the rule."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str


@dataclass(frozen=True)
class DatasetCounts:
    """What happened to one dataset's file. `file` is None when the dataset is absent."""

    dataset: str
    file: str | None
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    refused: bool = False
    loaded_path: Path | None = None


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of `validate_directory`.

    `problems` holds the first 10,000 problems (all of them are in problems.csv);
    `problem_count` counts every problem, `row_problem_count` those located on a row.
    """

    data_dir: Path
    out_dir: Path
    datasets: dict[str, DatasetCounts]
    problems: list[Problem]
    problem_count: int
    row_problem_count: int
    file_errors: list[str]
    warnings: list[str]

    @property
    def has_problems(self) -> bool:
        """Any row-level or file-level problem: `nbhd validate` exits 1."""
        return self.problem_count > 0 or bool(self.file_errors)

    @property
    def has_file_errors(self) -> bool:
        """A problem that stops the build before it touches the warehouse."""
        return bool(self.file_errors)

    @property
    def problems_csv(self) -> Path:
        return self.out_dir / "problems.csv"

    @property
    def quarantine_dir(self) -> Path:
        return self.out_dir / "quarantine"


# ---------------------------------------------------------------- collecting results
@dataclass
class _Sink:
    """Accumulates problems (written to problems.csv as they come) and result rows."""

    handle: IO[str]
    writer: Any
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    row_problem_count: int = 0
    results: list[dict[str, object]] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        """One file-level problem."""
        self.writer.writerow(
            safe_row([problem.file, problem.row, problem.column, problem.value, problem.rule])
        )
        if len(self.problems) < REPORT_PROBLEM_LIMIT:
            self.problems.append(problem)
        self.problem_count += 1

    def add_frame(self, frame: pl.DataFrame) -> None:
        """Problems as a frame with PROBLEM_COLUMNS, written without a Python loop."""
        if frame.is_empty():
            return
        self.handle.write(csv_bytes(frame.select(PROBLEM_COLUMNS), include_header=False).decode())
        room = REPORT_PROBLEM_LIMIT - len(self.problems)
        if room > 0:
            self.problems.extend(Problem(*row) for row in frame.head(room).iter_rows())
        self.problem_count += frame.height
        self.row_problem_count += frame.height

    def result(
        self,
        dataset: str,
        check_name: str,
        severity: str,
        rows_affected: int,
        detail: str,
        practice_code: str | None = None,
    ) -> None:
        self.results.append(
            {
                "dataset": dataset,
                "check_name": check_name,
                "severity": severity,
                "practice_code": practice_code,
                "period_start": None,
                "rows_affected": rows_affected,
                "detail": detail,
            }
        )

    def file_error(self, dataset: str, file: str, check_name: str, message: str) -> None:
        self.file_errors.append(f"{file}: {message}")
        self.add(Problem(file, None, None, None, message))
        self.result(dataset, check_name, "error", 0, message)


# ---------------------------------------------------------------- reading files
class _Unreadable(Exception):
    """A file that cannot be read as the format its name says."""


def _cannot_open(error: OSError) -> _Unreadable:
    """A file the operating system will not open for us (permissions, an I/O error): a
    problem of that file, reported with the others; a full disk stops the command instead."""
    if is_disk_full(error):
        raise error
    return _Unreadable(f"it cannot be opened ({(error.strerror or str(error)).lower()})")


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise _Unreadable(f"it is not a UTF-8 comma-separated file ({error})") from error
    except OSError as error:
        raise _cannot_open(error) from error


def _parquet_schema(path: Path) -> dict[str, pl.DataType]:
    try:
        return pl.read_parquet_schema(path)
    except OSError as error:
        raise _cannot_open(error) from error
    except Exception as error:  # polars raises several kinds for a bad file
        raise _Unreadable(f"it is not a readable Parquet file ({_first_line(error)})") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


_TEXT_DTYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)
# white space around a value is not part of it: ` A81001 ` is A81001, and two keys that
# differ only by it are one key
SPACE = " \t\r\n"


def _supported(dtype: pl.DataType) -> bool:
    return (
        isinstance(dtype, _TEXT_DTYPES)
        or dtype.is_numeric()
        or isinstance(dtype, pl.Boolean | pl.Date | pl.Datetime)
    )


def _as_text(dtype: pl.DataType, column: str) -> pl.Expr:
    """A column of any supported dtype as the text a CSV would have held ('' as null)."""
    value = pl.col(column)
    if isinstance(dtype, pl.Boolean):
        text = pl.when(value).then(pl.lit("true")).otherwise(pl.lit("false"))
    elif isinstance(dtype, pl.Date | pl.Datetime):
        text = _day(column, dtype).dt.strftime("%Y-%m-%d")
    elif dtype.is_float():
        whole = (value == value.floor()) & (value.abs() < 1e15)
        text = (
            pl.when(whole)
            .then(value.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(value.cast(pl.String))
        )
    else:
        text = value.cast(pl.String).str.strip_chars(SPACE)
    return pl.when(text == "").then(None).otherwise(text).alias(column)


def _scan(path: Path, header: list[str], *, keep_dates: bool = False) -> pl.LazyFrame:
    """The file's columns as text (`_as_text`) and its row numbers; with `keep_dates`, a
    Parquet file's date columns as they are, for `_dates_as_text`."""
    if path.suffix == ".parquet":
        frame = pl.scan_parquet(path)
        schema = frame.collect_schema()
        kept = (pl.Date, pl.Datetime) if keep_dates else ()
        return frame.select(
            [pl.col(c) if isinstance(schema[c], kept) else _as_text(schema[c], c) for c in header]
        ).with_row_index(_ROW, 1)
    frame = pl.scan_csv(path, infer_schema=False, encoding="utf8", quote_char='"')
    names = frame.collect_schema().names()
    if len(names) != len(header):
        raise _Unreadable(f"its header has {len(header)} columns but rows are read as {len(names)}")
    frame = frame.rename(dict(zip(names, header, strict=True)))
    return frame.select([_as_text(pl.String(), c) for c in header]).with_row_index(_ROW, 1)


_TYPED = "__nbhd_typed__"  # prefix of a Parquet date column's own dates in a chunk


def _dates_as_text(chunk: pl.DataFrame) -> pl.DataFrame:
    """A chunk read by `_scan(..., keep_dates=True)` with its date columns as the text
    `_as_text` writes, each day written once (a year of encounters has 365 days and
    millions of rows), and the dates themselves kept beside them as `_TYPED<column>`
    (`_own_day`), which the rules and the loaded file use instead of parsing the text
    again (`_typed_dates`)."""
    dated = [(c, t) for c, t in chunk.schema.items() if isinstance(t, pl.Date | pl.Datetime)]
    for column, dtype in dated:
        days = chunk.select(_day(column, dtype).alias("day")).get_column("day")
        distinct = days.unique().to_frame()
        texts = distinct.with_columns(_as_text(pl.Date(), "day").alias("text"))
        text = (
            days.to_frame()
            .join(texts, on="day", how="left", nulls_equal=True, maintain_order="left")
            .get_column("text")
        )
        chunk = chunk.with_columns(
            _own_day(column, dtype).alias(_TYPED + column), text.alias(column)
        )
    return chunk


def _typed_dates(frame: pl.DataFrame) -> dict[str, pl.Series]:
    """The dates `_dates_as_text` kept, by their column's name."""
    return {
        c.removeprefix(_TYPED): frame.get_column(c) for c in frame.columns if c.startswith(_TYPED)
    }


def _chunks(frame: pl.LazyFrame, rows: int | None) -> Iterator[pl.DataFrame]:
    if rows is None:
        yield frame.collect()
        return
    yield from frame.collect_batches(chunk_size=rows)


# any fixed seed: the hashes only narrow the search, and the keys they point to are compared
_KEY_HASH_SEED = 31


def _repeated_keys(path: Path, header: list[str], key: tuple[str, ...]) -> frozenset[str]:
    """Record keys that occur more than once anywhere in the file.

    Each key (as `_as_text` reads it, so ` A1 ` and `A1` are one key) is hashed to 64 bits
    and the hashes of the whole file are sorted: a key can repeat only where a hash does,
    and only the keys of those hashes (in a clean file none; two different keys sharing a
    hash are told apart) are then compared as text. A repeat is found exactly even when
    its copies fall in different chunks, and memory is 16 bytes a row whatever the keys.
    """
    keys = _scan(path, header).select(key_text(key).alias("key")).drop_nulls()
    hashes = keys.select(pl.col("key").hash(_KEY_HASH_SEED)).collect(engine="streaming")
    ordered = hashes.to_series().sort()
    shared = ordered.filter(ordered == ordered.shift(1)).unique()
    if shared.is_empty():
        return frozenset()
    candidates = keys.filter(pl.col("key").hash(_KEY_HASH_SEED).is_in(shared.implode()))
    repeated = candidates.group_by("key").len().filter(pl.col("len") > 1)
    return frozenset(repeated.collect(engine="streaming").get_column("key").to_list())


def _date_ranges(
    spec: DatasetSpec,
    path: Path,
    header: list[str],
    typed: Mapping[str, pl.DataType],
    today: date | None,
) -> dict[str, tuple[date, date]]:
    """For each column that dates the file's rows, the dates holding its bulk
    (`main_date_range`), from the distinct dates of the whole file (future ones left out:
    their own rule reports them). Columns with nothing far apart are left out. `typed` is
    a Parquet file's schema (empty for a CSV file)."""
    ranges: dict[str, tuple[date, date]] = {}
    for column, kind in spec.fields.items():
        if kind.when != "period" or column not in header:
            continue
        dated = _typed_days(path, column, typed[column]) if column in typed else None
        if dated is None:
            day = kind.parse(pl.col(column)).alias("day")
            dated = _scan(path, header).select(day).drop_nulls()
        if today is not None:
            dated = dated.filter(pl.col("day") <= today)
        found = dated.group_by("day").len().collect(engine="streaming")
        bulk = main_date_range(dict(found.iter_rows()))
        if bulk is not None:
            ranges[column] = bulk
    return ranges


def _typed_days(path: Path, column: str, dtype: pl.DataType) -> pl.LazyFrame | None:
    """The dates of a Parquet column stored as dates (or date-times), read as they are: the
    days the text route (`_as_text`, then `parse_iso_date`) would find, without writing
    each one as text and parsing it back, a tenth of the cost for the encounters
    (`_own_day`). None for any other type, which takes the text route."""
    if not isinstance(dtype, pl.Date | pl.Datetime):
        return None
    return pl.scan_parquet(path).select(_own_day(column, dtype).alias("day")).drop_nulls()


def _day(column: str, dtype: pl.DataType) -> pl.Expr:
    """A stored date (or date-time) column as its day."""
    return pl.col(column).dt.date() if isinstance(dtype, pl.Datetime) else pl.col(column)


def _own_day(column: str, dtype: pl.DataType) -> pl.Expr:
    """A stored date column's days, where the text route (`_as_text`, then
    `parse_iso_date`) would find the same day: years 0 to 9999, which have the four-digit
    `YYYY` that route accepts; null for any other."""
    day = _day(column, dtype)
    return pl.when(day.dt.year().is_between(0, 9999)).then(day)


# ---------------------------------------------------------------- one chunk
@dataclass
class _Progress:
    """Running state of one file while its chunks are checked."""

    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    identifier_rows: Counter[tuple[str, str]] = field(default_factory=Counter)
    rule_rows: Counter[str] = field(default_factory=Counter)
    rule_messages: dict[str, str] = field(default_factory=dict)
    practice_rows: Counter[str] = field(default_factory=Counter)


def _suspect_rows(
    built: BuiltSchema, frame: pl.DataFrame, typed: Mapping[str, pl.Series] | None = None
) -> pl.Series:
    """Positions of the rows some check of the pandera schema may fail: every check's own
    function (and each column's null rule) evaluated in one lazy query, so a clean batch
    costs one parallel pass instead of a collect per check. The direct-identifier and
    hidden-character checks take part through cheap lazy supersets (`BuiltSchema.may_fail`:
    one search per cell for ten digits in a row, a postcode's shape or a hiding character,
    and one per cell for the shape of either part of a split NHS number, computed once
    before the query as `BuiltSchema.flags`); pandera then computes the exact checks, check
    digits and all, for the few rows found.

    Only the rows found here are handed to pandera, whose failure cases make the report.
    It is a superset of pandera's failures (a null counts as suspect even where pandera
    ignores it), and every rule is row-local given its context (repeated keys come from
    the whole file beforehand; `organisations`, whose overlap rule compares rows, is
    checked whole and never comes here), so pandera on the suspect rows finds exactly
    the failures it would find on the whole batch.

    `typed` holds a Parquet file's date columns as dates (`_dates_as_text`): they stand in
    for the flag that parses the column's text, which would give them back.
    """
    lazy = frame.lazy()
    given = {
        parsed_flag(column): dates.alias(parsed_flag(column))
        for column, dates in (typed or {}).items()
        if parsed_flag(column) in built.flags
    }
    parsing = {name: expr for name, expr in built.flags.items() if name not in given}
    flagged = frame.with_columns(*given.values(), **parsing).lazy() if built.flags else lazy
    flags: list[pl.LazyFrame] = []
    for name, column in built.schema.columns.items():
        if not column.nullable:
            flags.append(lazy.select(pl.col(name).is_not_null().alias(f"ok{len(flags)}")))
        for check in column.checks:
            if (name, check.name) in built.may_fail:  # a cheap superset stands in
                may_fail = built.may_fail[(name, check.name)]
                if may_fail is not None:
                    flags.append(flagged.select((~may_fail).alias(f"ok{len(flags)}")))
                continue
            result = check._check_fn(pa_types.PolarsData(lazy, name))
            flags.append(result.select(pl.first().fill_null(False).alias(f"ok{len(flags)}")))
    if not flags:
        return pl.Series("position", [], dtype=pl.Int64)
    passed = pl.concat(flags, how="horizontal").select(pl.all_horizontal(pl.all()).alias("ok"))
    return passed.collect().get_column("ok").not_().arg_true().cast(pl.Int64)


def _failures(
    built: BuiltSchema,
    frame: pl.DataFrame,
    whole: bool = False,
    typed: Mapping[str, pl.Series] | None = None,
) -> pl.DataFrame:
    """Pandera's failure cases for the frame: one row per (row position, column, rule).

    Pandera checks only the suspect rows (`_suspect_rows`, given `typed`) unless `whole`
    is set."""
    if not whole:
        suspects = _suspect_rows(built, frame, typed)
        if suspects.is_empty():
            return _no_failures()
        cases = _failures(built, frame[suspects], whole=True)
        return cases.with_columns(suspects.gather(cases.get_column("position")).alias("position"))
    try:
        built.schema.validate(frame, lazy=True)
    except pandera_errors.SchemaErrors as errors:
        reported: pl.DataFrame = errors.failure_cases
        cases = reported.select(
            pl.col("column").cast(pl.String),
            pl.col("check").cast(pl.String),
            pl.col("index").cast(pl.Int64).alias("position"),
            pl.col("failure_case").cast(pl.String).alias("value"),
        )
        return cases.filter(pl.col("position").is_not_null())
    return _no_failures()


def _no_failures() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"column": pl.String, "check": pl.String, "position": pl.Int64, "value": pl.String}
    )


def _rule_table(built: BuiltSchema) -> pl.DataFrame:
    keys = list(built.rules)
    rules: list[Rule] = [built.rules[k] for k in keys]
    return pl.DataFrame(
        {
            "column": [k[0] for k in keys],
            "check": [k[1] for k in keys],
            "rule_id": [r.rule_id for r in rules],
            "message": [r.message for r in rules],
            "identifier": [r.identifier for r in rules],
            "shown": ["+".join(r.report_columns) or k[0] for k, r in zip(keys, rules, strict=True)],
        },
        schema={
            "column": pl.String,
            "check": pl.String,
            "rule_id": pl.String,
            "message": pl.String,
            "identifier": pl.Boolean,
            "shown": pl.String,
        },
    )


def _described(failures: pl.DataFrame, rules: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """Failure cases with their rule, row number and the value to report."""
    described = failures.join(rules, on=["column", "check"], how="left").with_columns(
        pl.col("rule_id").fill_null(pl.col("check")),
        pl.col("message").fill_null(pl.col("check")),
        pl.col("identifier").fill_null(False),
        pl.col("shown").fill_null(pl.col("column")),
        frame.get_column(_ROW).cast(pl.Int64).gather(failures.get_column("position")).alias("row"),
    )
    multi = described.filter(pl.col("shown").str.contains("+", literal=True))
    parts = [described.filter(~pl.col("shown").str.contains("+", literal=True))]
    for shown, group in multi.group_by("shown", maintain_order=True):
        columns = str(shown[0]).split("+")
        picked = frame.select(columns).with_row_index("position").cast({"position": pl.Int64})
        joined = pl.concat_str([pl.col(c).fill_null("") for c in columns], separator=" + ")
        parts.append(
            group.drop("value")
            .join(picked.select("position", joined.alias("value")), on="position", how="left")
            .select(described.columns)
        )
    order = {column: i for i, column in enumerate(frame.columns)}
    in_order = pl.col("column").replace_strict(order, default=len(order), return_dtype=pl.Int64)
    return pl.concat(parts).sort(pl.col("position"), in_order, pl.col("rule_id"))


def _masked(problems: pl.DataFrame, patient_level: bool) -> pl.DataFrame:
    """Problems with every value that is, or holds, a direct identifier withheld, and
    every value of a cell that holds part of one: the two cells of a split NHS number are
    each withheld whatever rule they are reported for (`943 476` breaking one rule and
    `5919` beside it another would give the number back)."""
    values = problems.get_column("value")
    cell = pl.concat_str([pl.col("position").cast(pl.String), pl.col("column")], separator="|")
    # the cells of every identifier finding (its own problem among them: `shown` starts
    # with its column)
    identifying = (
        problems.filter(pl.col("identifier"))
        .select("position", pl.col("shown").str.split("+").alias("column"))
        .explode("column")
        .select(cell.alias("cell"))
    )
    in_identifying_cell = problems.select(cell.is_in(identifying["cell"].implode())).to_series()
    hidden = in_identifying_cell | nhs_numbers_in(values)
    if patient_level:
        hidden = hidden | postcodes_in(values)
    return problems.with_columns(
        pl.when(hidden & values.is_not_null())
        .then(pl.lit(WITHHELD))
        .otherwise(values)
        .alias("value")
    )


# ---------------------------------------------------------------- one file
@dataclass
class _Outputs:
    """The loaded Parquet and quarantine CSV of one file, opened as rows arrive.

    Loaded rows are written by a background thread (pyarrow releases the GIL), so the
    next chunk is checked while the last one is written; at most one chunk waits to be
    written, so memory stays bounded. The file is written without column statistics: it
    is read back whole by the build, and they cost a third of the writing.
    """

    spec: DatasetSpec
    loaded_path: Path
    quarantine_path: Path
    writer: pq.ParquetWriter | None = None
    quarantine: IO[bytes] | None = None
    closed: bool = False
    arrow_schema: Any = None
    pool: ThreadPoolExecutor | None = None
    pending: Future[None] | None = None

    def __post_init__(self) -> None:
        empty = empty_frame(self.spec).to_arrow(compat_level=pl.CompatLevel.oldest())
        self.arrow_schema = empty.schema
        self.writer = pq.ParquetWriter(
            self.loaded_path, self.arrow_schema, compression="zstd", write_statistics=False
        )
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbhd-parquet")

    def load(self, rows: pl.DataFrame) -> None:
        if self.writer is not None and self.pool is not None and rows.height:
            table = rows.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(self.arrow_schema)
            self._wait()
            self.pending = self.pool.submit(self.writer.write_table, table)

    def _wait(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.result()

    def hold(self, rows: pl.DataFrame) -> None:
        if self.closed or not rows.height:
            return
        first = self.quarantine is None
        if self.quarantine is None:
            self.quarantine = self.quarantine_path.open("wb")
        write_csv(rows, self.quarantine, include_header=first)

    def close(self) -> None:
        try:
            self._wait()
        finally:
            if self.pool is not None:
                self.pool.shutdown()
                self.pool = None
            if self.writer is not None:
                self.writer.close()
                self.writer = None
        if self.quarantine is not None:
            self.quarantine.close()
            self.quarantine = None
        self.closed = True

    def discard(self) -> None:
        with suppress(Exception):  # a write that failed does not matter: the file goes
            self.close()
        self.loaded_path.unlink(missing_ok=True)
        self.quarantine_path.unlink(missing_ok=True)


def _quarantine_frame(
    frame: pl.DataFrame, header: list[str], reasons: pl.DataFrame
) -> pl.DataFrame:
    """Failing rows as read, plus `row_number` and `reason` (clashing input names prefixed)."""
    renamed = {c: f"input_{c}" for c in header if c in ("row_number", "reason")}
    return (
        frame.join(reasons, on="position", how="inner")
        .sort("position")
        .select(
            *[pl.col(c).alias(renamed.get(c, c)) for c in header],
            pl.col(_ROW).cast(pl.Int64).alias("row_number"),
            pl.col("reason"),
        )
    )


def _check_chunk(
    spec: DatasetSpec,
    built: BuiltSchema,
    rules: pl.DataFrame,
    chunk: pl.DataFrame,
    header: list[str],
    file_name: str,
    outputs: _Outputs,
    progress: _Progress,
    sink: _Sink,
) -> None:
    for column in spec.columns:
        if column not in chunk.columns:
            chunk = chunk.with_columns(pl.lit(None, pl.String).alias(column))
    checked = chunk.select([*spec.columns, *(c for c in header if c not in spec.columns)])
    typed = _typed_dates(chunk)
    failures = _failures(built, checked, whole=spec.whole_file, typed=typed)
    progress.rows_read += chunk.height
    if failures.is_empty():
        outputs.load(to_canonical(spec, chunk, typed))
        progress.rows_loaded += chunk.height
        return
    described = _masked(_described(failures, rules, chunk), spec.patient_level)
    problems = described.select(
        pl.lit(file_name).alias("file"),
        pl.col("row"),
        pl.col("shown").alias("column"),
        pl.col("value"),
        pl.col("message").alias("rule"),
    )
    sink.add_frame(problems)
    per_rule = described.unique(["rule_id", "position"])
    for rule_id, message, count in per_rule.group_by("rule_id", "message").len().iter_rows():
        progress.rule_rows[rule_id] += count
        progress.rule_messages[rule_id] = message
    identifiers = described.filter(pl.col("identifier")).unique(["rule_id", "shown", "position"])
    for rule_id, shown, count in identifiers.group_by("rule_id", "shown").len().iter_rows():
        progress.identifier_rows[(rule_id, shown)] += count
    orphan_rule = f"{spec.practice_column}.in_organisations"
    orphan = described.filter(pl.col("rule_id") == orphan_rule)
    for code, count in orphan.group_by("value").len().iter_rows():
        progress.practice_rows[code or ""] += count
    reasons = (
        described.group_by("position", maintain_order=True)
        .agg(pl.col("message").unique(maintain_order=True).str.join("; ").alias("reason"))
        .cast({"position": pl.Int64})
    )
    positions = pl.int_range(0, chunk.height, dtype=pl.Int64, eager=True).alias("position")
    indexed = chunk.with_columns(positions)
    passing = indexed.join(reasons, on="position", how="anti")
    if progress.identifier_rows:
        outputs.discard()
    else:
        outputs.load(to_canonical(spec, passing, _typed_dates(passing)))
        outputs.hold(_quarantine_frame(indexed, header, reasons))
    progress.rows_loaded += passing.height
    progress.rows_quarantined += reasons.height


# how each identifier rule's finds are summed up in the file-level error
_IDENTIFIERS_FOUND = {
    "direct_identifier.nhs_number": "NHS numbers in column {}",
    "direct_identifier.postcode": "full postcodes in column {}",
    "direct_identifier.nhs_number_split": "NHS numbers split across columns {} and {}",
}


def _header_errors(spec: DatasetSpec, header: list[str], file_name: str, sink: _Sink) -> bool:
    names = pl.Series("header", header, dtype=pl.String)
    held = nhs_numbers_in(names) | (postcodes_in(names) if spec.patient_level else False)
    if held.any():
        # a pivoted file (one column per patient): the header itself is not repeated
        positions = ", ".join(str(i + 1) for i in held.arg_true().to_list())
        message = (
            f"direct identifier: the name of column {positions} (counting from 1) holds an "
            "NHS number or postcode; the whole file is refused"
        )
        sink.file_error(spec.name, file_name, "direct_identifier.column_name", message)
        return True
    errors = False
    seen: set[str] = set()
    # a column named like one of the dataset's but for spaces around it (` census_date`)
    spaced = {
        c: c.strip(SPACE) for c in header if c != c.strip(SPACE) and c.strip(SPACE) in spec.columns
    }
    for column in header:
        twice = column in seen or (column in spaced and spaced[column] in header)
        if twice:
            named = spaced.get(column, column)
            also = f" (once as '{column}', with spaces around it)" if column in spaced else ""
            message = f"column {printable(named)} appears twice{printable(also)}"
            sink.file_error(spec.name, file_name, "file_unreadable", message)
            errors = True
        seen.add(column)
    for column in header:
        if is_name_column(column):
            message = (
                f"direct identifier: column {printable(column)} names people; "
                "the whole file is refused"
            )
            sink.file_error(spec.name, file_name, "direct_identifier.name_column", message)
            errors = True
    hints = {named: column for column, named in spaced.items()}
    missing = [c for c in spec.required_columns if c not in header]
    for column in missing:
        message = f"required column {column} is missing"
        if column in hints:
            message += (
                f" (a column '{printable(hints[column])}' has spaces around its name: remove them)"
            )
        sink.file_error(spec.name, file_name, "required_column_missing", message)
        errors = True
    for column in header:
        if column not in spec.columns and not is_name_column(column):
            shown = f"'{printable(column)}'" if column != column.strip(SPACE) else printable(column)
            message = f"column {shown} is not part of {spec.name} and is ignored"
            if column in spaced and spaced[column] not in header:
                message += f" (remove the spaces around its name to read it as {spaced[column]})"
            sink.warnings.append(f"{file_name}: {message}")
            sink.result(spec.name, "extra_column", "warning", 0, message)
    return errors


def _count_rows(path: Path, header: list[str]) -> int:
    """Rows of a refused file, counted as quarantined; 0 where it cannot be read."""
    try:
        return int(_scan(path, header).select(pl.len()).collect().item())
    except (_Unreadable, pl.exceptions.PolarsError, OSError):
        return 0


def _validate_file(
    spec: DatasetSpec,
    path: Path,
    context: SchemaContext,
    out_dir: Path,
    chunk_rows: int,
    sink: _Sink,
) -> DatasetCounts:
    file_name = path.name
    schema: dict[str, pl.DataType] = {}
    try:
        if path.suffix == ".parquet":
            schema = _parquet_schema(path)
            header = list(schema)
            unsupported = [c for c in header if not _supported(schema[c])]
            if unsupported:
                raise _Unreadable(f"column {unsupported[0]} has a type that is not text or number")
        else:
            header = _csv_header(path)
            if not header:
                raise _Unreadable("it is empty (no header row)")
    except _Unreadable as error:
        sink.file_error(spec.name, file_name, "file_unreadable", f"unreadable: {error}")
        return DatasetCounts(spec.name, file_name, 0, 0, 0, refused=True)

    if _header_errors(spec, header, file_name, sink):
        rows = _count_rows(path, header)
        return DatasetCounts(spec.name, file_name, rows, 0, rows, refused=True)

    outputs = _Outputs(
        spec, out_dir / f"{spec.name}.parquet", out_dir / "quarantine" / f"{spec.name}.csv"
    )
    progress = _Progress()
    try:
        if spec.record_key is not None:
            repeated = _repeated_keys(path, header, spec.record_key)
            context = replace(context, duplicate_keys=repeated)
        ranges = _date_ranges(spec, path, header, schema, context.today)
        context = replace(context, date_ranges=ranges)
        built = dataset_schema(spec, context, tuple(header))
        rules = _rule_table(built)
        frame = _scan(path, header, keep_dates=True)
        for batch in _chunks(frame, None if spec.whole_file else chunk_rows):
            chunk = _dates_as_text(batch)
            _check_chunk(spec, built, rules, chunk, header, file_name, outputs, progress, sink)
    except (_Unreadable, pl.exceptions.PolarsError, OSError) as error:
        outputs.discard()
        if is_disk_full(error):  # not the file's fault: the whole command stops
            raise
        message = f"unreadable: {_first_line(error)}"
        sink.file_error(spec.name, file_name, "file_unreadable", message)
        return DatasetCounts(spec.name, file_name, progress.rows_read, 0, progress.rows_read, True)

    for rule_id, count in sorted(progress.rule_rows.items()):
        sink.result(spec.name, rule_id, "error", count, progress.rule_messages[rule_id])
    for code, count in sorted(progress.practice_rows.items()):
        detail = f"{spec.practice_column} {code} is not a practice in organisations"
        sink.result(spec.name, "unknown_practice_code", "error", count, detail, code)
    if progress.identifier_rows:
        outputs.discard()
        found = ", ".join(
            f"{_IDENTIFIERS_FOUND[rule].format(*column.split('+'))} ({count} rows)"
            for (rule, column), count in sorted(progress.identifier_rows.items())
        )
        message = f"direct identifiers found: {found}; the whole file is refused"
        sink.file_errors.append(f"{file_name}: {message}")
        sink.result(spec.name, "direct_identifier", "error", progress.rows_read, message)
        read = progress.rows_read
        return DatasetCounts(spec.name, file_name, read, 0, read, refused=True)
    outputs.close()
    return DatasetCounts(
        spec.name,
        file_name,
        progress.rows_read,
        progress.rows_loaded,
        progress.rows_quarantined,
        loaded_path=outputs.loaded_path,
    )


# ---------------------------------------------------------------- the directory
_COMPRESSED = (".gz", ".zip", ".bz2", ".xz", ".zst", ".7z", ".tgz")
_OTHER_FORMATS = (".xlsx", ".xls", ".ods", ".tsv", ".txt", ".json", ".feather", ".arrow")


def _named_like_a_dataset(path: Path) -> tuple[str, str | None] | None:
    """(dataset, problem) for a directory entry named like a dataset; problem is None for a
    readable `<dataset>.csv|.parquet` file. None for any other name."""
    name = path.name
    stem, dot, rest = name.partition(".")
    dataset = stem.lower()
    if not dot or dataset not in DATASETS:
        return None
    extension = "." + rest
    lower = extension.lower()
    if extension in (".csv", ".parquet") and stem == dataset:
        try:
            mode = path.stat().st_mode
        except OSError as error:
            return dataset, f"it cannot be read ({error.strerror})"
        if stat.S_ISREG(mode):
            return dataset, None
        if stat.S_ISDIR(mode):
            return dataset, "it is a directory, not a file"
        return dataset, "it is not a regular file (a pipe, socket or device)"
    if lower in (".csv", ".parquet"):
        return dataset, (
            f"dataset file names are lower-case, extension too; rename it {dataset}{lower}"
        )
    for compressed in _COMPRESSED:
        inner = lower.removesuffix(compressed)
        if lower.endswith(compressed) and inner in (".csv", ".parquet", ""):
            target = f"{dataset}{inner or '.csv'}"
            return dataset, f"compressed files are not read; decompress it to {target}"
    if lower in _OTHER_FORMATS:
        return dataset, f"only .csv and .parquet files are read; save it as {dataset}.csv"
    return None


def _shown_name(name: str) -> str:
    """A file name as it may be reported: one holding an NHS number or a full postcode
    (`notes 943 476 5919.csv`) is withheld, as a value would be."""
    held = nhs_numbers_in(pl.Series([name])) | postcodes_in(pl.Series([name]))
    return f"a file named {WITHHELD}" if held[0] else printable(name)


def _input_files(data_dir: Path, sink: _Sink) -> tuple[dict[str, list[Path]], dict[str, str]]:
    """The dataset files of `data_dir`, and the datasets refused for a file named like them
    that cannot be read (upper-case extension, compressed, a directory, a pipe)."""
    found: dict[str, list[Path]] = {}
    refused: dict[str, str] = {}
    for path in sorted(data_dir.iterdir()):
        named = _named_like_a_dataset(path)
        if named is None:
            if path.suffix in (".csv", ".parquet"):
                shown = _shown_name(path.name)
                sink.warnings.append(f"{shown}: not an input dataset name; ignored")
            continue
        dataset, problem = named
        if problem is None:
            found.setdefault(dataset, []).append(path)
        else:
            sink.file_error(dataset, path.name, "file_unreadable", problem)
            refused.setdefault(dataset, path.name)
    return found, refused


def _organisation_codes(counts: DatasetCounts) -> tuple[frozenset[str], frozenset[str]]:
    assert counts.loaded_path is not None
    loaded = pl.read_parquet(counts.loaded_path, columns=["practice_code", "pcn_code"])
    return (
        frozenset(loaded.get_column("practice_code").drop_nulls().to_list()),
        frozenset(loaded.get_column("pcn_code").drop_nulls().to_list()),
    )


def _list_sizes(counts: DatasetCounts) -> dict[str, int]:
    """Each practice's registered list size: its largest total over the extracts."""
    assert counts.loaded_path is not None
    totals = (
        pl.scan_parquet(counts.loaded_path)
        .group_by("practice_code", "extract_date")
        .agg(pl.col("patients").sum())
        .group_by("practice_code")
        .agg(pl.col("patients").max())
        .collect()
    )
    return {str(code): int(size) for code, size in totals.iter_rows()}


def _record_counts(counts: DatasetCounts, sink: _Sink) -> None:
    name, file = counts.dataset, counts.file or ""
    if counts.rows_read != counts.rows_loaded + counts.rows_quarantined:
        raise AssertionError(f"{name}: rows read do not equal rows loaded + quarantined")
    held = "warning" if counts.rows_quarantined else "info"
    sink.result(name, "rows_read", "info", counts.rows_read, file)
    sink.result(name, "rows_loaded", "info", counts.rows_loaded, file)
    sink.result(name, "rows_quarantined", held, counts.rows_quarantined, file)
    detail = (
        f"{counts.rows_read} read = {counts.rows_loaded} loaded "
        f"+ {counts.rows_quarantined} quarantined"
    )
    if counts.refused:
        detail += " (file refused: every row counted as quarantined)"
    sink.result(name, "input_rows_reconcile", "info", counts.rows_read, detail)


def validate_directory(
    data_dir: Path,
    out_dir: Path,
    *,
    chunk_rows: int = CHUNK_ROWS,
    catalogue: Path | None = None,
    today: date | None = None,
) -> ValidationReport:
    """Check every input file in `data_dir`; write the validated files to `out_dir`.

    `out_dir` is a directory this command owns: it must be new, empty or an earlier output
    of `nbhd validate` (its manifest says so), and it may not be, hold or lie inside the
    input directory. It is written beside itself and replaces the old one only when
    complete. `today` is the build date the plausibility rules use (default: today)."""
    if not data_dir.is_dir():
        raise UsageError(f"there is no input directory at {data_dir}")
    try:
        os.listdir(data_dir)
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        raise UsageError(f"the input directory {data_dir} cannot be read ({reason})") from None
    check_not_input(out_dir, [data_dir], "--out")
    check_replaceable(out_dir, WRITTEN_BY, "--out")
    catalogue = catalogue or load_settings().project_dir / "seeds" / "metric_catalogue.csv"
    today = today or date.today()
    written: list[ValidationReport] = []

    def write(staging: Path) -> None:
        written.append(_validate_into(data_dir, staging, chunk_rows, catalogue, today))

    manifest = {"code_version": __version__, "data_dir": str(data_dir.resolve()), "today": today}
    replace_owned_directory(out_dir, WRITTEN_BY, write, manifest, "--out")
    report = written[0]
    datasets = {
        name: replace(counts, loaded_path=out_dir / counts.loaded_path.name)
        if counts.loaded_path is not None
        else counts
        for name, counts in report.datasets.items()
    }
    return replace(report, out_dir=out_dir, datasets=datasets)


WRITTEN_BY = "nbhd validate"


def _validate_into(
    data_dir: Path, out_dir: Path, chunk_rows: int, catalogue: Path, today: date
) -> ValidationReport:
    (out_dir / "quarantine").mkdir(parents=True, exist_ok=True)
    datasets: dict[str, DatasetCounts] = {}
    with (out_dir / "problems.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(PROBLEM_COLUMNS)
        sink = _Sink(handle, writer)
        files, misnamed = _input_files(data_dir, sink)
        context = SchemaContext(question_ids=question_ids(catalogue), today=today)
        unchecked_practices = False
        for name, spec in DATASETS.items():
            paths = files.get(name, [])
            if name in misnamed:
                datasets[name] = DatasetCounts(name, misnamed[name], 0, 0, 0, refused=True)
                continue
            if len(paths) > 1:
                both = " and ".join(p.name for p in paths)
                message = f"both {both} are present: keep one"
                sink.file_error(name, paths[0].name, "file_unreadable", message)
                datasets[name] = DatasetCounts(name, both, 0, 0, 0, refused=True)
                continue
            path = paths[0] if paths else None
            if path is None:
                datasets[name] = DatasetCounts(name, None, 0, 0, 0)
                if spec.required:
                    message = f"required dataset {name} is missing ({name}.csv or .parquet)"
                    sink.file_error(name, f"{name}.csv", "required_dataset_missing", message)
                else:
                    detail = "optional dataset absent: metrics that need it are not produced"
                    sink.result(name, "dataset_absent", "info", 0, detail)
                continue
            unchecked = spec.practice_column is not None and context.practice_codes is None
            unchecked_practices |= unchecked
            counts = _validate_file(spec, path, context, out_dir, chunk_rows, sink)
            datasets[name] = counts
            if counts.rows_read == 0 and not counts.refused:
                _no_rows(spec.name, spec.required, path.name, sink)
            _record_counts(counts, sink)
            if name == "organisations" and counts.loaded_path is not None:
                practices, pcns = _organisation_codes(counts)
                context = replace(context, practice_codes=practices, pcn_codes=pcns)
            if name == "registered_population" and counts.loaded_path is not None:
                context = replace(context, list_sizes=_list_sizes(counts))
        if unchecked_practices:
            sink.warnings.append(
                "practice codes were not checked against organisations, which did not load"
            )
    results = pl.DataFrame(sink.results, schema=RESULT_SCHEMA, orient="row")
    results.write_parquet(out_dir / "validation_results.parquet")
    return ValidationReport(
        data_dir=data_dir,
        out_dir=out_dir,
        datasets=datasets,
        problems=sink.problems,
        problem_count=sink.problem_count,
        row_problem_count=sink.row_problem_count,
        file_errors=sink.file_errors,
        warnings=sink.warnings,
    )


def _no_rows(dataset: str, required: bool, file_name: str, sink: _Sink) -> None:
    """A file with a header and no rows (an export that went wrong): a required dataset
    cannot be built from, an optional one gives no metrics."""
    if required:
        message = f"required dataset {dataset} has a header but no rows"
        sink.file_error(dataset, file_name, "no_rows", message)
    else:
        sink.warnings.append(
            f"{file_name}: it has a header but no rows: metrics that need {dataset} are not "
            "produced"
        )


# ---------------------------------------------------------------- the terminal report
def _table(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def format_report(report: ValidationReport, shown: int = 20) -> str:
    """The report `nbhd validate` prints: counts, file-level errors, the first problems."""
    lines = [f"Validated {report.data_dir} -> {report.out_dir}", ""]
    present = [c for c in report.datasets.values() if c.file is not None]
    absent = [c.dataset for c in report.datasets.values() if c.file is None]
    if present:
        rows = [("dataset", "file", "read", "loaded", "quarantined")]
        for counts in present:
            quarantined = f"{counts.rows_quarantined:,}" + (" (refused)" if counts.refused else "")
            rows.append(
                (
                    counts.dataset,
                    counts.file or "",
                    f"{counts.rows_read:,}",
                    f"{counts.rows_loaded:,}",
                    quarantined,
                )
            )
        lines += _table(rows, {2, 3, 4})
        lines.append("Every dataset: rows read = rows loaded + rows quarantined.")
    if absent:
        lines.append(f"Absent: {', '.join(absent)}")
    if report.file_errors:
        lines += ["", "File-level errors (the build stops until these are fixed):"]
        lines += [f"  - {error}" for error in report.file_errors]
    if report.warnings:
        lines += ["", "Warnings:"]
        lines += [f"  - {warning}" for warning in report.warnings]
    row_problems = [p for p in report.problems if p.row is not None]
    if row_problems:
        first = row_problems[:shown]
        total = report.row_problem_count
        lines += ["", f"Row problems (first {len(first)} of {total:,}):"]
        rows = [("file", "row", "column", "value", "rule")]
        rows += [(p.file, str(p.row), p.column or "", _short(p.value), p.rule) for p in first]
        lines += ["  " + line for line in _table(rows, {1})]
    if report.has_problems:
        lines += [
            "",
            f"Every problem: {report.problems_csv}",
            f"Quarantined rows: {report.quarantine_dir}/",
        ]
    else:
        lines += ["", "No problems found."]
    return "\n".join(lines)


def _short(value: str | None, width: int = 30) -> str:
    if value is None:
        return ""
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
