"""Secondary suppression: protect every small count by a cube of withheld cells.

A published table protects a withheld count when an intruder, knowing every published
count to within its rounding (a count shown as 45 at rounding 5 is 43 to 47), every
relation between cells (a parent is the sum of its children, `all` the sum of a
breakdown's categories, a year the sum of its months, a count two metrics share is the
same in both) and that a withheld count is not negative, still cannot pin the count to
within +-1. (Why a cell is withheld is not published.)

The certificate used here is a *cube*: withheld cells with signs +-1 such that adding t to
the + cells and taking t from the - cells keeps every relation true. Such a change is
invisible in the published table, so every t that keeps each cell within what the intruder
knows of it is as plausible as the truth. A small count is protected when its cube admits
integer changes spanning at least `WIDTH` (so no interval "the count +-1" holds them all).
A cell the cube touches may also stay shown where every change asked of it keeps it within
its rounding range (the options of `_evaluate`).

Cubes are built on the finest cells (leaves): practices, months and single categories of
a breakdown. A move in one dimension is the difference of two leaves, x - y, and a
published cell's coefficient is the number of its leaves that move: +1 if it holds x and
not y, -1 the other way, 0 if both or neither. So every relation holds by construction, and
a move touches only the cells holding exactly one of the two leaves (two practices of one
PCN touch just those two practices). Where the small cell holds every leaf of a dimension
(`all`), the move is a single leaf and touches that leaf's cells up the hierarchy. The cube
is the product of one move per dimension: geography, breakdown and period.

Each small count chooses, among the cheapest few moves per dimension, the cheapest cube
whose range is wide enough. A cell already withheld costs nothing; otherwise a cell costs
more the more people or events are behind it and the higher its geography level, so
complements are the smallest cells at the lowest level, and a parent total is withheld
only where no cube of smaller cells protects. Small counts above practice level choose
first (top down, as in tau-argus's HiTaS), then practices, then any count still
unprotected chooses among every move. Choices are ordered by cost, then by the cells'
keys, so the result depends only on the data, never on row order.

docs/disclosure-control.md states the model and its limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

WIDTH = 3
"""A protected count admits changes spanning at least this much: no interval of width 2
(the count +-1) holds every value it could take."""
WEIGHTED_WIDTH = 1.0
"""The same for a weighted survey sum (weighted positives or base), in weighted respondents:
it is not a count of people (the respondents behind it are, and are held to `WIDTH`); it
must not be worked out to better than one weighted respondent."""

SHARED_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "registered_population": (
        ("ae_attendance_rate", "denominator"),
        ("acsc_emergency_admission_dsr", "denominator"),
        ("appointments_per_1000", "denominator"),
    ),
    "continuity_patients": tuple(
        (metric, column)
        for metric in ("continuity_upc", "continuity_coc", "continuity_secon", "continuity_mmci")
        for column in ("denominator", "unweighted_count")
    ),
    "named_gp_encounters": (
        ("continuity_slicc", "numerator"),
        ("continuity_own_patient_ratio", "numerator"),
    ),
    "known_booking_interval": (
        ("same_day_share", "denominator"),
        ("within_two_weeks_share", "denominator"),
    ),
}
"""Counts that two or more metrics publish: the same number in the same cell. Withholding
such a count means withholding it in every metric that shows it. A test checks this list
against a real build: every pair of metric columns equal in every shared cell is here."""

LEVEL_COST = {
    "practice": 1.0,
    "pcn": 30.0,
    "neighbourhood": 1e3,
    "provider": 3e4,
    "place": 3e4,
    "icb": 1e6,
    "all": 3e7,
}
"""Cost of withholding a cell, per person or event behind it, by geography level."""
HEADLINE_COST = 1e3
"""Extra factor on the cost of a headline (`all` breakdown) cell."""
CANDIDATES = 2
"""Moves kept per dimension before cubes are formed, in the first two rounds."""
WIDER = 5
"""Moves kept per dimension in the third round, for the counts the first two left."""
WIDEST = 12
"""Moves kept per dimension in the last round. A bound, not every move: a target holding
every practice has a move per practice, so every move of every such target would grow with
the square of the table (the cubes, as products of the moves, faster still)."""
BATCH_COMBOS = 20_000
"""Cube choices evaluated together: each touches tens of cells, so a batch holds about a
million touched cells (the peak memory of secondary suppression is set by this, not by the
size of the table)."""
REACH = 3
"""How many geographies out from a cell the other end of a geography move may be sought:
the practices of its PCN, then of its neighbourhood, then of its place."""

QUINTILES = ("1", "2", "3", "4", "5")
GROUPS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("core20", "core20"): ("imd_quintile", frozenset({"1"})),
    ("core20", "rest"): ("imd_quintile", frozenset({"2", "3", "4", "5"})),
}
"""Breakdown cells that group the categories of a partition: Core20 LSOAs are IMD deciles
1-2, which is quintile 1."""
PARTITIONS = ("imd_quintile", "sex", "age_band")
"""Breakdown types whose categories partition `all` (with their remainder, if any)."""
COUNT_COLUMNS = ("numerator", "denominator", "unweighted_count")
"""The metric_values columns that may count people or events."""
REMAINDER = "(remainder)"
"""The breakdown value of a partition's unpublished remainder (`with_remainders`)."""
AGE_75_PLUS = ("cohort", "age_75_plus")

NO_MOVE = -1
CONTINUOUS_MARGIN = 1e-6
"""How far below the next rounding boundary a weighted sum's window ends (the boundary
itself rounds up)."""
OFFSETS = (1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0)
"""Where the changes a cube must allow may start, as fractions of the width needed below
zero: [-need x f, need x (1 - f)]. A window of shown counts that holds zero and spans the
width holds one of these for whole counts."""
HELD = -1
"""The option of a cube that withholds every cell it touches."""
SINGLE_MOVES = 1 << 40
"""Breakdown moves of single categories are numbered from here, after the pair moves."""


