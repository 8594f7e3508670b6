"""Counts two metrics publish in common are declared in SHARED_COUNTS (metrics_cli/secondary.py).

Disclosure control withholds a shared count in every metric that shows it; a count two
metrics share without being declared could be withheld in one and published in the other.
This test finds, in a real build of the tiny ICB, every pair of metric count columns that
hold the same number in every cell both publish, and checks the pair is declared.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import duckdb
import polars as pl

from metrics_cli.disclosure import CELL_KEY, KIND_COUNT_COLUMNS, metric_kinds
from metrics_cli.secondary import SHARED_COUNTS

MIN_SHARED_CELLS = 50
"""Pairs equal in fewer non-zero cells than this are coincidences, not shared counts."""


def long_counts(warehouse: Path) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        values = con.sql("select * from metric_values").pl()
        catalogue = con.sql("select * from metric_catalogue").pl()
    kinds = metric_kinds(catalogue)
    counted = {str(kind): columns for kind, columns in KIND_COUNT_COLUMNS.items()}
    frames = []
    for metric_id, kind in kinds.iter_rows():
        for column in counted[kind]:
            rows = values.filter(pl.col("metric_id") == metric_id)
            if column == "unweighted_count":
                # an unweighted count equal to its row's numerator or denominator is that
                # count, as disclosure control treats it
                rows = rows.filter(
                    (pl.col(column) != pl.col("numerator")).fill_null(True)
                    & (pl.col(column) != pl.col("denominator")).fill_null(True)
                )
            frames.append(
                rows.select(
                    *[c for c in CELL_KEY if c != "metric_id"],
                    pl.lit(f"{metric_id}:{column}").alias("series"),
                    pl.col(column).cast(pl.Float64).alias("count"),
                )
            )
    return pl.concat(frames).filter(pl.col("count").is_not_null() & (pl.col("count") > 0))


def test_every_shared_count_is_declared(tiny_warehouse: Path) -> None:
    counts = long_counts(tiny_warehouse)
    key = [c for c in CELL_KEY if c != "metric_id"]
    declared = {
        frozenset({f"{a}:{x}", f"{b}:{y}"})
        for members in SHARED_COUNTS.values()
        for (a, x), (b, y) in combinations(members, 2)
    }
    by_series = {name: frame for (name,), frame in counts.group_by(["series"])}
    shared = set()
    for first, second in combinations(sorted(by_series), 2):
        if first.split(":")[0] == second.split(":")[0]:
            continue  # one metric's own columns are related through its row, not shared
        joined = by_series[first].join(by_series[second], on=key)
        if joined.height >= MIN_SHARED_CELLS and (joined["count"] == joined["count_right"]).all():
            shared.add(frozenset({first, second}))
    assert shared, "the tiny build shares no counts at all: the check would prove nothing"
    assert shared <= declared, sorted(sorted(pair) for pair in shared - declared)


def test_declared_counts_are_shared(tiny_warehouse: Path) -> None:
    """Each declared pair is the same number wherever both metrics publish it."""
    counts = long_counts(tiny_warehouse)
    key = [c for c in CELL_KEY if c != "metric_id"]
    for name, members in SHARED_COUNTS.items():
        overlap = 0
        for (a, x), (b, y) in combinations(members, 2):
            left = counts.filter(pl.col("series") == f"{a}:{x}")
            right = counts.filter(pl.col("series") == f"{b}:{y}")
            joined = left.join(right, on=key)
            overlap += joined.height
            assert (joined["count"] == joined["count_right"]).all(), (name, a, x, b, y)
        assert overlap >= MIN_SHARED_CELLS, name
