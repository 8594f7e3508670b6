"""Consolidated returns: `nbhd submit` writes an at-scale provider's return for a quarter;
`nbhd consolidate` merges returns into the ICB's input directory.

A return is one zip file: `manifest.json` (provider, period, members, and each file's rows
and sha256) and one CSV per dataset holding the provider's rows for the period. Rows are
carried as the text they were read as, so consolidation changes nothing in them.

Every row of a return belongs to a *slice*: a dataset, an owner (practice, PCN for
PCN-employed staff, or neighbourhood) and a period (a month, an extract or census date, a
financial year, a survey wave, an assessment period; `patients` is a snapshot with no
period). The input directory's ledger (`_returns/`) records which return supplies each
slice, so a replacement removes exactly the old return's rows, and a slice can never be
supplied twice: that is how nothing is lost or counted twice. docs/maturity.md has the rules.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from metrics_cli import __version__
from metrics_cli.errors import DataError, UsageError
from metrics_cli.files import atomic_path, csv_bytes, safe_cell, write_csv

RETURN_FORMAT = "nbhd-return"
RETURN_VERSION = 1
MANIFEST = "manifest.json"
LEDGER = "_returns"
PERIOD_LABEL = re.compile(r"^(\d{4})/(\d{2}) Q([1-4])$")
STATUSES = ("met", "partially_met", "not_met", "not_assessed")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ReturnDataset:
    """How one dataset travels in a return: whose rows they are and which period they hold."""

    name: str
    owner_column: str
    period_column: str | None
    period_kind: str  # month, date, financial_year, survey_wave, assessment_period, snapshot
    pcn_column: str | None = None

    @property
    def owned_by_neighbourhood(self) -> bool:
        return self.owner_column == "neighbourhood_code"


RETURN_DATASETS = (
    ReturnDataset("gp_appointments", "GP_CODE", "APPOINTMENT_MONTH_START_DATE", "month"),
    ReturnDataset("gp_encounters", "practice_code", "encounter_date", "month"),
    ReturnDataset("hospital_activity", "practice_code", "month", "month"),
    ReturnDataset("community_activity", "practice_code", "month", "month"),
    ReturnDataset("registered_population", "practice_code", "extract_date", "date"),
    ReturnDataset("workforce", "practice_code", "census_date", "date", pcn_column="pcn_code"),
    ReturnDataset("practice_payments", "practice_code", "financial_year", "financial_year"),
    ReturnDataset("weighted_population", "practice_code", "financial_year", "financial_year"),
    ReturnDataset("prem_responses", "practice_code", "survey_wave", "survey_wave"),
    ReturnDataset("patients", "practice_code", None, "snapshot"),
    ReturnDataset(
        "maturity_assessments", "neighbourhood_code", "assessment_period", "assessment_period"
    ),
)
DATASETS_BY_NAME = {spec.name: spec for spec in RETURN_DATASETS}


@dataclass(frozen=True)
class Quarter:
    """A financial-year quarter, the period of a return."""

    label: str
    start: dt.date
    end: dt.date

    def months(self) -> list[dt.date]:
        return [_add_months(self.start, offset) for offset in range(3)]


def parse_quarter(label: str) -> Quarter:
    """`2025/26 Q2` -> 2025-07-01..2025-09-30; UsageError for anything else."""
    match = PERIOD_LABEL.match(label.strip())
    if match is None or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise UsageError(f"period '{label}' is not a financial-year quarter like '2025/26 Q2'")
    start = _add_months(dt.date(int(match.group(1)), 4, 1), 3 * (int(match.group(3)) - 1))
    return Quarter(label.strip(), start, _add_months(start, 3) - dt.timedelta(days=1))


# ---------------------------------------------------------------------------- membership


def member_practices(
    organisations: pl.DataFrame, provider: str, start: dt.date, end: dt.date
) -> set[str]:
    """Practices with an organisations row naming `provider` at some time in start..end."""
    rows = _overlapping(organisations, start, end).filter(pl.col("provider_code") == provider)
    return set(rows["practice_code"].to_list())


def neighbourhood_owners(organisations: pl.DataFrame, on: dt.date) -> dict[str, str | None]:
    """Who returns each neighbourhood's assessment on a date: the provider most of its
    practices report through, or None (the ICB) where most report through none. Ties: a
    provider before none, then the lowest code. Each practice counts through its row valid
    on the date, else its latest row starting before it, else its first row."""
    ranked = organisations.with_columns(
        pl.when(pl.col("valid_from") <= on).then(0).otherwise(1).alias("_after"),
        pl.when(pl.col("valid_from") <= on)
        .then(pl.col("valid_from"))
        .otherwise(None)
        .alias("_started"),
    ).sort(
        ["practice_code", "_after", "_started", "valid_from"],
        descending=[False, False, True, False],
        nulls_last=True,
    )
    current = ranked.unique("practice_code", keep="first", maintain_order=True)
    counted = (
        current.group_by("neighbourhood_code", "provider_code")
        .agg(pl.len().alias("practices"))
        .with_columns(pl.col("provider_code").is_null().alias("_none"))
        .sort(
            ["neighbourhood_code", "practices", "_none", "provider_code"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .unique("neighbourhood_code", keep="first", maintain_order=True)
    )
    return dict(zip(counted["neighbourhood_code"], counted["provider_code"], strict=True))


def provider_pcns(
    organisations: pl.DataFrame, provider: str, start: dt.date, end: dt.date
) -> set[str]:
    """PCNs with a member practice of `provider` in start..end: they own PCN-employed staff."""
    rows = _overlapping(organisations, start, end).filter(pl.col("provider_code") == provider)
    return set(rows["pcn_code"].drop_nulls().to_list())


def _overlapping(organisations: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    return organisations.filter(
        (pl.col("valid_from") <= end)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= start))
    )


# ---------------------------------------------------------------------------- reading data


def read_text(path: Path, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A dataset file with every column as text (CSV as written; Parquet values cast)."""
    try:
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path, columns=list(columns) if columns else None)
            return frame.select(pl.col(name).cast(pl.Utf8) for name in frame.columns)
        return pl.read_csv(
            path,
            infer_schema=False,
            encoding="utf8-lossy",
            columns=list(columns) if columns else None,
        )
    except (OSError, pl.exceptions.PolarsError) as error:
        raise DataError(f"{path} cannot be read: {error}") from error