@dataclass
class _Table:
    """The cells that count people or events: one per (key, count class)."""

    cells: pl.DataFrame
    """kid, cls, x, lo, hi, small, primary, rows (metric_values row numbers)."""
    keys: pl.DataFrame
    """kid, fam, t, gc, b, date: the cell's family, period node, geography code, breakdown
    node and organisation mapping date (ids are dense ranks of sorted values)."""
    base: pl.DataFrame | None = None
    """What `_cell_costs` reads of the cells, kept between rounds."""
    cell_of_row: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    row_of_cell: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def families(metrics: Sequence[str]) -> dict[str, str]:
    """Each metric's family: metrics that share a count form one family (named by its first
    metric id), whose cells are keyed together."""
    parent = {m: m for m in metrics}

    def find(m: str) -> str:
        while parent[m] != m:
            m = parent[m]
        return m

    for members in SHARED_COUNTS.values():
        present = sorted({m for m, _ in members if m in parent})
        for other in present[1:]:
            a, b = find(present[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {m: find(m) for m in metrics}


def secondary_suppression(
    rows: pl.DataFrame,
    geographies: pl.DataFrame,
    threshold: int,
    min_base: int,
    rounding: int = 1,
) -> npt.NDArray[np.bool_]:
    """Row mask of `rows` to withhold as secondary cells.

    `rows`: the metric_values columns plus `_row` (0..n-1), `_counted` (list of the count
    columns that count people or events), `_share`, `_standardised`, `_rule` (the primary
    rule or null) and `_cost`. `rounding`: the base shown counts are published rounded to
    (1: exactly).
    `geographies`: int_practice_geographies (period_end, practice_code, geography_type,
    geography_code).
    """
    n_published = rows.height
    rows = with_remainders(rows)
    n_rows = rows.height
    suppressed = np.zeros(n_rows, dtype=bool)
    suppressed[rows.filter(pl.col("_rule").is_not_null())["_row"].to_numpy()] = True
    suppressed[n_published:] = True  # remainders are never published
    primary = suppressed.copy()
    table = _table(rows, geographies, threshold, min_base, rounding)
    if table.cells.is_empty() or not table.cells["small"].any():
        return (suppressed & ~primary)[:n_published]
    moves = _Moves(table, geographies)
    row_cost = np.zeros(n_rows)
    row_cost[rows["_row"].to_numpy()] = rows["_cost"].to_numpy()
    targets = (
        # a share's denominator with a numerator is protected by its numerator's cube, which
        # moves both (a change to both keeps the share's numerator within its denominator)
        table.cells.filter(
            pl.col("small") & pl.col("primary") & ~pl.col("moves_with_numerator")
        )
        .select("kid", "cls")
        .join(table.keys, on="kid")
        .sort("kid", "cls")
        .with_row_index("tid")
        .with_columns(pl.col("tid").cast(pl.Int64))
    )
    practice_gc = moves.practice_codes
    upper = targets.filter(~pl.col("gc").is_in(practice_gc))
    lower = targets.filter(pl.col("gc").is_in(practice_gc))
    # Top down, few candidates, no cube reaching above the target's own level; then what
    # is left with more candidates; then with every candidate, at any level.
    left = targets.clear()
    for batch in (upper, lower):
        if not batch.is_empty():
            unprotected = _protect(batch, table, moves, suppressed, row_cost, CANDIDATES, False)
            left = pl.concat([left, unprotected])
    for keep, escalate in ((WIDER, False), (WIDER, True), (WIDEST, True)):
        if not left.is_empty():
            left = _protect(left, table, moves, suppressed, row_cost, keep, escalate)
    if not left.is_empty():
        # No cube of withheld cells can hide these counts: withhold every cell of their
        # relations' totals, the last resort (not needed on the synthetic ICBs).
        _withhold_parents(left, table, moves, suppressed)
    return (suppressed & ~primary)[:n_published]


def with_remainders(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` and, after them, a row for the remainder of each partition whose categories
    add up to less than `all` (patients or events of unknown LSOA, so in no IMD quintile):
    `all` less the sum of the categories, per count, in the partition's breakdown type with
    value `REMAINDER`. No remainder is ever published: the intruder knows only that it is
    not negative, so it is an unpublished category of the partition that a cube may move at
    no cost (docs/disclosure-control.md). Remainders of zero, or where a count is missing,
    are left out (a cube cannot move them), which protects no less."""
    key = ["metric_id", "period_grain", "period_start", "period_end", "geography_type",
           "geography_code"]
    counts = COUNT_COLUMNS
    summed = (
        rows.filter(pl.col("breakdown_type").is_in(PARTITIONS))
        .group_by(*key, "breakdown_type")
        .agg(
            *[pl.col(c).sum().alias(f"_sum_{c}") for c in counts],
            *[pl.col(c).null_count().alias(f"_nulls_{c}") for c in counts],
        )
    )
    totals = rows.filter(pl.col("breakdown_type") == "all").drop(
        "_row", "breakdown_type", "breakdown_value", "_rule", "_cost"
    )
    remainder = {
        c: pl.when((pl.col(f"_nulls_{c}") == 0) & pl.col(c).is_not_null())
        .then(pl.col(c) - pl.col(f"_sum_{c}"))
        for c in counts
    }
    extra = (
        totals.join(summed, on=key)
        .with_columns(**remainder)
        .filter(pl.all_horizontal(pl.col(c).fill_null(0) >= 0 for c in counts))
        .filter(pl.any_horizontal(pl.col(c).fill_null(0) > 0 for c in counts))
        .with_columns(
            pl.lit(REMAINDER).alias("breakdown_value"),
            pl.lit(None, dtype=pl.Utf8).alias("_rule"),
            pl.lit(0.0).alias("_cost"),
        )
        .sort(*key, "breakdown_type")
        .with_row_index("_row", offset=rows.height)
        .select(rows.columns)
    )
    if extra.is_empty():
        return rows
    return pl.concat([rows, extra.cast(rows.schema)])


def _table(
    rows: pl.DataFrame, geographies: pl.DataFrame, threshold: int, min_base: int, rounding: int
) -> _Table:
    """The cells, keyed by integer ids: the parts of each key are numbered on the rows
    (dense ranks of the sorted distinct values, through small tables of those values, so
    the order of the ids is the order of the keys), and only then are the rows cut into one
    row per count, every column a number. The texts stay in the small label tables, which
    keeps the memory of the long table a few numbers per count."""
    fam = families(sorted(rows["metric_id"].unique().to_list()))
    shared = {member: name for name, members in SHARED_COUNTS.items() for member in members}
    count_columns = COUNT_COLUMNS
    code_of = {name: code for code, name in enumerate(count_columns)}
    numerator, denominator, unweighted = (pl.col("c") == code for code in range(3))
    frame = rows.select(
        "_row", "metric_id", "_counted", "_share", "_standardised", "period_start", "period_end",
        "geography_type", "geography_code", "breakdown_type", "breakdown_value",
        *count_columns,
        pl.col("metric_id").replace_strict(fam, return_dtype=pl.Utf8).alias("fam"),
        (pl.col("period_grain") == "month").alias("is_month"),
        (pl.col("_kind") == "mean").alias("is_mean"),
        (pl.col("_kind") == "weighted_survey").alias("is_survey"),
        pl.col("_rule").is_not_null().alias("is_primary"),
    )
    labels: dict[str, pl.DataFrame] = {}
    for name, columns, rank in (
        ("m", ["metric_id"], None),
        ("fam_id", ["fam"], None),
        ("t", ["period_start", "period_end"], None),
        ("gc", ["geography_type", "geography_code"], "gt"),
        ("b", ["breakdown_type", "breakdown_value"], "bt"),
    ):
        ids = (
            frame.select(columns).unique().sort(columns).with_row_index(name)
            .with_columns(pl.col(name).cast(pl.Int64))
        )
        if rank is not None:  # the type (geography or breakdown) numbered too
            ids = ids.with_columns(pl.col(columns[0]).rank("dense").cast(pl.Int64).alias(rank))
        labels[name] = ids
        frame = frame.join(ids, on=columns, how="left", maintain_order="left").drop(columns)
    long = (
        frame.with_columns(
            pl.col("_counted").list.eval(
                pl.element().replace_strict(code_of, return_dtype=pl.Int8)
            ).alias("c")
        )
        .drop("_counted")
        .explode("c")
        .filter(pl.col("c").is_not_null())
        .with_columns(
            pl.coalesce(
                *[
                    pl.when(pl.col("c") == code_of[c]).then(pl.col(c).cast(pl.Float64))
                    for c in count_columns
                ]
            ).alias("x")
        )
        .filter(pl.col("x").is_not_null())
        # an unweighted count equal to the row's numerator or denominator is that count
        .filter(
            ~unweighted
            | (
                (pl.col("x") != pl.col("numerator").cast(pl.Float64)).fill_null(True)
                & (pl.col("x") != pl.col("denominator").cast(pl.Float64)).fill_null(True)
            )
        )
    )
    # each count class: a count two metrics share (SHARED_COUNTS) or one metric's column
    classes = (
        long.select("m", "c").unique()
        .join(labels["m"], on="m")
        .with_columns(
            pl.col("c").replace_strict(dict(enumerate(count_columns)), return_dtype=pl.Utf8)
            .alias("counted")
        )
    )
    names = pl.DataFrame(
        {
            "metric_id": [m for m, _ in shared],
            "counted": [c for _, c in shared],
            "shared": list(shared.values()),
        },
        schema={"metric_id": pl.Utf8, "counted": pl.Utf8, "shared": pl.Utf8},
    )
    classes = classes.join(names, on=["metric_id", "counted"], how="left").with_columns(
        pl.coalesce("shared", pl.concat_str("metric_id", pl.lit(":"), "counted")).alias(
            "cls_name"
        )
    )
    cls_ids = (
        classes.select("cls_name").unique().sort("cls_name").with_row_index("cls")
        .with_columns(pl.col("cls").cast(pl.Int64))
    )
    classes = classes.join(cls_ids, on="cls_name").select(
        "m", "c", "cls", pl.col("shared").is_not_null().alias("is_shared")
    )
    long = long.join(classes, on=["m", "c"], how="left", maintain_order="left")

    t_labels = labels["t"]
    mapping = _mapping_dates(t_labels.select("period_end").unique(), geographies)
    t_dates = t_labels.with_columns(pl.col("period_end").cast(pl.Date)).join(
        mapping, on="period_end", how="left"
    ).select("t", pl.col("mapping_end").alias("date"))
    # one sort gives the cells' numbers (kid: the rank of (fam, t, gc, b)) and, below,
    # each cell's rows in order
    key_parts = ["fam_id", "t", "gc", "b"]
    long = long.sort(*key_parts, "cls", "_row")
    starts = pl.any_horizontal(pl.col(c) != pl.col(c).shift(1) for c in key_parts)
    long = long.with_columns((starts.fill_null(True).cum_sum() - 1).cast(pl.Int64).alias("kid"))
    keys = (
        long.group_by("kid", maintain_order=True)
        .agg(*[pl.col(c).first() for c in key_parts], pl.col("is_month").any())
        .join(t_dates, on="t", how="left", maintain_order="left")
        .rename({"fam_id": "fam"})
    )
    is_base = ((pl.col("is_mean") | pl.col("is_survey")) & unweighted) | (
        pl.col("is_mean") & denominator
    )
    # a share's denominator is at least its numerator; a change to a share's numerator is
    # made to its denominator too (the same cells add up the same way), so it needs no cap
    denominator_floor = pl.when(pl.col("_share") & denominator).then(
        pl.col("numerator").cast(pl.Float64)
    )
    # A count two metrics share is known to be zero in a cell where one of them publishes
    # rows of that period, geography level and breakdown but not this one: it cannot move.
    shared_rows = long.filter(pl.col("is_shared"))
    level = ["cls", "t", "gt", "bt"]
    expected = shared_rows.group_by(level).agg(pl.col("m").n_unique().alias("_expected"))
    pinned = (
        shared_rows.group_by("kid", *level)
        .agg(pl.col("m").n_unique().alias("_present"))
        .join(expected, on=level)
        .filter(pl.col("_present") < pl.col("_expected"))
        .select("kid", "cls", pl.lit(True).alias("pinned"))
    )
    # `long` is sorted by (kid, cls, _row): each cell's rows come out in order
    # How far each count may move while every row showing it still shows the same rounded
    # figure (`_rounding_slack`); a share's numerator moves its denominator with it
    down, up = _rounding_slack(pl.col("x"), rounding, pl.col("is_survey") & ~unweighted)
    denominator_x = pl.col("denominator").cast(pl.Float64)
    den_down, den_up = _rounding_slack(denominator_x, rounding, pl.col("is_survey"))
    coupled = pl.col("_share") & numerator & denominator_x.is_not_null()
    long = long.with_columns(
        pl.when(pl.col("_standardised")).then(0.0)
        .when(coupled).then(pl.min_horizontal(down, den_down)).otherwise(down).alias("down"),
        pl.when(pl.col("_standardised")).then(0.0)
        .when(coupled).then(pl.min_horizontal(up, den_up)).otherwise(up).alias("up"),
    )
    cells = long.group_by("kid", "cls", maintain_order=True).agg(
        pl.col("x").max(),
        pl.col("down").min(),
        pl.col("up").min(),
        pl.col("_row").alias("rows"),
        is_base.any().alias("base"),
        (pl.col("is_survey") & (numerator | denominator)).all().alias("weighted"),
        pl.col("is_primary").any().alias("primary"),
        denominator_floor.max().alias("floor"),
        (pl.col("_share") & denominator & (pl.col("numerator").cast(pl.Float64) > 0))
        .any()
        .alias("moves_with_numerator"),
    )
    del long, shared_rows
    x = pl.col("x")
    # What an intruder knows of a withheld count: it is not negative, and a share's
    # denominator is no less than its numerator. Withheld cells are not labelled with
    # their reason (docs/disclosure-control.md), so nothing more.
    pinned_cell = pl.col("pinned").fill_null(False)
    cells = cells.join(pinned, on=["kid", "cls"], how="left").with_columns(
        pl.when(pinned_cell).then(x).otherwise(pl.col("floor").fill_null(0.0).clip(upper_bound=x))
        .alias("lo"),
        pl.when(pinned_cell).then(x).otherwise(float("inf")).alias("hi"),
    ).with_columns(
        # what a shown count may take is also within what the intruder knows of it
        pl.min_horizontal("down", x - pl.col("lo")).alias("down"),
        pl.min_horizontal("up", pl.col("hi") - x).alias("up"),
        ((x > 0) & ((x < threshold + 0.5) | (pl.col("base") & (x < min_base)))).alias("small"),
        pl.when(pl.col("weighted")).then(WEIGHTED_WIDTH).otherwise(float(WIDTH)).alias("need"),
    ).drop("pinned").sort("kid", "cls")
    # what the ids stand for, for the move tables
    keys = (
        keys.join(labels["gc"].drop("gt"), on="gc")
        .join(labels["b"].drop("bt"), on="b")
        .join(t_labels, on="t")
        .sort("kid")
    )
    return _Table(cells=cells, keys=keys)


def _rounding_slack(x: pl.Expr, rounding: int, continuous: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """How far below and above `x` a count may be and still round (half up) to the same
    multiple r of `rounding`: every value in [r - rounding/2, r + rounding/2) does, so a
    whole count may take the whole numbers in it (r - 2 to r + 2 for 5; only r for 1) and
    a weighted sum any value in it."""
    shown = ((x / rounding) + 0.5).floor() * rounding
    half = rounding / 2
    low = pl.when(continuous).then(shown - half).otherwise((shown - half).ceil())
    high = pl.when(continuous).then(shown + half - CONTINUOUS_MARGIN).otherwise(
        (shown + half).ceil() - 1
    )
    return (x - low).clip(lower_bound=0.0), (high - x).clip(lower_bound=0.0)


def _mapping_dates(period_ends: pl.DataFrame, geographies: pl.DataFrame) -> pl.DataFrame:
    """The organisation mapping each period aggregates through: the latest month end on or
    before the period's end (the earliest where there is none)."""
    ends = geographies.select(pl.col("period_end").cast(pl.Date)).unique().sort("period_end")
    period_ends = period_ends.with_columns(pl.col("period_end").cast(pl.Date)).sort("period_end")
    if ends.is_empty():
        return period_ends.with_columns(pl.lit(None, dtype=pl.Date).alias("mapping_end"))
    earliest = ends["period_end"][0]
    return period_ends.join_asof(
        ends.with_columns(pl.col("period_end").alias("mapping_end")),
        on="period_end",
        strategy="backward",
    ).with_columns(pl.col("mapping_end").fill_null(earliest))


def _age_from(band: str) -> int:
    """The lower bound of an age band label (`75-79`, `90+`)."""
    digits = band.split("-")[0].rstrip("+")
    return int(digits) if digits.isdigit() else -1


class _Moves:
    """Candidate moves per dimension, as tables of the cells they touch and their signs."""

    def __init__(self, table: _Table, geographies: pl.DataFrame) -> None:
        keys = table.keys
        self.table = table
        self.t_dates = keys.group_by("t").agg(pl.col("date").first()).sort("t")
        gc_ids = keys.select("gc", "geography_type", "geography_code").unique()
        mapping = geographies.select(
            pl.col("period_end").cast(pl.Date).alias("date"),
            "practice_code",
            "geography_type",
            "geography_code",
        ).unique()
        leaves = (
            mapping.select("practice_code").unique().sort("practice_code").with_row_index("leaf")
        ).with_columns(pl.col("leaf").cast(pl.Int64))
        dates = self.t_dates.select("date").unique()
        self.ancestors = (
            mapping.join(dates, on="date", how="semi")
            .join(gc_ids, on=["geography_type", "geography_code"])
            .join(leaves, on="practice_code")
            .select("date", "leaf", "gc")
            .unique()
            .sort("date", "leaf", "gc")
        )
        practice_gc = gc_ids.filter(pl.col("geography_type") == "practice")
        self.practice_codes = practice_gc["gc"].to_list()
        self.leaf_gc = leaves.join(
            practice_gc.select("gc", pl.col("geography_code").alias("practice_code")),
            on="practice_code",
        ).select("leaf", pl.col("gc").alias("leaf_gc"))
        self.node_size = self.ancestors.group_by("date", "gc").agg(pl.len().alias("size"))
        self.gc_types = gc_ids.select("gc", "geography_type")
        self._outside = self._outside_leaves()
        all_nodes = keys.filter(pl.col("breakdown_type") == "all")["b"].unique().to_list()
        self.all_node = all_nodes[0] if all_nodes else NO_MOVE
        self._bd, self._singles = self._breakdown_moves()
        self._period = self._period_moves()

    # geography -----------------------------------------------------------------
    def _outside_leaves(self) -> pl.DataFrame:
        """For each (date, gc): the leaves outside it in each geography strictly containing
        it (`reach` 0 for the smallest such geography, 1 for the next...), each leaf at its
        nearest reach: the candidates for the other end of a move."""
        members = self.ancestors
        sized = members.join(self.node_size, on=["date", "gc"])
        containers = (
            sized.join(self.ancestors.rename({"gc": "outer"}), on=["date", "leaf"])
            .filter(pl.col("outer") != pl.col("gc"))
            .group_by("date", "gc", "outer")
            .agg(pl.len().alias("held"), pl.col("size").first())
            .filter(pl.col("held") == pl.col("size"))
            .join(
                self.node_size.rename({"gc": "outer", "size": "outer_size"}),
                on=["date", "outer"],
            )
            .filter(pl.col("outer_size") > pl.col("size"))
            .with_columns(
                pl.col("outer_size").rank("dense").over("date", "gc").cast(pl.Int64).sub(1)
                .alias("reach")
            )
            .select("date", "gc", "outer", "reach")
        )
        # the country (`all`) is sought only by what nothing smaller contains (an ICB):
        # for anything smaller it would mean every practice of England
        country = self.gc_types.filter(pl.col("geography_type") == "all")["gc"].implode()
        self._far = containers.filter(
            (pl.col("reach") >= REACH)
            & (~pl.col("outer").is_in(country) | (pl.len().over("date", "gc") == 1))
        )
        near = containers.filter(pl.col("reach") < REACH)
        in_country = near.filter(pl.col("outer").is_in(country))
        return pl.concat(
            [
                self._leaves_outside(near.filter(~pl.col("outer").is_in(country))),
                self._leaves_of_neighbour(in_country),
            ]
        ).group_by("date", "gc", "y").agg(pl.col("reach").min())

    def _leaves_of_neighbour(self, in_country: pl.DataFrame) -> pl.DataFrame:
        """(date, gc, y, reach): for a geography sought across the country (an ICB against
        the other ICBs), the leaves of one neighbour only, the next geography of its type
        (in the order of their codes, the last wrapping to the first). Every other
        geography of the country would make the candidates grow with the square of the
        country's ICBs; a neighbour is as good a partner for a cube as any."""
        typed = in_country.select("date", "gc", "reach").unique().join(self.gc_types, on="gc")
        present = self.node_size.select("date", "gc").join(self.gc_types, on="gc")
        following = (
            present.sort("date", "geography_type", "gc")
            .with_columns(
                pl.col("gc").shift(-1).over("date", "geography_type").alias("next"),
                pl.col("gc").first().over("date", "geography_type").alias("first"),
            )
            .select("date", "gc", pl.coalesce("next", "first").alias("neighbour"))
        )
        return (
            typed.join(following, on=["date", "gc"])
            .filter(pl.col("neighbour") != pl.col("gc"))
            .join(
                self.ancestors.rename({"gc": "neighbour", "leaf": "y"}),
                on=["date", "neighbour"],
            )
            .join(self.ancestors.rename({"leaf": "y"}), on=["date", "gc", "y"], how="anti")
            .select("date", "gc", "y", "reach")
        )

    def _leaves_outside(self, containers: pl.DataFrame) -> pl.DataFrame:
        """(date, gc, y, reach): the leaves of `containers` outside gc, at their nearest reach."""
        return (
            containers.join(
                self.ancestors.rename({"gc": "outer", "leaf": "y"}), on=["date", "outer"]
            )
            .join(self.ancestors.rename({"leaf": "y"}), on=["date", "gc", "y"], how="anti")
            .group_by("date", "gc", "y")
            .agg(pl.col("reach").min())
        )

    def geography_candidates(
        self, base: pl.DataFrame, lookup: _Lookup, keep: int | None
    ) -> pl.DataFrame:
        """Leaf moves (tid, x, y) for each target: x a practice inside its geography with
        the largest counts (the most room to move), y one of the cheapest practices nearest
        outside it, and the single leaves x (y = NO_MOVE). With `keep` None, every such x
        and y."""

        def located(frame: pl.DataFrame, leaf: str) -> pl.DataFrame:
            at_leaf = frame.join(self.leaf_gc.rename({"leaf": leaf}), on=leaf)
            return (
                lookup.locate(at_leaf.rename({"gc": "target_gc", "leaf_gc": "gc"}))
                .filter(pl.col("present") & (pl.col("count") > 0))
                .rename({"gc": "leaf_gc", "target_gc": "gc"})
            )

        inside = located(
            base.join(self.ancestors.rename({"leaf": "x"}), on=["date", "gc"]), "x"
        )
        xs = inside.sort(["tid", "count", "x"], descending=[False, True, False])
        if keep is not None:
            xs = xs.group_by("tid", maintain_order=True).head(keep)
        # a y with too little room for the widest x cannot make a wide enough move: the
        # cheapest of those with room come first
        room = xs.group_by("tid").agg(pl.col("count").max().alias("x_room"))

        def candidates(outside: pl.DataFrame, targets: pl.DataFrame) -> pl.DataFrame:
            return (
                located(targets.join(outside, on=["date", "gc"]), "y")
                .join(room, on="tid")
                .with_columns(
                    (pl.col("count") + pl.col("x_room") < pl.col("need")).alias("short")
                )
            )

        # with few candidates, the nearest leaves first; further out only where none of
        # them has room
        nearest = self._outside.filter(pl.col("reach") == 0)
        outside = candidates(nearest if keep == CANDIDATES else self._outside, base)
        stuck = base.join(outside.filter(~pl.col("short")), on="tid", how="anti")
        if keep == CANDIDATES and not stuck.is_empty():
            further = candidates(self._outside.filter(pl.col("reach") > 0), stuck)
            outside = pl.concat([outside, further])
            stuck = stuck.join(further.filter(~pl.col("short")), on="tid", how="anti")
        if not stuck.is_empty():
            far = self._leaves_outside(
                self._far.join(stuck.select("date", "gc").unique(), on=["date", "gc"])
            )
            outside = pl.concat([outside, candidates(far, stuck)], how="diagonal_relaxed")
        ys = outside.sort(["tid", "reach", "short", "cost", "y"])
        if keep is not None:
            ys = ys.group_by("tid", "reach", maintain_order=True).head(keep)
        xs, ys = xs.select("tid", "x"), ys.select("tid", "y")
        pairs = xs.join(ys, on="tid")
        singles = xs.with_columns(pl.lit(NO_MOVE, dtype=pl.Int64).alias("y"))
        return pl.concat([pairs, singles])

    def geography_support(self, moves: pl.DataFrame) -> pl.DataFrame:
        """The cells a leaf move (date, x, y) touches: gc and sign."""
        moves = moves.select("date", "x", "y").unique()
        plus = moves.join(self.ancestors.rename({"leaf": "x"}), on=["date", "x"]).with_columns(
            pl.lit(1, dtype=pl.Int64).alias("sign")
        )
        minus = moves.join(self.ancestors.rename({"leaf": "y"}), on=["date", "y"]).with_columns(
            pl.lit(-1, dtype=pl.Int64).alias("sign")
        )
        return (
            pl.concat([plus, minus])
            .group_by("date", "x", "y", "gc")
            .agg(pl.col("sign").sum())
            .filter(pl.col("sign") != 0)
        )

    # breakdown -----------------------------------------------------------------
    def _breakdown_moves(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Moves per (cls, b) for cells inside a breakdown: bm, b2, sign. And for `all`, the
        cells each single category touches: (cls, part, v, b2, sign)."""
        present = (
            self.table.cells.select("kid", "cls")
            .join(
                self.table.keys.select("kid", "b", "breakdown_type", "breakdown_value"),
                on="kid",
            )
            .select("cls", "b", "breakdown_type", "breakdown_value")
            .unique()
            .sort("cls", "b")
        )
        moves: list[tuple[int, int, int, int, int]] = []
        singles: list[tuple[int, int, int, int, int]] = []
        partners: list[tuple[int, int, int, int]] = []
        for (cls,), nodes in present.group_by(["cls"], maintain_order=True):
            ids = {
                (kind, value): b
                for b, kind, value in nodes.select(
                    "b", "breakdown_type", "breakdown_value"
                ).iter_rows()
            }
            pairs, alone, other = _class_breakdown_moves(ids)
            moves.extend((int(cls), *move) for move in pairs)
            singles.extend((int(cls), *single) for single in alone)
            partners.extend((int(cls), *partner) for partner in other)
        self._partners = pl.DataFrame(
            partners, schema=["cls", "b", "bm", "b2"], orient="row"
        ).cast(pl.Int64)
        return (
            pl.DataFrame(moves, schema=["cls", "b", "bm", "b2", "sign"], orient="row").cast(
                pl.Int64
            ),
            pl.DataFrame(
                singles, schema=["cls", "part", "v", "b2", "sign"], orient="row"
            ).cast(pl.Int64),
        )

    def breakdown_candidates(
        self, base: pl.DataFrame, lookup: _Lookup, keep: int | None
    ) -> pl.DataFrame:
        """Moves (tid, bm, b2, sign) for each target. Inside a breakdown, pairs of its
        categories (with `keep`, those whose other category is cheapest); at `all`, one
        category of each partition (a single leaf), the best two of each tried in every
        combination."""
        pairs = base.select("tid", "cls", "fam", "t", "gc", "b").join(
            self._partners, on=["cls", "b"]
        )
        if keep is not None:
            ranked = lookup.locate(pairs.drop("b").rename({"b2": "b"})).sort(
                ["tid", "present", "cost", "bm"], descending=[False, True, False, False]
            )
            pairs = pairs.join(
                ranked.group_by("tid", maintain_order=True).head(2 * keep).select("tid", "bm"),
                on=["tid", "bm"],
                how="semi",
            )
        inside = pairs.select("tid", "cls", "b", "bm").join(
            self._bd, on=["cls", "b", "bm"]
        ).select("tid", "bm", "b2", "sign")
        # one category per partition, moving `all` with it: for a cell inside a breakdown,
        # one of the categories it holds in its own partition (where no pair of categories
        # can move, e.g. `rest` when Core20 is empty, a single category still can)
        holds = self._singles.filter(pl.col("sign") > 0).select(
            "cls", "part", "v", pl.col("b2").alias("b")
        )
        own = base.join(holds, on=["cls", "b"]).select("tid", "part", "v")
        at_all_node = pl.col("b") == self.all_node
        eligible = base.filter(
            at_all_node
            if keep == CANDIDATES
            else at_all_node | pl.col("tid").is_in(own["tid"].implode())
        )
        singles = eligible.join(self._singles, on="cls")
        at_all = pl.concat(
            [
                singles.join(own.select("tid", "part").unique(), on=["tid", "part"], how="anti"),
                singles.join(own, on=["tid", "part", "v"], how="semi"),
            ]
        )
        # a target at `all` of a metric with no partition moves in no breakdown
        alone = (
            base.filter(at_all_node)
            .join(at_all.select("tid").unique(), on="tid", how="anti")
            .select(
                "tid",
                pl.lit(SINGLE_MOVES - 1, dtype=pl.Int64).alias("bm"),
                pl.col("b").alias("b2"),
                pl.lit(1, dtype=pl.Int64).alias("sign"),
            )
        )
        inside = pl.concat([inside, alone])
        if at_all.is_empty():
            return inside
        options = _best(
            _evaluate(
                at_all.select(
                    "tid", "part", "v", "cls", "fam", "t", "gc", pl.col("b2").alias("b"), "sign"
                ),
                lookup,
                ["tid", "part", "v"],
                options=False,
            ),
            ["part", "v"],
            None,
            within=["tid", "part"],
            keep_per=CANDIDATES,
        ).select("tid", "part", "v")
        parts = sorted(options["part"].unique().to_list())
        combos = base.filter(pl.col("tid").is_in(at_all["tid"].unique().implode())).select(
            "tid", pl.lit(self.all_node, dtype=pl.Int64).alias("b")
        )
        for part in parts:
            chosen = options.filter(pl.col("part") == part).select(
                "tid", pl.col("v").alias(f"v{part}")
            )
            combos = combos.join(chosen, on="tid", how="left")
        # numbered after every pair move of a cell inside a breakdown
        combos = combos.with_row_index("bm").with_columns(
            pl.col("bm").cast(pl.Int64) + SINGLE_MOVES
        )
        touched = [combos.select("tid", "bm", pl.col("b").alias("b2"), pl.lit(1).alias("sign"))]
        for part in parts:
            touched.append(
                combos.select("tid", "bm", pl.lit(part, dtype=pl.Int64).alias("part"),
                              pl.col(f"v{part}").alias("v"))
                .join(base.select("tid", "cls"), on="tid")
                .join(self._singles, on=["cls", "part", "v"])
                .select("tid", "bm", "b2", "sign")
            )
        return pl.concat([inside, *[t.cast({"sign": pl.Int64}) for t in touched]])

    # period --------------------------------------------------------------------
    def _period_moves(self) -> pl.DataFrame:
        """Moves per (cls, t): tm, t2 and sign. Leaves are a class's months."""
        cells = self.table.cells.select("kid", "cls").join(
            self.table.keys.select("kid", "t", "is_month", "period_start", "period_end"),
            on="kid",
        )
        periods = (
            cells.group_by("cls", "t")
            .agg(
                pl.col("is_month").any(),
                pl.col("period_start").first(),
                pl.col("period_end").first(),
            )
            .sort("cls", "t")
        )
        out: list[tuple[int, int, int, int, int]] = []
        for (cls,), frame in periods.group_by(["cls"], maintain_order=True):
            out.extend((int(cls), *move) for move in _class_period_moves(frame))
        return pl.DataFrame(out, schema=["cls", "t", "tm", "t2", "sign"], orient="row").cast(
            pl.Int64
        )

    def period(self) -> pl.DataFrame:
        return self._period


def _class_breakdown_moves(
    ids: dict[tuple[str, str], int],
) -> tuple[
    list[tuple[int, int, int, int]],
    list[tuple[int, int, int, int]],
    list[tuple[int, int, int]],
]:
    """For one class (`ids`: (type, value) -> b): pair moves (b, bm, b2, sign) of cells
    inside a breakdown; the cells (part, v, b2, sign) one category of each partition
    touches, for `all`; and each pair move's other category (b, bm, b2)."""
    values: dict[str, list[str]] = {}
    for kind, value in sorted(ids):
        if kind in PARTITIONS:
            values.setdefault(kind, []).append(value)

    def members(kind: str, value: str) -> tuple[str, frozenset[str]] | None:
        if kind in PARTITIONS:
            return kind, frozenset({value})
        if (kind, value) in GROUPS:
            return GROUPS[(kind, value)]
        if (kind, value) == AGE_75_PLUS:
            bands = values.get("age_band", [])
            return "age_band", frozenset(b for b in bands if _age_from(b) >= 75)
        return None

    on_type: dict[str, list[tuple[int, frozenset[str]]]] = {}
    for (kind, value), b in ids.items():
        held = members(kind, value)
        if held is not None:
            on_type.setdefault(held[0], []).append((b, held[1]))

    def support(partition: str, x: str, y: str | None) -> list[tuple[int, int]]:
        touched = []
        for b2, held in sorted(on_type.get(partition, [])):
            sign = int(x in held) - int(y is not None and y in held)
            if sign:
                touched.append((b2, sign))
        return touched

    pairs: list[tuple[int, int, int, int]] = []
    singles: list[tuple[int, int, int, int]] = []
    partners: list[tuple[int, int, int]] = []
    for (kind, value), b in sorted(ids.items(), key=lambda item: item[1]):
        held = members(kind, value)
        if kind == "all":
            continue
        if held is not None and values.get(held[0]):
            partition, inside = held
            candidates = [
                (x, y) for x in sorted(inside) for y in values[partition] if y not in inside
            ]
            for bm, (x, y) in enumerate(candidates):
                pairs.extend((b, bm, b2, sign) for b2, sign in support(partition, x, y))
                partners.append((b, bm, ids.get((partition, y), b)))
        else:
            # a cohort that adds up to nothing published: it moves alone
            pairs.append((b, 0, b, 1))
            partners.append((b, 0, b))
    for part, partition in enumerate(PARTITIONS):
        for v, value in enumerate(values.get(partition, [])):
            singles.extend((part, v, b2, sign) for b2, sign in support(partition, value, None))
    return pairs, singles, partners


def _class_period_moves(periods: pl.DataFrame) -> list[tuple[int, int, int, int]]:
    """(t, tm, t2, sign) for every period of one class; months are the leaves. A month moves
    against another month of the same longer periods, or alone (with those periods)."""
    rows = list(periods.select("t", "is_month", "period_start", "period_end").iter_rows())
    months = [(t, start) for t, is_month, start, _ in rows if is_month]
    longer = [(t, start, end) for t, is_month, start, end in rows if not is_month]
    cover = {
        t: frozenset(node for node, start, end in longer if start <= month_start <= end)
        for t, month_start in months
    }
    moves: list[tuple[int, int, int, int]] = []
    for t, is_month, start, end in rows:
        if not months:
            moves.append((t, 0, t, 1))
            continue
        if is_month:
            partners = [m for m, _ in months if m != t and cover[m] == cover[t]]
            for tm, partner in enumerate(partners):
                moves.extend([(t, tm, t, 1), (t, tm, partner, -1)])
            tm = len(partners)
            inside = [t]
        else:
            inside = [m for m, m_start in months if start <= m_start <= end]
            tm = 0
            if not inside:
                moves.append((t, 0, t, 1))
        for month in inside:
            touched = {month: 1, **{node: 1 for node in cover[month]}}
            moves.extend((t, tm, t2, sign) for t2, sign in sorted(touched.items()))
            tm += 1
    return moves


def _cell_costs(
    table: _Table, suppressed: npt.NDArray[np.bool_], row_cost: npt.NDArray[np.float64]
) -> pl.DataFrame:
    """kid, cls, count, lo, hi, need, cost, level: the cost of withholding each cell now (0
    when every row that shows it is already withheld) and its geography level's cost."""
    if table.base is None:
        rows = table.cells.select("rows").with_row_index("cell").explode("rows")
        table.cell_of_row = rows["cell"].to_numpy()
        table.row_of_cell = rows["rows"].to_numpy()
        levels = table.keys.select("kid", _level_cost("geography_type").alias("level"))
        table.base = table.cells.select(
            "kid", "cls", pl.col("x").alias("count"), "lo", "hi", "down", "up", "need"
        ).join(levels, on="kid", how="left", maintain_order="left")
    open_cost = np.where(suppressed[table.row_of_cell], 0.0, row_cost[table.row_of_cell])
    cost = np.bincount(table.cell_of_row, weights=open_cost, minlength=table.cells.height)
    return table.base.with_columns(pl.Series("cost", cost))


def _level_cost(column: str) -> pl.Expr:
    return pl.col(column).replace_strict(
        LEVEL_COST, default=max(LEVEL_COST.values()), return_dtype=pl.Float64
    )


class _Lookup:
    """The cells of `_cell_costs` found by (fam, t, gc, b, cls) through integer codes: keys
    are sorted by (fam, t, gc, b) and numbered in that order, cells by (kid, cls), so each
    cell's code (its key's code, then its class) is in ascending order and one binary
    search finds a cell without a join."""

    COLUMNS = ("count", "lo", "hi", "down", "up", "need", "cost", "level")

    def __init__(self, table: _Table, cells: pl.DataFrame) -> None:
        keys = table.keys
        self.radix = [int(keys[c].to_numpy().max()) + 1 for c in ("t", "gc", "b")]
        self.classes = int(cells["cls"].to_numpy().max()) + 1
        self.kids = cells["kid"].to_numpy()
        self.cell_codes = self._key_code(keys)[self.kids] * self.classes + cells[
            "cls"
        ].to_numpy()
        self.values = {c: cells[c].to_numpy() for c in self.COLUMNS}

    def _key_code(self, frame: pl.DataFrame) -> npt.NDArray[np.int64]:
        t, gc, b = self.radix
        code = frame["fam"].to_numpy().astype(np.int64)
        for column, size in (("t", t), ("gc", gc), ("b", b)):
            code = code * size + frame[column].to_numpy()
        return code

    def locate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` (with fam, t, gc, b, cls) with `present`, kid and the cell's columns
        (meaningless where not present)."""
        if frame.is_empty():
            return frame.with_columns(
                pl.lit(False).alias("present"),
                pl.lit(0, dtype=pl.Int64).alias("kid"),
                *[pl.lit(0.0).alias(c) for c in self.COLUMNS],
            )
        code = self._key_code(frame) * self.classes + frame["cls"].to_numpy()
        # searched and read in ascending order, which keeps each pass over the cells'
        # arrays moving forward (several times faster than in the frame's order)
        order = np.argsort(code, kind="stable")
        at = np.searchsorted(self.cell_codes, code[order]).clip(max=len(self.cell_codes) - 1)

        def in_frame_order(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
            placed = np.empty_like(values)
            placed[order] = values
            return placed

        present = in_frame_order(self.cell_codes[at] == code[order])
        return frame.with_columns(
            pl.Series("present", present),
            pl.Series("kid", in_frame_order(self.kids[at]).astype(np.int64)),
            *[pl.Series(c, in_frame_order(self.values[c][at])) for c in self.COLUMNS],
        )


def _evaluate(
    touched: pl.DataFrame,
    lookup: _Lookup,
    group: list[str],
    own_level: pl.DataFrame | None = None,
    *,
    options: bool = True,
) -> pl.DataFrame:
    """Per group (a candidate move or cube of one target): whether every cell it touches is
    published as a cell of the target's class, its cheapest option, that option's cost and
    whether it is wide enough, and the width of the changes t it allows with every cell
    withheld. `touched` holds the group columns, cls, fam, t, gc, b and sign.

    An option is either to withhold every cell (`HELD`) or to ask for the changes from
    -need x f to need x (1 - f) (`OFFSETS[f]`): a cell then stays shown if every such change
    keeps its rounded figure (its `down`/`up` slack), and is withheld otherwise. With
    `own_level` (tid, own_level), an option withholding a cell above the target's own
    geography level is not taken. Without `options`, only `HELD` is weighed (its cost
    whether or not it is wide enough): how candidate moves are ranked, so that a cube's
    options only ever cheapen the cubes of the moves a count would have had anyway."""
    located = lookup.locate(touched)
    if own_level is not None:
        located = located.join(own_level, on="tid", how="left")
    rising = pl.col("sign") > 0
    count, lo, hi = pl.col("count"), pl.col("lo"), pl.col("hi")
    lower = pl.when(rising).then(lo - count).otherwise(count - hi)
    upper = pl.when(rising).then(hi - count).otherwise(count - lo)
    shown = pl.col("cost") > 0
    too_high = (
        (pl.col("level") > pl.col("own_level")).fill_null(False)
        if own_level is not None
        else pl.lit(False)
    )
    infinite = float("inf")
    held_cost = pl.when(shown & too_high).then(infinite).otherwise(pl.col("cost"))
    offsets = []
    for index, share in enumerate(OFFSETS if options else ()):
        start = -pl.col("need") * share
        end = start + pl.col("need")
        stays = shown & _rounding_absorbs(start)
        holds = (lower <= start) & (end <= upper)
        offsets.append(
            pl.when(stays).then(0.0).when(holds).then(held_cost).otherwise(infinite)
            .sum().alias(f"cost_{index}")
        )
    summary = located.group_by(group).agg(
        pl.len().alias("n"),
        pl.col("present").sum().alias("found"),
        lower.max().alias("t_lo"),
        upper.min().alias("t_hi"),
        held_cost.sum().alias(f"cost_{HELD}"),
        pl.col("need").max(),
        *offsets,
    )
    big = 1e9
    # bounds of whole counts are whole numbers, so this is the integer width for them; for
    # weighted survey sums it is the width in weighted respondents
    width = pl.col("t_hi").clip(upper_bound=big) - pl.col("t_lo").clip(lower_bound=-big)
    summary = summary.with_columns(width.alias("width"))
    found = pl.col("found") == pl.col("n")
    if not options:
        return summary.rename({f"cost_{HELD}": "cost"}).with_columns(
            pl.lit(HELD).alias("option"),
            (found & (pl.col("width") >= pl.col("need"))).alias("feasible"),
        )
    summary = summary.with_columns(
        pl.when(pl.col("width") >= pl.col("need")).then(pl.col(f"cost_{HELD}"))
        .otherwise(infinite).alias(f"cost_{HELD}")
    )
    # the cheapest option; on a tie, withholding every cell, then the earliest offset
    choices = [HELD, *range(len(OFFSETS))]
    cost = pl.min_horizontal(*[pl.col(f"cost_{c}") for c in choices])
    option = pl.coalesce(
        *[pl.when(pl.col(f"cost_{c}") == cost).then(pl.lit(c)) for c in choices]
    )
    return summary.with_columns(cost.alias("cost"), option.alias("option")).with_columns(
        (found & pl.col("cost").is_finite()).alias("feasible")
    ).drop(f"cost_{c}" for c in choices)


def _rounding_absorbs(start: pl.Expr) -> pl.Expr:
    """Whether a touched cell (sign, down, up, need) moved by every change t from `start`
    to `start + need` (added to a + cell, taken from a - cell) keeps its rounded figure."""
    rising = pl.col("sign") > 0
    lowest = -pl.when(rising).then(pl.col("down")).otherwise(pl.col("up"))
    highest = pl.when(rising).then(pl.col("up")).otherwise(pl.col("down"))
    return (lowest <= start) & (start + pl.col("need") <= highest)


def _withheld_cells(located: pl.DataFrame) -> pl.DataFrame:
    """kid, cls of the cells a chosen option withholds: `located` is the touched cells of
    the chosen cubes (`_Lookup.locate`) with their `option`."""
    offsets = pl.col("option").replace_strict(
        dict(enumerate(OFFSETS)), default=None, return_dtype=pl.Float64
    )
    stays = _rounding_absorbs(-pl.col("need") * offsets)
    return (
        located.filter(pl.col("present") & ~stays.fill_null(False))
        .select("kid", "cls")
        .unique()
    )


def _best(
    evaluated: pl.DataFrame,
    move: list[str],
    keep: int | None,
    within: Sequence[str] = ("tid",),
    keep_per: int | None = None,
) -> pl.DataFrame:
    """The best moves of each target (or of each `within` group): feasible first, then
    cheapest, then widest, then by the move's ids (which follow the cells' sorted keys)."""
    ranked = evaluated.sort(
        [*within, "feasible", "cost", "width", *move],
        descending=[*[False] * len(within), True, False, True, *[False] * len(move)],
    )
    limit = keep_per if keep_per is not None else keep
    if limit is None:
        return ranked
    return ranked.group_by(list(within), maintain_order=True).head(limit)


def _protect(
    targets: pl.DataFrame,
    table: _Table,
    moves: _Moves,
    suppressed: npt.NDArray[np.bool_],
    row_cost: npt.NDArray[np.float64],
    keep: int | None,
    escalate: bool,
) -> pl.DataFrame:
    """Give each target the cheapest wide-enough cube among its best moves, withhold its
    cells, and return the targets no cube could protect. Unless `escalate`, a cube that
    would withhold a cell above the target's own geography level does not count."""
    lookup = _Lookup(table, _cell_costs(table, suppressed, row_cost))
    base = targets.select("tid", "cls", "fam", "t", "gc", "b", "date")

    # geography: each candidate leaf move, at the target's period and breakdown
    pairs = moves.geography_candidates(base, lookup, keep)
    located_pairs = pairs.join(base, on="tid")
    support = moves.geography_support(located_pairs)
    geo = located_pairs.join(support.rename({"gc": "g2"}), on=["date", "x", "y"]).select(
        "tid", "x", "y", "cls", "fam", "t", pl.col("g2").alias("gc"), "b", "sign"
    )
    geo_best = _best(_evaluate(geo, lookup, ["tid", "x", "y"], options=False), ["x", "y"], keep)

    bd_moves = moves.breakdown_candidates(base, lookup, keep).sort("tid", "bm", "b2")
    bd_tids = bd_moves["tid"].to_numpy()
    bd = bd_moves.join(base, on="tid").select(
        "tid", "bm", "cls", "fam", "t", "gc", pl.col("b2").alias("b"), "sign"
    )
    bd_best = _best(_evaluate(bd, lookup, ["tid", "bm"], options=False), ["bm"], keep)

    period = base.join(moves.period(), on=["cls", "t"]).select(
        "tid", "tm", "cls", "fam", pl.col("t2").alias("t"), "gc", "b", "sign"
    )
    period_best = _best(_evaluate(period, lookup, ["tid", "tm"], options=False), ["tm"], keep)

    cube_key = ["tid", "x", "y", "bm", "tm"]
    combos = (
        geo_best.select("tid", "x", "y")
        .join(bd_best.select("tid", "bm"), on="tid")
        .join(period_best.select("tid", "tm"), on="tid")
        .join(base.select("tid", "cls", "fam", "t"), on="tid")
        .sort(cube_key)
    )
    own_level = base.select("tid", "gc").join(
        table.keys.select("gc", "geography_type").unique(), on="gc"
    ).select("tid", _level_cost("geography_type").alias("own_level"))
    # Each target's choice reads only its own cubes and the costs fixed above, so the
    # targets are taken in batches (memory bounded by the batch, not by every cube of
    # every target at once) and the cells are withheld after the last batch: the same
    # choices as in one pass.
    chosen_parts: list[pl.DataFrame] = []
    withheld_parts: list[pl.DataFrame] = []
    for batch in _target_batches(combos):
        first, last = batch["tid"][0], batch["tid"][-1]
        at = bd_tids.searchsorted([first, last + 1])  # the batch's own breakdown moves
        cubes = _cubes(batch, moves, bd_moves.slice(int(at[0]), int(at[1] - at[0])), cube_key)
        evaluated = _evaluate(cubes, lookup, cube_key, None if escalate else own_level)
        chosen = (
            _best(evaluated, cube_key[1:], None)
            .filter(pl.col("feasible"))
            .group_by("tid", maintain_order=True)
            .first()
            .select(*cube_key, "option")
        )
        chosen_parts.append(chosen.select(cube_key))
        withheld_parts.append(_withheld_cells(lookup.locate(cubes.join(chosen, on=cube_key))))
    chosen = pl.concat(chosen_parts) if chosen_parts else combos.select(cube_key).clear()
    withheld = (
        pl.concat(withheld_parts).unique()
        if withheld_parts
        else table.cells.select("kid", "cls").clear()
    ).join(table.cells.select("kid", "cls", "rows"), on=["kid", "cls"]).explode("rows")
    suppressed[withheld["rows"].to_numpy()] = True
    return targets.join(chosen, on="tid", how="anti")


def _target_batches(combos: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """`combos` (sorted by tid) cut into runs of whole targets, each ending at the first
    target boundary at or past `BATCH_COMBOS` cube choices (so a target with more choices
    than that is a batch of its own)."""
    if combos.is_empty():
        return
    tids = combos["tid"].to_numpy()
    starts = np.flatnonzero(np.r_[True, tids[1:] != tids[:-1]])
    offset = 0
    while offset < len(tids):
        after = int(np.searchsorted(starts, offset + BATCH_COMBOS, side="left"))
        end = int(starts[after]) if after < len(starts) else len(tids)
        yield combos.slice(offset, end - offset)
        offset = end


def _cubes(
    combos: pl.DataFrame, moves: _Moves, bd_moves: pl.DataFrame, cube_key: list[str]
) -> pl.DataFrame:
    """Every cell each cube of `combos` touches, with its sign: the product of one move
    per dimension (geography x - y at each period the period move touches, breakdown,
    period)."""
    spread = combos.join(moves.period().rename({"sign": "st"}), on=["cls", "t", "tm"]).join(
        moves.t_dates.rename({"t": "t2", "date": "date2"}), on="t2"
    )
    geo_at = moves.geography_support(
        spread.select(pl.col("date2").alias("date"), "x", "y")
    ).rename({"date": "date2", "sign": "sg", "gc": "g2"})
    return (
        spread.join(geo_at, on=["date2", "x", "y"])
        .join(bd_moves.rename({"sign": "sb"}), on=["tid", "bm"])
        .select(
            *cube_key,
            "cls",
            "fam",
            pl.col("t2").alias("t"),
            pl.col("g2").alias("gc"),
            pl.col("b2").alias("b"),
            (pl.col("st") * pl.col("sg") * pl.col("sb")).alias("sign"),
        )
    )


def _withhold_parents(
    targets: pl.DataFrame, table: _Table, moves: _Moves, suppressed: npt.NDArray[np.bool_]
) -> None:
    """Last resort for counts no cube protects (where nearly every cell around them is zero
    or small): withhold, in the target's class and period, the cells of every geography
    holding it, in every breakdown."""
    holding = (
        targets.select("cls", "fam", "t", "gc", "date")
        .join(moves.ancestors.rename({"gc": "inner"}), left_on=["date", "gc"],
              right_on=["date", "inner"])
        .join(moves.ancestors.rename({"gc": "outer"}), on=["date", "leaf"])
        .select("cls", "fam", "t", pl.col("outer").alias("gc"))
        .unique()
    )
    rows = (
        holding.join(table.keys.select("kid", "fam", "t", "gc"), on=["fam", "t", "gc"])
        .join(table.cells.select("kid", "cls", "rows"), on=["kid", "cls"])
        .explode("rows")
    )
    suppressed[rows["rows"].to_numpy()] = True
