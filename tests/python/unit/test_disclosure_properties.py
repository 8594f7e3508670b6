"""Property tests of disclosure control on random small ICBs, against an intruder.

Each example draws a hierarchy (1-2 neighbourhoods of 1-2 PCNs of 1-3 practices, one ICB,
`all`; sometimes a PCN straddling two neighbourhoods), counts per practice and breakdown
category (IMD quintiles, optionally Core20/rest, sex, age bands with the age_75_plus
cohort), either one financial year or 2-3 months with their financial year, and optionally
the two continuity metrics that share a numerator. Every other cell is built by summing, so
every relation below holds exactly in the true table.

The intruder is written out here, independently of the module: it knows every published
count exactly, every relation (a geography is the sum of its practices; `all` the sum of
the categories of each partition; Core20 = quintile 1, rest = quintiles 2-5; age_75_plus
the sum of the bands from 75; the year the sum of its months; a shared numerator is one
number), that a withheld count is not negative and that a share's numerator is at most its
denominator. It does not know why a cell is withheld. For every withheld count that is truly
1 to 7 it finds the least and greatest values consistent with all that, by linear
programming (the LP relaxation: a weaker attacker than one using whole numbers, so its
range is never narrower) and, for small systems, by integer programming (the exact range).
The module promises a range spanning at least 3: no interval "the count +-1" holds it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from metrics_cli import secondary
from metrics_cli.disclosure import disclosure_decisions

# ------------------------------------------------------------------ the world

PROTECTED_WIDTH = 3
"""A small withheld count is protected when max - min of what it could be is at least 3."""
THRESHOLD = 7
ROUNDING = 5
EXACT_LIMIT = 150
"""Systems of at most this many withheld counts are solved over whole numbers (exact); larger
ones over real numbers (the relaxation, a weaker intruder)."""

FY = ("financial_year", date(2024, 4, 1), date(2025, 3, 31))
MONTHS = [
    ("month", date(2024, 4, 1), date(2024, 4, 30)),
    ("month", date(2024, 5, 1), date(2024, 5, 31)),
    ("month", date(2024, 6, 1), date(2024, 6, 30)),
]
Period = tuple[str, date, date]
QUINTILES = ("1", "2", "3", "4", "5")
UNKNOWN = ("imd_quintile", "unknown")
"""Patients of unknown LSOA: in `all` but in no quintile, and never published."""
SEXES = ("F", "M")
AGE_BANDS = ("0-64", "65-74", "75-84", "85+")
COHORT_BANDS = ("75-84", "85+")

Category = tuple[str, str]  # breakdown_type, breakdown_value of a partition category
Cell = tuple[str, str, str, str, str]  # period label, geography type and code, breakdown
Var = tuple[str, str, str, str, str, str]  # count class + Cell

CATALOGUE = pl.DataFrame(
    {
        "metric_id": [
            "events_share",
            "events_rate",
            "continuity_slicc",
            "continuity_own_patient_ratio",
        ],
        "method": ["wilson", "byars", "wilson", "wilson"],
        "source_datasets": [
            "gp_appointments",
            "hospital_activity|registered_population",
            "gp_encounters|patients",
            "gp_encounters|patients",
        ],
        "unit": ["%", "per 1,000", "%", "%"],
    }
)
SHARE_METRICS = {"events_share", "continuity_slicc", "continuity_own_patient_ratio"}


@dataclass(frozen=True)
class World:
    practices: dict[str, dict[str, str]]  # practice -> level -> code
    months: int  # 0: the financial year alone
    sex: bool
    age: bool
    core20: bool
    main_metric: str  # events_share (a share) or events_rate (a rate)
    shared: bool  # the continuity metrics sharing a numerator are published too
    drop_empty: bool  # rows with no numerator and no denominator are left out
    unknown: bool  # some patients' LSOA is unknown: quintiles add up to less than `all`
    leaves: dict[tuple[str, int, str], dict[Category, int]]
    """(stream, leaf period, practice) -> count of each partition category."""

    def leaf_periods(self) -> list[int]:
        return list(range(self.months)) if self.months else [0]

    def periods(self, metric: str) -> list[tuple[Period, list[int]]]:
        """Each published period of a metric with the leaf periods it sums."""
        year = (FY, self.leaf_periods())
        if not self.months or metric == "continuity_own_patient_ratio":
            return [year]
        return [(MONTHS[m], [m]) for m in range(self.months)] + [year]

    def geographies(self) -> list[tuple[str, str]]:
        return sorted({(t, c) for geos in self.practices.values() for t, c in geos.items()})

    def members(self, level: str, code: str) -> list[str]:
        return sorted(p for p, geos in self.practices.items() if geos[level] == code)

    def partitions(self, hidden: bool = False) -> dict[str, tuple[str, ...]]:
        """The categories of each partition: published ones, or (`hidden`) every one."""
        unknown = (UNKNOWN[1],) if hidden and self.unknown else ()
        found: dict[str, tuple[str, ...]] = {"imd_quintile": QUINTILES + unknown}
        if self.sex:
            found["sex"] = SEXES
        if self.age:
            found["age_band"] = AGE_BANDS
        return found

    def groups(self) -> dict[Category, list[Category]]:
        """Breakdown cells that are sums of categories of one partition."""
        found: dict[Category, list[Category]] = {
            ("all", "all"): [("imd_quintile", q) for q in QUINTILES]
            + ([UNKNOWN] if self.unknown else [])
        }
        if self.core20:
            found[("core20", "core20")] = [("imd_quintile", "1")]
            found[("core20", "rest")] = [("imd_quintile", q) for q in QUINTILES[1:]]
        if self.age:
            found[("cohort", "age_75_plus")] = [("age_band", b) for b in COHORT_BANDS]
        return found

    def breakdowns(self, hidden: bool = False) -> list[Category]:
        """The published breakdown cells, or (`hidden`) those and the unknown LSOAs."""
        partitions = self.partitions(hidden)
        cells = [(kind, v) for kind, values in partitions.items() for v in values]
        return sorted([*cells, *self.groups()])


def period_label(period: Period) -> str:
    return f"{period[0]}:{period[1]}"


def streams(metric: str) -> tuple[str, str]:
    """The count streams behind a metric's numerator and denominator (the denominator is
    the numerator plus its extra stream)."""
    if metric in ("events_share", "events_rate"):
        return "main", "main_extra"
    if metric == "continuity_slicc":
        return "shared", "slicc_extra"
    return "shared", "opr_extra"


def count_class(metric: str, column: str) -> str:
    """The intruder's name of a published count: the continuity numerators are one."""
    if column == "numerator" and metric.startswith("continuity_"):
        return "shared:numerator"
    return f"{metric}:{column}"