def slice_columns(spec: ReturnDataset) -> list[str]:
    """The columns that place a dataset's rows in their slices."""
    return [c for c in (spec.owner_column, spec.period_column, spec.pcn_column) if c]


def dataset_file(directory: Path, name: str) -> Path | None:
    """`<name>.csv` or `<name>.parquet` in directory, whichever exists."""
    for suffix in (".csv", ".parquet"):
        candidate = directory / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_organisations(path: Path) -> pl.DataFrame:
    """organisations with valid_from / valid_to as dates."""
    frame = read_text(path)
    try:
        return frame.with_columns(
            pl.col("valid_from").str.to_date("%Y-%m-%d"),
            pl.col("valid_to").str.to_date("%Y-%m-%d"),
        )
    except pl.exceptions.PolarsError as error:
        raise DataError(f"{path}: valid_from / valid_to must be dates like 2025-04-01") from error


def _as_date(expression: pl.Expr) -> pl.Expr:
    """Text dates as ISO `2025-04-01` or as GPAD publishes them, `01APR2025`."""
    return pl.coalesce(
        expression.str.to_date("%Y-%m-%d", strict=False),
        expression.str.to_date("%d%b%Y", strict=False),
    )


def _year_end(label: pl.Expr) -> pl.Expr:
    """Last day of a financial year `2024/25` or of a survey wave `2024` / `2024/25`."""
    year = label.str.slice(0, 4).cast(pl.Int32, strict=False)
    return (
        pl.when(label.str.contains("/"))
        .then(pl.date(year + 1, 3, 31))
        .otherwise(pl.date(year, 12, 31))
    )


