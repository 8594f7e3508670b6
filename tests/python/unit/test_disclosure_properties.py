"""Property tests of disclosure control on random small ICBs.

Each example draws a hierarchy (1-2 neighbourhoods of 1-2 PCNs of 1-3 practices, one ICB,
`all`; sometimes one PCN straddles two neighbourhoods), counts 0..20 per practice and IMD
quintile plus 0..3 patients of unknown LSOA (in `all` only), and builds every geography's
`all`, quintile and Core20/rest rows by summing practices. The relations the tests check
are written out here, independently of the module: a published table must not let any
suppressed count be worked out, neither from one relation (parent minus published
children, `all` minus published siblings) nor from any combination of them (checked by
linear algebra with numpy's SVD, where the module uses exact modular elimination). Like
the module, the tests treat quintiles as adding up to `all`; where patients of unknown
LSOA make that untrue, a cell the relations pin down comes out wrong, which reveals
nothing, so that check is on the value worked out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_cli.disclosure import apply_disclosure

PERIOD_END = date(2025, 3, 31)
CATALOGUE = pl.DataFrame(
    {
        "metric_id": ["events_rate"],
        "method": ["byars"],
        "source_datasets": ["hospital_activity|registered_population"],
    }
)
BREAKDOWNS = [
    ("all", "all"),
    *[("imd_quintile", str(q)) for q in range(1, 6)],
    ("core20", "core20"),
    ("core20", "rest"),
]
LEVELS = ("practice", "pcn", "neighbourhood", "icb", "all")
SCHEMA = {
    "metric_id": pl.Utf8,
    "period_grain": pl.Utf8,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "period_label": pl.Utf8,
    "geography_type": pl.Utf8,
    "geography_code": pl.Utf8,
    "breakdown_type": pl.Utf8,
    "breakdown_value": pl.Utf8,
    "numerator": pl.Float64,
    "denominator": pl.Float64,
    "unweighted_count": pl.Int64,
    "value": pl.Float64,
    "lower_95": pl.Float64,
    "upper_95": pl.Float64,
    "lower_998": pl.Float64,
    "upper_998": pl.Float64,
    "method": pl.Utf8,
    "comparison_to_parent": pl.Utf8,
    "not_calculated_reason": pl.Utf8,
}

Cell = tuple[str, str, str, str]  # geography_type, geography_code, breakdown_type, value


@dataclass(frozen=True)
class Icb:
    practices: dict[str, dict[str, str]]  # practice -> geography_type -> code
    counts: dict[str, list[int]]  # practice -> quintiles 1..5, unknown
    extra: dict[str, list[int]]  # practice -> denominator beyond the numerator
    drop_empty: bool

    def members(self, geography_type: str, code: str) -> list[str]:
        return [p for p, geos in self.practices.items() if geos[geography_type] == code]

    def geographies(self) -> list[tuple[str, str]]:
        return sorted({(t, c) for geos in self.practices.values() for t, c in geos.items()})


@st.composite
def icbs(draw: st.DrawFn) -> Icb:
    practices: dict[str, dict[str, str]] = {}
    for n in range(draw(st.integers(1, 2))):
        for p in range(draw(st.integers(1, 2))):
            for k in range(draw(st.integers(1, 3))):
                practices[f"P{n}{p}{k}"] = {
                    "practice": f"P{n}{p}{k}",
                    "pcn": f"N{n}{p}",
                    "neighbourhood": f"H{n}",
                    "icb": "Q1",
                    "all": "all",
                }
    if len({geos["neighbourhood"] for geos in practices.values()}) > 1 and draw(st.booleans()):
        # The last practice moves to the first neighbourhood, leaving its PCN straddling two.
        practices[max(practices)]["neighbourhood"] = "H0"
    counts = {
        p: [*draw(st.lists(st.integers(0, 20), min_size=5, max_size=5)), draw(st.integers(0, 3))]
        for p in practices
    }
    extra = {p: draw(st.lists(st.integers(0, 20), min_size=6, max_size=6)) for p in practices}
    return Icb(practices, counts, extra, draw(st.booleans()))


def breakdown_indices(breakdown: tuple[str, str]) -> list[int]:
    """Which of a practice's six counts (quintiles 1..5, unknown) a breakdown cell sums."""
    kind, value = breakdown
    if kind == "all":
        return [0, 1, 2, 3, 4, 5]
    if kind == "imd_quintile":
        return [int(value) - 1]
    return [0] if value == "core20" else [1, 2, 3, 4]