@st.composite
def partition_counts(
    draw: st.DrawFn, world_flags: tuple[bool, bool, bool], low: int
) -> dict[Category, int]:
    """Counts of one practice in one leaf period: quintiles low..20 (and 0..3 of unknown
    LSOA), and the same total split by sex and by age band (each part at least `low`)."""
    sex, age, unknown = world_flags
    quintiles = draw(st.lists(st.integers(low, 20), min_size=5, max_size=5))
    counts: dict[Category, int] = {
        ("imd_quintile", q): n for q, n in zip(QUINTILES, quintiles, strict=True)
    }
    if unknown:
        counts[UNKNOWN] = draw(st.integers(0, 3))
    total = sum(counts.values())
    if sex:
        female = draw(st.integers(low, total - low))
        counts[("sex", "F")], counts[("sex", "M")] = female, total - female
    if age:
        left = total
        for number, band in enumerate(AGE_BANDS[:-1]):
            still = len(AGE_BANDS) - number - 1
            n = draw(st.integers(low, left - still * low))
            counts[("age_band", band)] = n
            left -= n
        counts[("age_band", AGE_BANDS[-1])] = left
    return counts


def extra_counts(
    quintiles: list[int], sex: bool, age: bool, unknown: int | None
) -> dict[Category, int]:
    """Denominator beyond the numerator: drawn by quintile (and unknown LSOA), split by a
    fixed rule."""
    counts: dict[Category, int] = {
        ("imd_quintile", q): n for q, n in zip(QUINTILES, quintiles, strict=True)
    }
    if unknown is not None:
        counts[UNKNOWN] = unknown
    total = sum(counts.values())
    if sex:
        counts[("sex", "F")], counts[("sex", "M")] = total // 2, total - total // 2
    if age:
        quarter = total // 4
        for band in AGE_BANDS[:-1]:
            counts[("age_band", band)] = quarter
        counts[("age_band", AGE_BANDS[-1])] = total - 3 * quarter
    return counts