def with_slices(frame: pl.DataFrame, spec: ReturnDataset) -> pl.DataFrame:
    """The frame with `_owner`, `_slice` (the period within the slice, as text) and
    `_period_end` (the day the row's period ends, for choosing which return carries it)."""
    owner = pl.col(spec.owner_column)
    if spec.pcn_column is not None:
        owner = (
            pl.when(owner.is_null() | (owner == ""))
            .then(pl.lit("pcn:") + pl.col(spec.pcn_column))
            .otherwise(owner)
        )
    if spec.period_column is None:
        period = pl.lit("")
        period_end: pl.Expr = pl.lit(None, dtype=pl.Date)
    else:
        raw = pl.col(spec.period_column)
        if spec.period_kind == "month":
            period = _as_date(raw).dt.strftime("%Y-%m")
            period_end = _as_date(raw)
        elif spec.period_kind == "date":
            period = _as_date(raw).dt.strftime("%Y-%m-%d")
            period_end = _as_date(raw)
        elif spec.period_kind in ("financial_year", "survey_wave"):
            period = raw
            period_end = _year_end(raw)
        else:
            period = raw
            period_end = pl.lit(None, dtype=pl.Date)
    return frame.with_columns(
        owner.alias("_owner"), period.alias("_slice"), period_end.alias("_period_end")
    )


# ---------------------------------------------------------------------------- submit