def true_cells(icb: Icb) -> dict[Cell, tuple[int, int]]:
    cells: dict[Cell, tuple[int, int]] = {}
    for geography_type, code in icb.geographies():
        for breakdown in BREAKDOWNS:
            index = breakdown_indices(breakdown)
            members = icb.members(geography_type, code)
            numerator = sum(icb.counts[p][i] for p in members for i in index)
            denominator = numerator + sum(icb.extra[p][i] for p in members for i in index)
            if icb.drop_empty and denominator == 0:
                continue
            cells[(geography_type, code, *breakdown)] = (numerator, denominator)
    return cells


def metric_values(cells: dict[Cell, tuple[int, int]]) -> pl.DataFrame:
    rows = []
    for (geography_type, code, kind, value), (numerator, denominator) in cells.items():
        rate = numerator / denominator * 1000 if denominator else None
        rows.append(
            {
                "metric_id": "events_rate",
                "period_grain": "financial_year",
                "period_start": date(2024, 4, 1),
                "period_end": PERIOD_END,
                "period_label": "2024/25",
                "geography_type": geography_type,
                "geography_code": code,
                "breakdown_type": kind,
                "breakdown_value": value,
                "numerator": float(numerator),
                "denominator": float(denominator),
                "unweighted_count": numerator,
                "value": rate,
                "lower_95": None if rate is None else rate / 2,
                "upper_95": None if rate is None else rate * 2,
                "lower_998": None,
                "upper_998": None,
                "method": "byars",
                "comparison_to_parent": "not_compared",
                "not_calculated_reason": None,
            }
        )
    return pl.DataFrame(rows, schema=SCHEMA)


def hierarchy(icb: Icb) -> pl.DataFrame:
    rows = [
        (PERIOD_END, practice, geography_type, code)
        for practice, geos in icb.practices.items()
        for geography_type, code in geos.items()
    ]
    return pl.DataFrame(
        rows,
        schema=["period_end", "practice_code", "geography_type", "geography_code"],
        orient="row",
    )


def relations(icb: Icb, present: set[Cell]) -> list[tuple[Cell, list[Cell]]]:
    """total = sum of members, members absent from the table holding zero."""
    found: list[tuple[Cell, list[Cell]]] = []
    for geography_type, code in icb.geographies():
        place = (geography_type, code)
        quintiles = [(*place, "imd_quintile", str(q)) for q in range(1, 6)]
        found += [
            ((*place, "all", "all"), quintiles),
            ((*place, "all", "all"), [(*place, "core20", "core20"), (*place, "core20", "rest")]),
            ((*place, "core20", "core20"), quintiles[:1]),
            ((*place, "core20", "rest"), quintiles[1:]),
        ]
        practices = set(icb.members(geography_type, code))
        for child_level in LEVELS[: LEVELS.index(geography_type)]:
            children = {icb.practices[p][child_level] for p in practices}
            if any(not set(icb.members(child_level, child)) <= practices for child in children):
                continue  # a child straddles this parent and another: no sum to check
            for breakdown in BREAKDOWNS:
                found.append(
                    ((*place, *breakdown), [(child_level, child, *breakdown) for child in children])
                )
    return [
        (total, [m for m in members if m in present])
        for total, members in found
        if total in present and any(m in present for m in members)
    ]