@st.composite
def worlds(draw: st.DrawFn, low: int = 0, min_practices: int = 1) -> World:
    practices: dict[str, dict[str, str]] = {}
    for n in range(draw(st.integers(1, 2))):
        for p in range(draw(st.integers(1, 2))):
            for k in range(draw(st.integers(min_practices, 3))):
                practices[f"P{n}{p}{k}"] = {
                    "practice": f"P{n}{p}{k}",
                    "pcn": f"N{n}{p}",
                    "neighbourhood": f"H{n}",
                    "icb": "Q1",
                    "all": "all",
                }
    neighbourhoods = {geos["neighbourhood"] for geos in practices.values()}
    if low == 0 and len(neighbourhoods) > 1 and draw(st.booleans()):
        # the last practice moves to the first neighbourhood: its PCN straddles two
        practices[max(practices)]["neighbourhood"] = "H0"
    months = draw(st.sampled_from([0, 2, 3]))
    sex, age, core20 = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    shared = draw(st.booleans())
    unknown = draw(st.booleans())
    main_metric = draw(st.sampled_from(["events_share", "events_rate"]))
    leaves: dict[tuple[str, int, str], dict[Category, int]] = {}
    names = ["main", "main_extra"] + (["shared", "slicc_extra", "opr_extra"] if shared else [])
    for stream in names:
        for period in range(months) if months else [0]:
            for practice in sorted(practices):
                if stream.endswith("_extra"):
                    extra = draw(st.lists(st.integers(0, 6), min_size=5, max_size=5))
                    outside = draw(st.integers(0, 2)) if unknown else None
                    leaves[(stream, period, practice)] = extra_counts(extra, sex, age, outside)
                else:
                    counts = draw(partition_counts((sex, age, unknown), low))
                    leaves[(stream, period, practice)] = counts
    drop_empty = draw(st.booleans()) if low == 0 else False
    return World(
        practices, months, sex, age, core20, main_metric, shared, drop_empty, unknown, leaves
    )


def metrics(world: World) -> list[str]:
    extra = ["continuity_slicc", "continuity_own_patient_ratio"] if world.shared else []
    return [world.main_metric, *extra]


def leaf_value(counts: dict[Category, int], breakdown: Category, world: World) -> int:
    if breakdown in counts:
        return counts[breakdown]
    return sum(counts[c] for c in world.groups()[breakdown])


def true_table(
    world: World, hidden: bool = False
) -> dict[tuple[str, Cell], tuple[int, int]]:
    """(metric, cell) -> (numerator, denominator), every cell summed from the leaves: the
    published cells, or (`hidden`) those and the cells of unknown LSOA."""
    table: dict[tuple[str, Cell], tuple[int, int]] = {}
    for metric in metrics(world):
        numerator_stream, extra_stream = streams(metric)
        for period, leaf_periods in world.periods(metric):
            for level, code in world.geographies():
                members = world.members(level, code)
                for breakdown in world.breakdowns(hidden):
                    numerator = sum(
                        leaf_value(world.leaves[(numerator_stream, lp, p)], breakdown, world)
                        for lp in leaf_periods
                        for p in members
                    )
                    extra = sum(
                        leaf_value(world.leaves[(extra_stream, lp, p)], breakdown, world)
                        for lp in leaf_periods
                        for p in members
                    )
                    if world.drop_empty and numerator + extra == 0 and breakdown != UNKNOWN:
                        continue
                    cell = (period_label(period), level, code, *breakdown)
                    table[(metric, cell)] = (numerator, numerator + extra)
    return table


PERIODS = {period_label(p): p for p in [FY, *MONTHS]}


