"""Which input datasets a return carries, and how each row finds its slice.

The datasets and their columns are the input layer's (`metrics_cli.schemas.DATASETS`);
this module adds only what a return needs on top: whose rows they are (the owner column)
and which period a row belongs to. Every row of a return belongs to a *slice*: a dataset,
an owner (practice, PCN for PCN-employed staff, or neighbourhood) and a period (a month,
an extract or census date, a financial year, a survey wave, an assessment period;
`patients` is a snapshot with no period).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics_cli.errors import DataError
from metrics_cli.schemas import DATASETS, MATURITY_STATUSES

STATUSES = MATURITY_STATUSES
"""The statuses a maturity self-assessment may give (the input layer's)."""


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


def _travelling(
    name: str,
    period_kind: str,
    period_column: str | None = None,
    owner_column: str | None = None,
    pcn_column: str | None = None,
) -> ReturnDataset:
    """How the input layer's dataset `name` travels: its owner is the dataset's practice
    column unless named, its period the column the input layer dates rows by (`when =
    "period"`) unless named; every column named must be one of the dataset's."""
    spec = DATASETS[name]
    owner = owner_column or spec.practice_column
    if period_column is None and period_kind in ("month", "date"):
        period_column = next(c for c, kind in spec.fields.items() if kind.when == "period")
    named = [c for c in (owner, period_column, pcn_column) if c is not None]
    if owner is None or not set(named) <= set(spec.columns):
        raise ValueError(f"{name}: a return's columns {named} are not all in the input layer's")
    return ReturnDataset(name, owner, period_column, period_kind, pcn_column)


RETURN_DATASETS = (
    _travelling("gp_appointments", "month"),
    _travelling("gp_encounters", "month"),
    _travelling("hospital_activity", "month"),
    _travelling("community_activity", "month"),
    _travelling("registered_population", "date"),
    _travelling("workforce", "date", pcn_column="pcn_code"),
    _travelling("practice_payments", "financial_year", "financial_year"),
    _travelling("weighted_population", "financial_year", "financial_year"),
    _travelling("prem_responses", "survey_wave", "survey_wave"),
    _travelling("patients", "snapshot"),
    _travelling(
        "maturity_assessments",
        "assessment_period",
        "assessment_period",
        owner_column="neighbourhood_code",
    ),
)
"""The input datasets a return carries (every other input is the ICB's own), in the
input layer's columns."""


DATASETS_BY_NAME = {spec.name: spec for spec in RETURN_DATASETS}


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


def as_date(expression: pl.Expr) -> pl.Expr:
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
            period = as_date(raw).dt.strftime("%Y-%m")
            period_end = as_date(raw)
        elif spec.period_kind == "date":
            period = as_date(raw).dt.strftime("%Y-%m-%d")
            period_end = as_date(raw)
        elif spec.period_kind in ("financial_year", "survey_wave"):
            period = raw
            period_end = _year_end(raw)
        else:
            period = raw
            period_end = pl.lit(None, dtype=pl.Date)
    return frame.with_columns(
        owner.alias("_owner"), period.alias("_slice"), period_end.alias("_period_end")
    )