def revealed(
    hidden: set[Cell],
    found: list[tuple[Cell, list[Cell]]],
    cells: dict[Cell, tuple[int, int]],
) -> dict[Cell, tuple[float, float]]:
    """What an attacker works out: hidden cells fixed by the relations (their unit vector
    lies in the row space; every null-space vector is zero there), with the numerator and
    denominator the published cells then give them (least squares, exact when the
    relations hold)."""
    unknowns = sorted(hidden)
    index = {c: i for i, c in enumerate(unknowns)}
    rows, numerators, denominators = [], [], []
    for total, members in found:
        row = np.zeros(len(unknowns))
        known = np.zeros(2)
        for cell, sign in [(total, 1.0), *((m, -1.0) for m in members)]:
            if cell in index:
                row[index[cell]] = sign
            else:
                known -= sign * np.array(cells[cell], dtype=float)
        if row.any():
            rows.append(row)
            numerators.append(known[0])
            denominators.append(known[1])
    if not rows:
        return {}
    matrix = np.array(rows)
    _, singular, vt = np.linalg.svd(matrix, full_matrices=True)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    fixed = (
        np.ones(len(unknowns), dtype=bool)
        if null_space.shape[0] == 0
        else np.abs(null_space).max(axis=0) < 1e-9
    )
    solution, *_ = np.linalg.lstsq(matrix, np.array([numerators, denominators]).T, rcond=None)
    return {
        cell: (float(solution[i, 0]), float(solution[i, 1]))
        for cell, i in index.items()
        if fixed[i]
    }


def key(row: dict[str, object]) -> Cell:
    return (
        str(row["geography_type"]),
        str(row["geography_code"]),
        str(row["breakdown_type"]),
        str(row["breakdown_value"]),
    )


@settings(max_examples=50, deadline=None)
@given(icbs())
def test_counts_are_published_only_when_safe_and_then_faithfully(icb: Icb) -> None:
    """No published count from 1 to 7; exactly the small counts are primary suppressions;
    every row not suppressed carries the warehouse value, limits and rounded counts."""
    cells = true_cells(icb)
    source = metric_values(cells)
    result = apply_disclosure(source, CATALOGUE, hierarchy(icb))
    assert result.height == source.height
    for column in ("numerator", "denominator", "unweighted_count"):
        values = result[column].drop_nulls().to_list()
        assert all(v == 0 or v >= 8 for v in values), column
        assert all(v % 5 == 0 for v in values), column
    rows = zip(source.iter_rows(named=True), result.iter_rows(named=True), strict=True)
    for before, after in rows:
        numerator, denominator = cells[key(after)]
        small = 1 <= numerator <= 7 or 1 <= denominator <= 7
        assert (after["suppression_rule"] == "small_count") == small
        if after["is_suppressed"]:
            hidden = ("numerator", "denominator", "unweighted_count", "value", "lower_95")
            assert all(after[column] is None for column in hidden)
            continue
        for column in ("value", "lower_95", "upper_95", "method", "comparison_to_parent"):
            assert after[column] == before[column]
        for column in ("numerator", "denominator", "unweighted_count"):
            assert after[column] == 5 * np.floor(before[column] / 5 + 0.5)


@settings(max_examples=50, deadline=None)
@given(icbs())
def test_no_suppressed_cell_is_recoverable(icb: Icb) -> None:
    cells = true_cells(icb)
    result = apply_disclosure(metric_values(cells), CATALOGUE, hierarchy(icb))
    hidden = {key(row) for row in result.filter(pl.col("is_suppressed")).iter_rows(named=True)}
    found = relations(icb, set(cells))
    for total, members in found:
        group = [total, *members]
        assert sum(c in hidden for c in group) != 1, (total, members)
    for cell, worked_out in revealed(hidden, found, cells).items():
        for guess, truth in zip(worked_out, cells[cell], strict=True):
            # Only a count of zero may be pinned down, which tells nothing.
            assert abs(guess - truth) > 1e-6 or truth == 0, cell