def metric_values(table: dict[tuple[str, Cell], tuple[int, int]]) -> pl.DataFrame:
    rows = []
    for (metric, (label, level, code, kind, value)), (numerator, denominator) in table.items():
        grain, start, end = PERIODS[label]
        rows.append(
            {
                "metric_id": metric,
                "period_grain": grain,
                "period_start": start,
                "period_end": end,
                "geography_type": level,
                "geography_code": code,
                "breakdown_type": kind,
                "breakdown_value": value,
                "numerator": float(numerator),
                "denominator": float(denominator),
                "unweighted_count": float(denominator),
                "value": numerator / denominator if denominator else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "metric_id": pl.Utf8,
            "period_grain": pl.Utf8,
            "period_start": pl.Date,
            "period_end": pl.Date,
            "geography_type": pl.Utf8,
            "geography_code": pl.Utf8,
            "breakdown_type": pl.Utf8,
            "breakdown_value": pl.Utf8,
            "numerator": pl.Float64,
            "denominator": pl.Float64,
            "unweighted_count": pl.Float64,
            "value": pl.Float64,
        },
    )


def geographies(world: World) -> pl.DataFrame:
    ends = sorted({end for _, _, end in [FY, *MONTHS[: world.months]]})
    rows = [
        (end, practice, level, code)
        for end in ends
        for practice, geos in sorted(world.practices.items())
        for level, code in geos.items()
    ]
    return pl.DataFrame(
        rows,
        schema=["period_end", "practice_code", "geography_type", "geography_code"],
        orient="row",
    )


def cell_of(row: dict[str, object]) -> Cell:
    grain, start = str(row["period_grain"]), row["period_start"]
    return (
        f"{grain}:{start}",
        str(row["geography_type"]),
        str(row["geography_code"]),
        str(row["breakdown_type"]),
        str(row["breakdown_value"]),
    )


def decide(
    world: World, rounding: int = 1
) -> tuple[dict[tuple[str, Cell], tuple[int, int]], pl.DataFrame]:
    table = true_table(world)
    return table, disclosure_decisions(
        metric_values(table), CATALOGUE, geographies(world), THRESHOLD, rounding
    )


def rounding_window(count: int, rounding: int) -> tuple[float, float]:
    """The whole counts that round half up to the same multiple of `rounding` as `count`
    (a published count of 45 at rounding 5 is 43 to 47), and not negative."""
    shown = math.floor(count / rounding + 0.5) * rounding
    return max(0.0, math.ceil(shown - rounding / 2)), math.ceil(shown + rounding / 2) - 1.0


def withheld(decisions: pl.DataFrame) -> set[tuple[str, Cell]]:
    return {
        (str(row["metric_id"]), cell_of(row))
        for row in decisions.filter(pl.col("is_suppressed")).iter_rows(named=True)
    }


# ------------------------------------------------------------------ the intruder


def relations(world: World) -> Iterator[list[tuple[Var, int]]]:
    """Every relation as a list of (variable, coefficient) summing to zero."""
    classes: dict[str, list[str]] = {}
    for metric in metrics(world):
        for column in ("numerator", "denominator"):
            labels = classes.setdefault(count_class(metric, column), [])
            for period, _ in world.periods(metric):
                if period_label(period) not in labels:
                    labels.append(period_label(period))
    partitions = world.partitions(hidden=True)
    for name, labels in classes.items():
        labels.sort(key=lambda label: PERIODS[label][0] == "financial_year")
        for label in labels:
            for level, code in world.geographies():
                place = (name, label, level, code)
                # `all` is the sum of each partition, each group the sum of its categories
                for kind, values in partitions.items():
                    yield [((*place, "all", "all"), 1)] + [
                        ((*place, kind, v), -1) for v in values
                    ]
                for group, categories in world.groups().items():
                    if group != ("all", "all"):
                        yield [((*place, *group), 1)] + [
                            ((*place, *category), -1) for category in categories
                        ]
                # a geography is the sum of its practices
                if level != "practice":
                    for breakdown in world.breakdowns(hidden=True):
                        yield [((*place, *breakdown), 1)] + [
                            ((name, label, "practice", p, *breakdown), -1)
                            for p in world.members(level, code)
                        ]
        # the year is the sum of its months
        if len(labels) > 1:
            year, months = labels[-1], labels[:-1]
            for level, code in world.geographies():
                for breakdown in world.breakdowns(hidden=True):
                    yield [((name, year, level, code, *breakdown), 1)] + [
                        ((name, month, level, code, *breakdown), -1) for month in months
                    ]