@dataclass(frozen=True)
class SubmitOutcome:
    """What `nbhd submit` did: the return written, or the completeness problems found."""

    ok: bool
    provider: str
    period: str
    out: Path | None
    neighbourhoods: tuple[str, ...] = ()
    practices: tuple[str, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        if not self.ok:
            lines = [
                f"The return of {self.provider} for {self.period} is incomplete, so nothing "
                f"was written ({len(self.problems)} problem(s)):"
            ]
            lines.extend(f"  - {problem}" for problem in self.problems)
            return "\n".join(lines)
        lines = [
            f"Return of {self.provider} for {self.period}: {len(self.neighbourhoods)} "
            f"neighbourhood(s), {len(self.practices)} practice(s), written to {self.out}"
        ]
        lines.extend(f"  {name:<24} {count:>12,} rows" for name, count in self.rows.items())
        return "\n".join(lines)


def submit(
    warehouse: Path, provider: str, period: str | None, data_dir: Path, out: Path
) -> SubmitOutcome:
    """Check a provider's return for a quarter is complete and write it as one zip bundle."""
    if not data_dir.is_dir():
        raise UsageError(f"input directory {data_dir} does not exist")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; give the return file's name, e.g. P1.zip")
    organisations, criteria = _warehouse_reference(warehouse)
    if provider not in set(organisations["provider_code"].drop_nulls().to_list()):
        raise UsageError(f"provider '{provider}' is not in the organisations of {warehouse}")
    frames: dict[str, pl.DataFrame] = {}
    for spec in RETURN_DATASETS:
        path = dataset_file(data_dir, spec.name)
        if path is None:
            continue
        frame = read_text(path)
        lacking = [column for column in slice_columns(spec) if column not in frame.columns]
        if lacking:
            raise DataError(f"{path} lacks column(s) {', '.join(lacking)}")
        frames[spec.name] = with_slices(frame, spec)
    quarter = parse_quarter(period) if period else _latest_period(frames, organisations, provider)
    practices = member_practices(organisations, provider, quarter.start, quarter.end)
    if not practices:
        raise UsageError(f"provider '{provider}' has no member practices in {quarter.label}")
    owners = neighbourhood_owners(organisations, quarter.end)
    neighbourhoods = {code for code, owner in owners.items() if owner == provider}
    owners_in_return = practices | {
        f"pcn:{pcn}" for pcn in provider_pcns(organisations, provider, quarter.start, quarter.end)
    }
    problems = _maturity_problems(
        frames.get("maturity_assessments"), neighbourhoods, criteria, quarter
    )
    problems += _appointment_problems(
        frames.get("gp_appointments"), organisations, provider, quarter
    )
    problems += _unreadable_period_problems(frames, owners_in_return)
    if problems:
        return SubmitOutcome(False, provider, quarter.label, None, problems=tuple(problems))
    selected = {
        name: _rows_in_return(
            frame, DATASETS_BY_NAME[name], owners_in_return, neighbourhoods, quarter
        )
        for name, frame in frames.items()
    }
    _write_bundle(out, provider, quarter, sorted(neighbourhoods), sorted(practices), selected)
    return SubmitOutcome(
        ok=True,
        provider=provider,
        period=quarter.label,
        out=out,
        neighbourhoods=tuple(sorted(neighbourhoods)),
        practices=tuple(sorted(practices)),
        rows={name: frame.height for name, frame in selected.items()},
    )


def _warehouse_reference(warehouse: Path) -> tuple[pl.DataFrame, list[str]]:
    """The warehouse's organisations and the self-assessed criteria of its matrix."""
    if not warehouse.is_file():
        raise UsageError(f"warehouse {warehouse} does not exist; run `nbhd build` first")
    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            organisations = connection.sql(
                "select practice_code, pcn_code, neighbourhood_code, provider_code, "
                "valid_from, valid_to from stg_organisations"
            ).pl()
            criteria = [
                row[0]
                for row in connection.sql(
                    "select criterion_id from int_maturity_criteria "
                    "where criterion_kind = 'self_assessed' order by criterion_id"
                ).fetchall()
            ]
    except duckdb.Error as error:
        raise DataError(
            f"{warehouse} lacks the organisations or the maturity matrix ({error}); "
            "rebuild it with `nbhd build`"
        ) from error
    return organisations, criteria


def _latest_period(
    frames: Mapping[str, pl.DataFrame], organisations: pl.DataFrame, provider: str
) -> Quarter:
    """The latest assessment period with a row for a neighbourhood of the provider's practices."""
    assessments = frames.get("maturity_assessments")
    mine = organisations.filter(pl.col("provider_code") == provider)["neighbourhood_code"]
    labels: list[str] = []
    if assessments is not None:
        labels = (
            assessments.filter(pl.col("neighbourhood_code").is_in(mine.implode()))[
                "assessment_period"
            ]
            .drop_nulls()
            .unique()
            .to_list()
        )
    quarters = [parse_quarter(label) for label in labels if PERIOD_LABEL.match(label)]
    if not quarters:
        raise UsageError(
            f"no maturity_assessments rows for the neighbourhoods of '{provider}': give --period"
        )
    return max(quarters, key=lambda quarter: quarter.start)


def _maturity_problems(
    assessments: pl.DataFrame | None,
    neighbourhoods: set[str],
    criteria: Sequence[str],
    quarter: Quarter,
) -> list[str]:
    """Every member neighbourhood assesses every self-assessed criterion, once, validly."""
    if not neighbourhoods:
        return []
    if assessments is None:
        return [
            f"maturity_assessments is missing, so no neighbourhood has assessed {quarter.label}"
        ]
    rows = assessments.filter(
        (pl.col("assessment_period") == quarter.label)
        & pl.col("neighbourhood_code").is_in(sorted(neighbourhoods))
    )
    problems: list[str] = []
    known = set(criteria)
    for code in sorted(neighbourhoods):
        mine = rows.filter(pl.col("neighbourhood_code") == code)
        counts = mine.group_by("criterion_id").len()
        missing = [c for c in criteria if c not in set(counts["criterion_id"].to_list())]
        if missing:
            problems.append(
                f"neighbourhood {code} has not assessed {len(missing)} criterion(s) for "
                f"{quarter.label}: {', '.join(missing)}"
            )
        repeated = sorted(counts.filter(pl.col("len") > 1)["criterion_id"].to_list())
        if repeated:
            problems.append(
                f"neighbourhood {code} assessed {', '.join(repeated)} more than once "
                f"for {quarter.label}"
            )
        unknown = sorted(set(mine["criterion_id"].to_list()) - known)
        if unknown:
            problems.append(
                f"neighbourhood {code} assessed {', '.join(unknown)}, "
                "which the matrix does not hold"
            )
        bad = sorted(set(mine["status"].to_list()) - set(STATUSES))
        if bad:
            problems.append(
                f"neighbourhood {code} used status {', '.join(map(str, bad))}; "
                f"allowed: {', '.join(STATUSES)}"
            )
    return problems


def _appointment_problems(
    appointments: pl.DataFrame | None, organisations: pl.DataFrame, provider: str, quarter: Quarter
) -> list[str]:
    """Every member practice has gp_appointments rows for every month it was a member."""
    expected: list[tuple[str, str]] = []
    for month in quarter.months():
        month_end = _add_months(month, 1) - dt.timedelta(days=1)
        for practice in sorted(member_practices(organisations, provider, month, month_end)):
            expected.append((practice, f"{month:%Y-%m}"))
    if appointments is None:
        return [f"gp_appointments is missing, so no practice has data for {quarter.label}"]
    present = set(
        zip(appointments["_owner"].to_list(), appointments["_slice"].to_list(), strict=True)
    )
    missing: dict[str, list[str]] = {}
    for practice, label in expected:
        if (practice, label) not in present:
            missing.setdefault(practice, []).append(label)
    return [
        f"practice {practice} has no gp_appointments rows for {', '.join(months)}"
        for practice, months in sorted(missing.items())
    ]


def _unreadable_period_problems(frames: Mapping[str, pl.DataFrame], owners: set[str]) -> list[str]:
    """Rows of member practices whose date or period cannot be read would silently fall
    out of every return: name them instead."""
    problems: list[str] = []
    for name, frame in frames.items():
        spec = DATASETS_BY_NAME[name]
        if spec.period_kind in ("snapshot", "assessment_period") or spec.period_column is None:
            continue
        unreadable = frame.filter(
            pl.col("_owner").is_in(sorted(owners)) & pl.col("_period_end").is_null()
        )
        if unreadable.height:
            problems.append(
                f"{unreadable.height} row(s) of {name} for member practices have an unreadable "
                f"{spec.period_column} (e.g. '{unreadable[spec.period_column][0]}')"
            )
    return problems


def _rows_in_return(
    frame: pl.DataFrame,
    spec: ReturnDataset,
    owners: set[str],
    neighbourhoods: set[str],
    quarter: Quarter,
) -> pl.DataFrame:
    """The provider's rows of one dataset that this quarter's return carries: dated rows of
    the quarter, yearly rows in the quarter their year ends, the whole patients snapshot."""
    mine = frame.filter(
        pl.col("_owner").is_in(sorted(neighbourhoods if spec.owned_by_neighbourhood else owners))
    )
    if spec.period_kind == "assessment_period":
        mine = mine.filter(pl.col("_slice") == quarter.label)
    elif spec.period_kind != "snapshot":
        mine = mine.filter(pl.col("_period_end").is_between(quarter.start, quarter.end))
    return mine.drop("_owner", "_slice", "_period_end")


def _write_bundle(
    out: Path,
    provider: str,
    quarter: Quarter,
    neighbourhoods: list[str],
    practices: list[str],
    frames: Mapping[str, pl.DataFrame],
) -> None:
    """The zip: one CSV per dataset and the manifest; the same inputs give the same bytes."""
    files: dict[str, bytes] = {}
    entries: dict[str, dict[str, object]] = {}
    for name in sorted(frames):
        data = csv_bytes(frames[name])
        files[f"{name}.csv"] = data
        entries[name] = {
            "file": f"{name}.csv",
            "rows": frames[name].height,
            "sha256": _sha256(data),
        }
    manifest = {
        "format": RETURN_FORMAT,
        "version": RETURN_VERSION,
        "provider": provider,
        "period": quarter.label,
        "period_start": quarter.start.isoformat(),
        "period_end": quarter.end.isoformat(),
        "neighbourhoods": neighbourhoods,
        "practices": practices,
        "datasets": entries,
        "content_sha256": _content_digest(entries),
        "written_by": f"nbhd {__version__}",
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temporary, zipfile.ZipFile(temporary, "w") as bundle:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, files[name])


def _content_digest(entries: Mapping[str, Mapping[str, object]]) -> str:
    lines = "".join(f"{name}:{entries[name]['sha256']}\n" for name in sorted(entries))
    return _sha256(lines.encode("utf-8"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, day.day)


# ---------------------------------------------------------------------------- consolidate

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


@dataclass(frozen=True)
class ReturnResult:
    """What happened to one return file: accepted, replaced, unchanged or refused."""

    file: Path
    provider: str
    period: str
    action: str
    detail: str
    rows_added: int = 0
    rows_removed: int = 0


@dataclass(frozen=True)
class ConsolidateOutcome:
    """All the returns of one `nbhd consolidate`: it writes nothing if any is refused."""

    into: Path
    results: tuple[ReturnResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.action != "refused" for result in self.results)

    def summary(self) -> str:
        lines = []
        for result in self.results:
            who = f"{result.provider} {result.period}" if result.provider else "(unreadable)"
            line = f"{result.action:<9} {who} ({result.file.name})"
            if result.action in ("accepted", "replaced"):
                line += f": {result.rows_added:,} rows added, {result.rows_removed:,} removed"
            if result.detail:
                line += (
                    f": {result.detail}"
                    if result.action not in ("accepted", "replaced")
                    else (f"; {result.detail}")
                )
            lines.append(line)
        if self.ok:
            lines.append(
                f"Consolidated into {self.into}; the ledger is {self.into / LEDGER / LOG_FILE}"
            )
        else:
            lines.append(
                f"Nothing was written to {self.into}: the refused returns must be fixed first."
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class _Bundle:
    path: Path
    provider: str
    quarter: Quarter
    content_sha256: str
    frames: Mapping[str, pl.DataFrame]
    data: bytes


@dataclass
class _Plan:
    """The ledger as it will be after this run, and the row changes that get it there."""

    returns: dict[str, dict[str, str]]
    slices: dict[SliceKey, str]
    initial: frozenset[SliceKey]
    file_counts: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    removals: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    additions: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)
    stored: dict[str, bytes] = field(default_factory=dict)
    log: list[dict[str, str]] = field(default_factory=list)


class _Refusal(Exception):
    """A return that cannot be merged, with the reason in one sentence."""


def consolidate(files: list[Path], into: Path, replace: bool) -> ConsolidateOutcome:
    """Merge return bundles into an input directory; all or nothing (docs/maturity.md)."""
    if not into.is_dir():
        raise UsageError(f"input directory {into} does not exist")
    organisations_path = dataset_file(into, "organisations")
    if organisations_path is None:
        raise UsageError(
            f"{into} holds no organisations file, so who may return what cannot be checked"
        )
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise UsageError(f"return file(s) not found: {', '.join(missing)}")
    organisations = read_organisations(organisations_path)
    ledger = into / LEDGER
    with _lock(ledger):
        plan = _load_plan(ledger)
        results = [_plan_return(path, organisations, plan, replace, into) for path in files]
        outcome = ConsolidateOutcome(into, tuple(results))
        if outcome.ok and any(r.action in ("accepted", "replaced") for r in results):
            _apply(plan, into)
        return outcome


@contextmanager
def _lock(ledger: Path) -> Iterator[None]:
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


def _load_plan(ledger: Path) -> _Plan:
    returns = {row["return_id"]: row for row in _read_rows(ledger / RETURNS_FILE)}
    slices = {
        (row["dataset"], row["owner"], row["slice"]): row["return_id"]
        for row in _read_rows(ledger / SLICES_FILE)
    }
    return _Plan(returns=returns, slices=slices, initial=frozenset(slices))


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _plan_return(
    path: Path, organisations: pl.DataFrame, plan: _Plan, replace: bool, into: Path
) -> ReturnResult:
    """Check one return against the ledger as planned so far, and add it to the plan."""
    try:
        bundle = _open_bundle(path)
    except _Refusal as refusal:
        return ReturnResult(path, "", "", "refused", str(refusal))
    return_id = f"{bundle.provider}|{bundle.quarter.label}"
    previous = plan.returns.get(return_id)

    def result(action: str, detail: str, added: int = 0, removed: int = 0) -> ReturnResult:
        return ReturnResult(
            path, bundle.provider, bundle.quarter.label, action, detail, added, removed
        )

    if previous is not None and previous["content_sha256"] == bundle.content_sha256:
        return result("unchanged", "identical to the return already merged; nothing to do")
    if previous is not None and not replace:
        return result(
            "refused",
            "a different return for this provider and period was merged before; "
            "run again with --replace to replace it",
        )
    problems = _ownership_problems(bundle, organisations)
    if problems:
        return result("refused", _listed(problems))
    slices = {
        name: with_slices(frame, DATASETS_BY_NAME[name]) for name, frame in bundle.frames.items()
    }
    conflicts, takeovers, skipped = _slice_conflicts(slices, return_id, bundle, plan, into)
    if conflicts:
        return result("refused", _listed(conflicts))
    removed = 0
    if previous is not None:
        own = {key for key, holder in plan.slices.items() if holder == return_id}
        removed += _release(plan, into, own)
    removed += _release(plan, into, takeovers)
    added = 0
    for name, frame in slices.items():
        kept = _without_slices(frame, skipped.get(name, set()))
        plan.additions[(name, return_id)] = kept
        added += kept.height
        for owner, period in set(
            zip(kept["_owner"].to_list(), kept["_slice"].to_list(), strict=True)
        ):
            plan.slices[(name, owner, period)] = return_id
    stored = f"{bundle.provider}/{bundle.quarter.label.replace('/', '-').replace(' ', '-')}.zip"
    plan.returns[return_id] = {
        "return_id": return_id,
        "provider": bundle.provider,
        "period": bundle.quarter.label,
        "period_end": bundle.quarter.end.isoformat(),
        "content_sha256": bundle.content_sha256,
        "stored_file": stored,
    }
    plan.stored[stored] = bundle.data
    detail = ""
    if skipped:
        count = sum(len(keys) for keys in skipped.values())
        detail = f"{count} patients snapshot(s) older than those already merged were not used"
    action = "replaced" if previous is not None else "accepted"
    plan.log.append(
        {
            "action": action,
            "provider": bundle.provider,
            "period": bundle.quarter.label,
            "file": str(path),
            "content_sha256": bundle.content_sha256,
            "rows_added": str(added),
            "rows_removed": str(removed),
            "detail": detail,
        }
    )
    return result(action, detail, added, removed)


def _listed(problems: Sequence[str], limit: int = 10) -> str:
    shown = "; ".join(problems[:limit])
    more = len(problems) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def _open_bundle(path: Path) -> _Bundle:
    """A return file read and checked against its manifest's checksums."""
    data = path.read_bytes()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise _Refusal("not a return file (it is not a zip written by `nbhd submit`)") from error
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise _Refusal("not a return file: it has no manifest.json")
        try:
            manifest = json.loads(archive.read(MANIFEST))
            provider = str(manifest["provider"])
            quarter = parse_quarter(str(manifest["period"]))
            entries: dict[str, dict[str, object]] = manifest["datasets"]
            declared = str(manifest["content_sha256"])
        except (ValueError, KeyError, TypeError, UsageError) as error:
            raise _Refusal(f"the manifest cannot be read: {error}") from error
        if manifest.get("format") != RETURN_FORMAT or manifest.get("version") != RETURN_VERSION:
            raise _Refusal(f"not a version {RETURN_VERSION} {RETURN_FORMAT} file")
        unknown = sorted(set(entries) - set(DATASETS_BY_NAME))
        if unknown:
            raise _Refusal(f"it carries datasets a return cannot hold: {', '.join(unknown)}")
        extra = sorted(names - {MANIFEST} - {str(entry["file"]) for entry in entries.values()})
        if extra:
            raise _Refusal(f"it holds files its manifest does not list: {', '.join(extra)}")
        frames: dict[str, pl.DataFrame] = {}
        for name, entry in sorted(entries.items()):
            member = str(entry["file"])
            if member not in names:
                raise _Refusal(f"{member} is listed in the manifest but missing")
            content = archive.read(member)
            if _sha256(content) != entry["sha256"]:
                raise _Refusal(f"{member} does not match its checksum: the file was changed")
            frame = (
                pl.read_csv(io.BytesIO(content), infer_schema=False) if content else pl.DataFrame()
            )
            lacking = [c for c in slice_columns(DATASETS_BY_NAME[name]) if c not in frame.columns]
            if lacking:
                raise _Refusal(f"{member} lacks column(s) {', '.join(lacking)}")
            if frame.height != entry["rows"]:
                raise _Refusal(
                    f"{member} holds {frame.height} rows, the manifest says {entry['rows']}"
                )
            frames[name] = frame
    if _content_digest(entries) != declared:
        raise _Refusal("the manifest's content checksum does not match its files")
    return _Bundle(path, provider, quarter, declared, frames, data)


def _ownership_problems(bundle: _Bundle, organisations: pl.DataFrame) -> list[str]:
    """Rows the provider may not return: other providers' practices, PCNs or
    neighbourhoods, or periods outside the return's quarter."""
    quarter = bundle.quarter
    practices = member_practices(organisations, bundle.provider, quarter.start, quarter.end)
    pcns = provider_pcns(organisations, bundle.provider, quarter.start, quarter.end)
    owners = neighbourhood_owners(organisations, quarter.end)
    neighbourhoods = {code for code, owner in owners.items() if owner == bundle.provider}
    problems: list[str] = []
    for name, frame in sorted(bundle.frames.items()):
        spec = DATASETS_BY_NAME[name]
        if frame.is_empty():
            continue
        sliced = with_slices(frame, spec)
        for owner in sorted(set(sliced["_owner"].to_list()), key=str):
            if spec.owned_by_neighbourhood:
                if owner not in neighbourhoods:
                    problems.append(
                        f"{name} rows for neighbourhood {owner}, whose assessment "
                        f"{bundle.provider} does not return in {quarter.label}"
                    )
            elif str(owner).startswith("pcn:"):
                if owner[4:] not in pcns:
                    problems.append(
                        f"{name} rows for PCN {owner[4:]}, which has no practice of "
                        f"{bundle.provider} in {quarter.label}"
                    )
            elif owner not in practices:
                problems.append(
                    f"{name} rows for practice {owner}, which does not report through "
                    f"{bundle.provider} in {quarter.label}"
                )
        if spec.period_kind == "assessment_period":
            outside = sliced.filter(pl.col("_slice") != quarter.label)
        elif spec.period_kind == "snapshot":
            outside = sliced.clear()
        else:
            outside = sliced.filter(
                ~pl.col("_period_end").is_between(quarter.start, quarter.end).fill_null(False)
            )
        if outside.height:
            problems.append(f"{outside.height} {name} row(s) fall outside {quarter.label}")
    return problems


def _slice_conflicts(
    slices: Mapping[str, pl.DataFrame],
    return_id: str,
    bundle: _Bundle,
    plan: _Plan,
    into: Path,
) -> tuple[list[str], set[SliceKey], dict[str, set[tuple[str, str]]]]:
    """Slices another source already supplies (conflicts), patients snapshots this return
    supersedes (takeovers) and older snapshots it must not use (skipped)."""
    conflicts: list[str] = []
    takeovers: set[SliceKey] = set()
    skipped: dict[str, set[tuple[str, str]]] = {}
    for name, frame in sorted(slices.items()):
        spec = DATASETS_BY_NAME[name]
        base = _base_slices(plan, into, name)
        keys = sorted(set(zip(frame["_owner"].to_list(), frame["_slice"].to_list(), strict=True)))
        for owner, period in keys:
            current = plan.slices.get((name, owner, period))
            where = f"{name} for {owner}" + (f" {period}" if period else "")
            if current == return_id:
                continue
            if current is not None and spec.period_kind == "snapshot":
                if plan.returns[current]["period_end"] < bundle.quarter.end.isoformat():
                    takeovers.add((name, owner, period))
                else:
                    skipped.setdefault(name, set()).add((owner, period))
            elif current is not None:
                conflicts.append(f"{where} is already supplied by the return {current}")
            elif (owner, period) in base:
                conflicts.append(f"{where} is already in {into.name} from outside any return")
    return conflicts, takeovers, skipped


def _file_slices(plan: _Plan, into: Path, name: str) -> dict[tuple[str, str], int]:
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


def _base_slices(plan: _Plan, into: Path, name: str) -> set[tuple[str, str]]:
    """Slices in the dataset's file that no return supplied: the ICB's own rows."""
    return {key for key in _file_slices(plan, into, name) if (name, *key) not in plan.initial}


def _release(plan: _Plan, into: Path, keys: Iterable[SliceKey]) -> int:
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
            removed += _file_slices(plan, into, name).get((owner, period), 0)
        pending = plan.additions.get((name, holder))
        if pending is not None:
            matches = (pl.col("_owner") == owner) & (pl.col("_slice") == period)
            removed += pending.filter(matches).height
            plan.additions[(name, holder)] = pending.filter(~matches)
    return removed


def _without_slices(frame: pl.DataFrame, keys: set[tuple[str, str]]) -> pl.DataFrame:
    """Rows of a sliced frame whose (owner, slice) is not among keys."""
    if not keys:
        return frame
    unwanted = pl.DataFrame(
        sorted(keys), schema={"_owner": pl.Utf8, "_slice": pl.Utf8}, orient="row"
    )
    return frame.join(unwanted, on=["_owner", "_slice"], how="anti", nulls_equal=False)


def _apply(plan: _Plan, into: Path) -> None:
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
        keep = _without_slices(with_slices(text, spec).with_row_index("_row"), removals)["_row"]
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
        kept = _without_slices(with_slices(existing, spec), removals).drop(
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
            columns.append(_as_date(pl.col(name)).alias(name))
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
