"""What changed in metric_values since the last publication (`changes.md`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from metrics_cli.disclosure import (
    CELL_KEY,
)
from metrics_cli.publish.dictionary import listed, md_cell
from metrics_cli.publish.manifest import is_publication

MAX_LISTED_CHANGES = 20


@dataclass(frozen=True)
class Change:
    """One metric_values cell that changed between publications."""

    cell: tuple[str, ...]
    previous: str
    current: str


@dataclass(frozen=True)
class Changes:
    """What changed in metric_values since the previous publication in the same place."""

    first_publication: bool
    metrics_added: tuple[str, ...] = ()
    metrics_removed: tuple[str, ...] = ()
    rows_added: int = 0
    rows_removed: int = 0
    moved: tuple[Change, ...] = ()
    moved_count: int = 0
    newly_suppressed: tuple[Change, ...] = ()
    newly_suppressed_count: int = 0
    no_longer_suppressed_count: int = 0

    def headline(self) -> str:
        """One line for the console."""
        if self.first_publication:
            return "First publication in this directory."
        return (
            f"Since the previous publication: {len(self.metrics_added)} metrics added, "
            f"{len(self.metrics_removed)} removed, {self.rows_added:,} rows added, "
            f"{self.rows_removed:,} removed, {self.moved_count:,} values moved beyond their "
            f"previous 95% limits, {self.newly_suppressed_count:,} cells newly suppressed."
        )

    def markdown(self) -> str:
        """The human-readable summary written to changes.md."""
        lines = ["# Changes since the previous publication", ""]
        if self.first_publication:
            lines.append("This is the first publication in this directory.")
            return "\n".join(lines) + "\n"
        lines.append(self.headline())
        lines.append("")
        lines.append(f"- Metrics added: {listed(self.metrics_added)}")
        lines.append(f"- Metrics removed: {listed(self.metrics_removed)}")
        lines.append(f"- Rows added: {self.rows_added:,}; rows removed: {self.rows_removed:,}")
        lines.append(f"- Cells no longer suppressed: {self.no_longer_suppressed_count:,}")
        sections = (
            (
                "Values outside their previous 95% limits",
                self.moved,
                self.moved_count,
                "previous value (95% limits)",
            ),
            (
                "Newly suppressed cells",
                self.newly_suppressed,
                self.newly_suppressed_count,
                "previous value",
            ),
        )
        for title, changes, count, previous_label in sections:
            lines += ["", f"## {title} ({count:,})", ""]
            if not changes:
                lines.append("None.")
                continue
            lines.append(f"| {' | '.join(CELL_KEY)} | {previous_label} | now |")
            lines.append("|" + "---|" * (len(CELL_KEY) + 2))
            for change in changes:
                cells = " | ".join(md_cell(part) for part in change.cell)
                lines.append(
                    f"| {cells} | {md_cell(change.previous)} | {md_cell(change.current)} |"
                )
            if count > len(changes):
                lines.append("")
                lines.append(f"The first {len(changes)} of {count:,} are listed.")
        return "\n".join(lines) + "\n"


COMPARED = (*CELL_KEY, "value", "lower_95", "upper_95", "is_suppressed")
"""The columns of the previous publication's metric_values that the comparison reads."""


def previous_metric_values(out: Path) -> pl.DataFrame | None:
    """The previous publication's metric_values in `out` (COMPARED only: the whole table
    nationally is 10.6 million rows of 27 columns), or None where there is none to compare
    with, or it lacks a column compared."""
    path = out / "metric_values.parquet"
    if not is_publication(out) or not path.is_file():
        return None
    try:
        if not set(COMPARED) <= set(pl.read_parquet_schema(path)):
            return None
        return pl.read_parquet(path, columns=list(COMPARED))
    except (OSError, pl.exceptions.PolarsError):
        return None


def _describe_value(value: float | None, lower: float | None, upper: float | None) -> str:
    if value is None:
        return "*"
    if lower is None or upper is None:
        return f"{value:.6g}"
    return f"{value:.6g} ({lower:.6g} to {upper:.6g})"


def compare_publications(previous: pl.DataFrame | None, current: pl.DataFrame) -> Changes:
    """What changed in published metric_values: metrics and rows added or removed, values
    now outside their previous 95% limits, and cells newly suppressed."""
    if previous is None or not set(COMPARED) <= set(previous.columns):
        return Changes(first_publication=True)
    key = list(CELL_KEY)
    old_metrics = set(previous["metric_id"].unique().to_list())
    new_metrics = set(current["metric_id"].unique().to_list())
    old = previous.select(*COMPARED).cast({c: current.schema[c] for c in key})
    now = current.select(*key, "value", "is_suppressed")
    # one join finds the rows in both, and those only in one of them
    joined = old.with_columns(pl.lit(True).alias("_was")).join(
        now.with_columns(pl.lit(True).alias("_is")),
        on=key,
        how="full",
        suffix="_now",
        coalesce=True,
    )
    rows_added = joined["_was"].null_count()
    rows_removed = joined["_is"].null_count()
    both = joined.filter(pl.col("_was") & pl.col("_is"))
    del joined
    moved = both.filter(
        ~pl.col("is_suppressed")
        & ~pl.col("is_suppressed_now")
        & pl.col("value_now").is_not_null()
        & ((pl.col("value_now") < pl.col("lower_95")) | (pl.col("value_now") > pl.col("upper_95")))
    ).sort(key)
    newly = both.filter(~pl.col("is_suppressed") & pl.col("is_suppressed_now")).sort(key)
    released = both.filter(pl.col("is_suppressed") & ~pl.col("is_suppressed_now")).height

    def cell(row: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(row[c]) for c in key)

    return Changes(
        first_publication=False,
        metrics_added=tuple(sorted(new_metrics - old_metrics)),
        metrics_removed=tuple(sorted(old_metrics - new_metrics)),
        rows_added=rows_added,
        rows_removed=rows_removed,
        moved=tuple(
            Change(
                cell(row),
                _describe_value(row["value"], row["lower_95"], row["upper_95"]),
                _describe_value(row["value_now"], None, None),
            )
            for row in moved.head(MAX_LISTED_CHANGES).iter_rows(named=True)
        ),
        moved_count=moved.height,
        newly_suppressed=tuple(
            Change(cell(row), _describe_value(row["value"], None, None), "*")
            for row in newly.head(MAX_LISTED_CHANGES).iter_rows(named=True)
        ),
        newly_suppressed_count=newly.height,
        no_longer_suppressed_count=released,
    )