def shares(world: World) -> Iterator[tuple[Var, Var]]:
    """(numerator, denominator) pairs of the share metrics: numerator <= denominator."""
    for metric in metrics(world):
        if metric not in SHARE_METRICS:
            continue
        for period, _ in world.periods(metric):
            for level, code in world.geographies():
                for breakdown in world.breakdowns(hidden=True):
                    cell = (period_label(period), level, code, *breakdown)
                    yield (
                        (count_class(metric, "numerator"), *cell),
                        (count_class(metric, "denominator"), *cell),
                    )


def knowledge(
    world: World,
    table: dict[tuple[str, Cell], tuple[int, int]],
    hidden: set[tuple[str, Cell]],
    rounding: int = 1,
) -> tuple[dict[Var, int], dict[Var, float | tuple[float, float] | None]]:
    """The true value of every count, and what the intruder reads of it: the published
    value (with `rounding` above 1, the range of counts that round to it), zero for a row
    left out, or None where withheld everywhere it is shown (and for the never published
    counts of unknown LSOA)."""
    truth: dict[Var, int] = {}
    known: dict[Var, float | tuple[float, float] | None] = {}
    unpublished = true_table(world, hidden=True)
    for metric in metrics(world):
        for period, _ in world.periods(metric):
            for level, code in world.geographies():
                for breakdown in world.breakdowns(hidden=True):
                    cell = (period_label(period), level, code, *breakdown)
                    counts = table.get((metric, cell), unpublished.get((metric, cell), (0, 0)))
                    shown = (metric, cell) not in hidden and breakdown != UNKNOWN
                    for column, count in zip(("numerator", "denominator"), counts, strict=True):
                        var = (count_class(metric, column), *cell)
                        truth[var] = count
                        if shown and (metric, cell) in table and rounding > 1:
                            known[var] = rounding_window(count, rounding)
                        elif shown:
                            known[var] = float(count)
                        else:
                            known.setdefault(var, None)
    return truth, known


@dataclass
class Component:
    unknowns: list[Var]
    equalities: np.ndarray
    rhs: np.ndarray
    upper: np.ndarray  # rows of A_ub x <= b_ub
    upper_rhs: np.ndarray
    lower_bounds: np.ndarray
    upper_bounds: np.ndarray


