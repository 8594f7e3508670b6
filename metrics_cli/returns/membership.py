"""Who returns what: the quarter of a return, a provider's member practices and PCNs, and
which provider returns each neighbourhood's assessment (docs/maturity.md)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import polars as pl

from metrics_cli.errors import UsageError
from metrics_cli.schemas import add_months

PERIOD_LABEL = re.compile(r"^(\d{4})/(\d{2}) Q([1-4])$")


@dataclass(frozen=True)
class Quarter:
    """A financial-year quarter, the period of a return."""

    label: str
    start: dt.date
    end: dt.date

    def months(self) -> list[dt.date]:
        return [add_months(self.start, offset) for offset in range(3)]


def parse_quarter(label: str) -> Quarter:
    """`2025/26 Q2` -> 2025-07-01..2025-09-30; UsageError for anything else."""
    match = PERIOD_LABEL.match(label.strip())
    if match is None or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise UsageError(f"period '{label}' is not a financial-year quarter like '2025/26 Q2'")
    start = add_months(dt.date(int(match.group(1)), 4, 1), 3 * (int(match.group(3)) - 1))
    return Quarter(label.strip(), start, add_months(start, 3) - dt.timedelta(days=1))


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