def matrix(
    rows: list[tuple[dict[Var, int], float]], index: dict[Var, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The rows (terms, constant) over the unknowns of `index`, as A and b."""
    a = np.zeros((len(rows), len(index)))
    b = np.zeros(len(rows))
    for r, (terms, constant) in enumerate(rows):
        for var, coefficient in terms.items():
            a[r, index[var]] = coefficient
        b[r] = constant
    return a, b


def components(
    world: World, known: dict[Var, float | tuple[float, float] | None]
) -> dict[Var, Component]:
    """The intruder's linear system over withheld counts and counts published rounded
    (bounded by their range), split into independent parts."""
    unknown = sorted(v for v, value in known.items() if not isinstance(value, float))
    parent = {v: v for v in unknown}

    def find(v: Var) -> Var:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def union(group: Iterable[Var]) -> None:
        roots = sorted({find(v) for v in group})
        for other in roots[1:]:
            parent[other] = roots[0]

    equations: list[tuple[dict[Var, int], float]] = []
    for relation in relations(world):
        terms: dict[Var, int] = {}
        constant = 0.0
        for var, coefficient in relation:
            value = known[var]
            if isinstance(value, float):
                constant -= coefficient * value
            else:
                terms[var] = terms.get(var, 0) + coefficient
        if terms:
            equations.append((terms, constant))
            union(terms)
    inequalities: list[tuple[dict[Var, int], float]] = []
    floors: dict[Var, float] = defaultdict(float)
    ceilings: dict[Var, float] = {}
    for var, value in known.items():
        if isinstance(value, tuple):
            floors[var], ceilings[var] = value
    for numerator, denominator in shares(world):
        n, d = known[numerator], known[denominator]
        if not isinstance(n, float) and not isinstance(d, float):
            inequalities.append(({numerator: 1, denominator: -1}, 0.0))
            union([numerator, denominator])
        elif not isinstance(n, float):
            assert isinstance(d, float)
            ceilings[numerator] = min(ceilings.get(numerator, np.inf), d)
        elif not isinstance(d, float):
            floors[denominator] = max(floors[denominator], n)
    grouped: dict[Var, list[Var]] = defaultdict(list)
    for v in unknown:
        grouped[find(v)].append(v)
    equations_of: dict[Var, list[tuple[dict[Var, int], float]]] = defaultdict(list)
    for equation in equations:
        equations_of[find(next(iter(equation[0])))].append(equation)
    inequalities_of: dict[Var, list[tuple[dict[Var, int], float]]] = defaultdict(list)
    for inequality in inequalities:
        inequalities_of[find(next(iter(inequality[0])))].append(inequality)
    result: dict[Var, Component] = {}
    for root, members in grouped.items():
        index = {v: i for i, v in enumerate(members)}
        a_eq, b_eq = matrix(equations_of[root], index)
        a_ub, b_ub = matrix(inequalities_of[root], index)
        component = Component(
            members,
            a_eq,
            b_eq,
            a_ub,
            b_ub,
            np.array([floors.get(v, 0.0) for v in members]),
            np.array([ceilings.get(v, np.inf) for v in members]),
        )
        for v in members:
            result[v] = component
    return result


def optimise(
    component: Component, objective: np.ndarray, integer: bool, caps: np.ndarray | None = None
) -> np.ndarray | None:
    """A point of the system minimising `objective` (None where it is unbounded), over
    whole numbers or (the relaxation) real numbers; `caps` optionally bound it above."""
    constraints = []
    if len(component.equalities):
        constraints.append(LinearConstraint(component.equalities, component.rhs, component.rhs))
    if len(component.upper):
        constraints.append(LinearConstraint(component.upper, -np.inf, component.upper_rhs))
    upper = component.upper_bounds if caps is None else np.minimum(component.upper_bounds, caps)
    solved = milp(
        objective,
        constraints=constraints,
        integrality=np.full(len(component.unknowns), 1 if integer else 0),
        bounds=Bounds(component.lower_bounds, upper),
    )
    if solved.status in (3, 4) and solved.x is None:
        # unbounded (the truth is a solution, so it is not infeasible)
        return None
    assert solved.status == 0, solved.message
    return np.asarray(solved.x)


def component_ranges(
    component: Component, targets: list[Var], truth: dict[Var, int]
) -> Iterator[tuple[Var, float, float, str]]:
    """(target, least, greatest, how) for the small withheld counts of one component. Two
    solutions pushing every target down and up (capped at truth + 3) usually show each
    target's range is wide enough; only a target they leave narrow gets its own min and
    max. A range that is not the exact min and max is still spanned by solutions."""
    integer = len(component.unknowns) <= EXACT_LIMIT
    how = "milp" if integer else "lp"
    index = [component.unknowns.index(v) for v in targets]
    points = [np.array([float(truth[v]) for v in component.unknowns])]
    caps = np.full(len(component.unknowns), np.inf)
    caps[index] = points[0][index] + PROTECTED_WIDTH
    for sign in (1.0, -1.0):
        objective = np.zeros(len(component.unknowns))
        objective[index] = sign
        found = optimise(component, objective, integer, caps)
        assert found is not None
        points.append(found)
    spread = np.array(points)
    for var, i in zip(targets, index, strict=True):
        low, high = float(spread[:, i].min()), float(spread[:, i].max())
        if high - low >= PROTECTED_WIDTH - 1e-6:
            yield var, low, high, how
            continue
        bounds = []
        for sign in (1.0, -1.0):
            objective = np.zeros(len(component.unknowns))
            objective[i] = sign
            point = optimise(component, objective, integer)
            bounds.append(np.inf if point is None else float(point[i]))
        yield var, bounds[0], bounds[1], how


def intruder_ranges(
    world: World,
    table: dict[tuple[str, Cell], tuple[int, int]],
    hidden: set[tuple[str, Cell]],
    rounding: int = 1,
) -> list[tuple[Var, int, float, float, str]]:
    """(count, truth, least, greatest, how) for every withheld count that is 1 to 7 (of a
    published cell), published counts read as rounded to `rounding`:
    `how` is `milp` (whole numbers, exact) for small systems, else `lp` (relaxation)."""
    truth, known = knowledge(world, table, hidden, rounding)
    parts = components(world, known)
    grouped: dict[int, list[Var]] = defaultdict(list)
    for var, component in parts.items():
        # the counts of unknown LSOA are never published, so not withheld: none to protect
        if known[var] is None and 1 <= truth[var] <= THRESHOLD and var[-2:] != UNKNOWN:
            grouped[id(component)].append(var)
    found = []
    for targets in grouped.values():
        component = parts[targets[0]]
        for var, low, high, how in component_ranges(component, sorted(targets), truth):
            assert low - 1e-6 <= truth[var] <= high + 1e-6
            found.append((var, truth[var], low, high, how))
    return sorted(found)


# ------------------------------------------------------------------ the properties


COMMON = settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@COMMON
@given(worlds())
def test_exactly_the_small_counts_are_primary_and_none_is_published(world: World) -> None:
    table, decisions = decide(world)
    assert decisions.height == len(table)
    assert decisions.columns[-2:] == ["is_suppressed", "suppression_rule"]
    for row in decisions.iter_rows(named=True):
        numerator, denominator = table[(str(row["metric_id"]), cell_of(row))]
        small = any(1 <= n <= THRESHOLD for n in (numerator, denominator))
        assert (row["suppression_rule"] == "small_count") == small, row
        assert row["suppression_rule"] in (None, "small_count", "secondary"), row
        assert row["is_suppressed"] == (row["suppression_rule"] is not None), row


@COMMON
@given(worlds())
def test_the_intruder_cannot_pin_a_small_count_to_within_one(world: World) -> None:
    """A failure lists (count, truth, least, greatest, lp|milp) of each exposed count.
    The leak of SHARED_ZERO_LEAK (below) is known and may be drawn here too."""
    table, decisions = decide(world)
    hidden = withheld(decisions)
    leaks = [
        (var, truth, low, high, how)
        for var, truth, low, high, how in intruder_ranges(world, table, hidden)
        if high - low < PROTECTED_WIDTH - 1e-6
    ]
    assert not leaks, leaks


@COMMON
@given(worlds())
def test_the_intruder_cannot_pin_a_small_count_from_rounded_counts(world: World) -> None:
    """Published at the default rounding (5), a shown count is known only to within its
    rounding range (43 to 47 for 45), and secondary suppression relies on that: fewer
    cells need withholding. The intruder here knows every rounded count's range exactly;
    it still pins no small count."""
    table, decisions = decide(world, ROUNDING)
    hidden = withheld(decisions)
    leaks = [
        (var, truth, low, high, how)
        for var, truth, low, high, how in intruder_ranges(world, table, hidden, ROUNDING)
        if high - low < PROTECTED_WIDTH - 1e-6
    ]
    assert not leaks, leaks


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(worlds(), st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_row_order(world: World, rng: random.Random) -> None:
    table = true_table(world)
    rows = metric_values(table)
    order = list(range(rows.height))
    rng.shuffle(order)
    hierarchy = geographies(world)
    shuffled_hierarchy = hierarchy.sample(fraction=1.0, shuffle=True, seed=rng.randrange(2**32))
    expected = disclosure_decisions(rows, CATALOGUE, hierarchy)
    again = disclosure_decisions(rows[order], CATALOGUE, shuffled_hierarchy)
    assert again.equals(expected)
    assert expected.equals(expected.sort(expected.columns[:7]))


@COMMON
@given(worlds(low=2, min_practices=2))
def test_practices_protect_practices(world: World) -> None:
    """Every PCN has two or more practices and every practice count (of every category,
    period and count) is at least 2, so any two practices of a PCN form a wide enough
    cube for any small practice count. When nothing above practice level is small, the
    cost rules then never reach above practice level: no PCN, neighbourhood, ICB or `all`
    cell is withheld, and no headline (`all` breakdown) cell anywhere."""
    table = true_table(world)
    assume(
        not any(
            1 <= n <= THRESHOLD
            for (_, cell), counts in table.items()
            for n in counts
            if cell[1] != "practice"
        )
    )
    decisions = disclosure_decisions(metric_values(table), CATALOGUE, geographies(world))
    hidden = decisions.filter(pl.col("is_suppressed"))
    assert set(hidden["geography_type"]) <= {"practice"}
    assert "all" not in set(hidden["breakdown_type"])


def test_the_intruder_works_out_what_primary_suppression_alone_leaves() -> None:
    """The intruder itself: with only the small count withheld, `all` minus the other
    quintiles gives it exactly, and withholding a second quintile of the practice alone
    still leaves it pinned (the PCN, ICB and `all` equal the practice)."""
    world = one_practice_world(
        {("main", 0, "P1"): {("imd_quintile", "1"): 3, ("imd_quintile", "2"): 10}}
    )
    table = true_table(world)
    fy = period_label(FY)
    primary = {
        ("events_share", (fy, level, code, "imd_quintile", "1"))
        for level, code in world.geographies()
    }
    assert [(low, high) for _, _, low, high, _ in intruder_ranges(world, table, primary)] == [
        (3.0, 3.0)
    ] * 10  # numerator and denominator at five levels
    second = {("events_share", (fy, "practice", "P1", "imd_quintile", "2"))}
    ranges = intruder_ranges(world, table, primary | second)
    assert all(high - low < PROTECTED_WIDTH for _, _, low, high, _ in ranges)
    _, decisions = decide(world)
    assert not [
        found
        for found in intruder_ranges(world, table, withheld(decisions))
        if found[3] - found[2] < PROTECTED_WIDTH
    ]


# ------------------------------------------------------------------ leaks found


def one_practice_world(leaves: dict[tuple[str, int, str], dict[Category, int]]) -> World:
    practice = {"practice": "P1", "pcn": "N1", "neighbourhood": "H1", "icb": "Q1", "all": "all"}
    full = {
        (stream, 0, "P1"): {("imd_quintile", q): 0 for q in QUINTILES}
        for stream in ("main", "main_extra", "shared", "slicc_extra", "opr_extra")
    }
    for key, counts in leaves.items():
        full[key].update(counts)
    return World(
        {"P1": practice}, 0, False, False, False, "events_share", True, True, False, full
    )


SHARED_ZERO_LEAK = one_practice_world(
    {
        ("shared", 0, "P1"): {("imd_quintile", "3"): 3, ("imd_quintile", "4"): 8},
        ("opr_extra", 0, "P1"): {("imd_quintile", "5"): 1},
    }
)
"""Found by the intruder test (shrunk): named-GP encounters 3 in quintile 3 and 8 in
quintile 4, nothing else; the own patient ratio also has 1 list-holder encounter in
quintile 5 (numerator 0), which SLICC has not, so SLICC has no quintile 5 row (the marts
leave out rows with no denominator). The shared numerator's quintile 3 (small) is given a
cube against quintile 5, whose shared cell the module sees as withheld (the ratio's row is
small: denominator 1); but SLICC's missing quintile 5 row says the numerator there is 0, so
nothing can move. SLICC publishes `all` = 11 and quintile 4 = 8 at every level: 11 - 8 = 3."""


def test_a_shared_count_is_not_moved_where_a_metric_shows_it_as_zero() -> None:
    world = SHARED_ZERO_LEAK
    table, decisions = decide(world)
    hidden = withheld(decisions)
    fy = period_label(FY)
    cell = (fy, "all", "all", "imd_quintile", "3")
    assert ("continuity_slicc", cell) in hidden
    leaks = [
        (var, truth, low, high, how)
        for var, truth, low, high, how in intruder_ranges(world, table, hidden)
        if high - low < PROTECTED_WIDTH - 1e-6
    ]
    assert not leaks, leaks


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(worlds())
def test_the_decision_does_not_depend_on_the_batch_size(world: World) -> None:
    """Targets are evaluated in batches to bound memory; batches of one cube choice give
    the same pattern as the default batch (which holds every target of these worlds)."""
    table = true_table(world)
    rows, hierarchy = metric_values(table), geographies(world)
    expected = disclosure_decisions(rows, CATALOGUE, hierarchy, THRESHOLD)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secondary, "BATCH_COMBOS", 1)
        assert disclosure_decisions(rows, CATALOGUE, hierarchy, THRESHOLD).equals(expected)
