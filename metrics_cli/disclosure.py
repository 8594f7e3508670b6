"""Disclosure control: the one implementation of the rules in metrics.md ("Disclosure control").

`apply_disclosure` takes rows shaped like the `metric_values` mart and returns them with
small counts suppressed (primary), the cells that would let a small count be recovered by
differencing suppressed too (secondary), and the remaining counts rounded.
`protect_inequality_gaps` and `protect_spc` carry its decisions to the marts built from
`metric_values`. docs/disclosure-control.md explains the algorithm and every choice.

The typed representation: hidden columns are null, `is_suppressed` says the row was
suppressed and `suppression_rule` says why (`small_count`, `small_base` or `secondary`).
Publishing renders hidden cells as `*` and does not publish the rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import polars as pl

DEFAULT_THRESHOLD = 7
DEFAULT_ROUNDING = 5
MIN_BASE = 10
"""Continuity means from fewer than 10 patients and PREM results from fewer than 10
respondents are suppressed (metrics.md); unlike the threshold this is not a var."""

COUNT_COLUMNS = ("numerator", "denominator", "unweighted_count")
DERIVED_COLUMNS = (
    "value",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "comparison_to_parent",
)
HIDDEN_COLUMNS = COUNT_COLUMNS + DERIVED_COLUMNS
"""The columns of a `metric_values` row that suppression hides."""

CELL_KEY = (
    "metric_id",
    "period_grain",
    "period_start",
    "geography_type",
    "geography_code",
    "breakdown_type",
    "breakdown_value",
)
GEOGRAPHY_COLUMNS = {
    "period_end": pl.Date,
    "practice_code": pl.Utf8,
    "geography_type": pl.Utf8,
    "geography_code": pl.Utf8,
}
"""The columns of `int_practice_geographies` that disclosure control reads."""
COMPONENT_KEY = ("metric_id", "period_grain", "period_start")
"""Breakdown and geography relations hold within one metric and period (metrics.md);
period relations join a metric's months to the longer periods made of them."""

NOT_PARTITIONS = frozenset({"all", "cohort"})
"""Breakdown types whose values do not add up to `all`: cohorts overlap and leave most
patients out. Every other breakdown type is treated as a partition of `all`."""

PERSON_OR_EVENT_DATASETS = frozenset(
    {
        "gp_appointments",
        "gp_encounters",
        "hospital_activity",
        "community_activity",
        "patients",
        "prem_responses",
    }
)

SMALL_COUNT = "small_count"
SMALL_BASE = "small_base"
SECONDARY = "secondary"


class MetricKind(StrEnum):
    """What a metric's count columns hold, which decides what is tested and rounded."""

    COUNTS = "counts"
    MEAN = "mean"
    WEIGHTED_SURVEY = "weighted_survey"
    NO_COUNTS = "no_counts"


KIND_COUNT_COLUMNS: dict[MetricKind, tuple[str, ...]] = {
    MetricKind.COUNTS: COUNT_COLUMNS,
    MetricKind.MEAN: ("denominator", "unweighted_count"),
    MetricKind.WEIGHTED_SURVEY: COUNT_COLUMNS,
    MetricKind.NO_COUNTS: (),
}
"""Columns that count people or events (weighted survey sums count weighted respondents);
a mean's numerator is a sum of per-patient indices, and money and FTE count no one."""

SMALL_BASE_KINDS = (MetricKind.MEAN, MetricKind.WEIGHTED_SURVEY)


def metric_kind(method: str, source_datasets: str) -> MetricKind:
    """The kind of a catalogue metric, from its method and `|`-separated source datasets."""
    sources = set(source_datasets.split("|"))
    if not sources & PERSON_OR_EVENT_DATASETS:
        return MetricKind.NO_COUNTS
    if method == "t_mean":
        return MetricKind.MEAN
    if "prem_responses" in sources:
        return MetricKind.WEIGHTED_SURVEY
    return MetricKind.COUNTS


def metric_kinds(catalogue: pl.DataFrame) -> pl.DataFrame:
    """`metric_id` and `kind` for every metric of the catalogue."""
    kinds = [
        str(metric_kind(method, sources))
        for method, sources in zip(
            catalogue["method"].to_list(), catalogue["source_datasets"].to_list(), strict=True
        )
    ]
    return pl.DataFrame(
        {"metric_id": catalogue["metric_id"], "kind": pl.Series(kinds, dtype=pl.Utf8)}
    )


def is_small(column: str, threshold: int) -> pl.Expr:
    """A count from 1 to `threshold`: above zero and rounding to no more than the threshold
    (so a mean population of 7.4 is small and one of 7.5 is not)."""
    return (pl.col(column) > 0) & (pl.col(column) < threshold + 0.5)


def round_to_base(column: str, base: int) -> pl.Expr:
    """Round half up to the nearest multiple of `base` (as a float)."""
    return (pl.col(column).cast(pl.Float64) / base + 0.5).floor() * base


def _primary_rule(threshold: int) -> pl.Expr:
    small_count = pl.lit(False)
    for column in COUNT_COLUMNS:
        kinds = [str(kind) for kind, columns in KIND_COUNT_COLUMNS.items() if column in columns]
        small_count = small_count | (pl.col("_kind").is_in(kinds) & is_small(column, threshold))
    base = pl.coalesce("unweighted_count", "denominator")
    small_base = pl.col("_kind").is_in([str(kind) for kind in SMALL_BASE_KINDS]) & (
        (base > 0) & (base < MIN_BASE)
    )
    return (
        pl.when(small_count.fill_null(False))
        .then(pl.lit(SMALL_COUNT))
        .when(small_base.fill_null(False))
        .then(pl.lit(SMALL_BASE))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )


def apply_disclosure(
    metric_values: pl.DataFrame,
    catalogue: pl.DataFrame,
    geographies: pl.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    rounding: int | None = DEFAULT_ROUNDING,
) -> pl.DataFrame:
    """Suppress and round `metric_values` rows for publication.

    `catalogue` needs metric_id, method and source_datasets; `geographies` is
    `int_practice_geographies` (period_end, practice_code, geography_type, geography_code),
    which says which geographies add up to which. Returns the input columns, with hidden
    values null and counts rounded to `rounding` (None: unrounded), plus `is_suppressed`
    and `suppression_rule`.
    """
    if threshold < 0:
        raise ValueError("the disclosure threshold cannot be negative")
    if rounding is not None and rounding < 1:
        raise ValueError("disclosure rounding must be a positive whole number")
    columns = metric_values.columns
    frame = (
        metric_values.with_row_index("_row")
        .join(
            metric_kinds(catalogue).unique("metric_id", keep="first").rename({"kind": "_kind"}),
            on="metric_id",
            how="left",
        )
        .with_columns(pl.col("_kind").fill_null(str(MetricKind.COUNTS)))
        .sort("_row")
        .with_columns(_primary_rule(threshold).alias("suppression_rule"))
    )
    hierarchy = geographies.select(
        pl.col(name).cast(dtype) for name, dtype in GEOGRAPHY_COLUMNS.items()
    )
    secondary = secondary_suppression(frame, hierarchy)
    rule = (
        pl.when(pl.col("suppression_rule").is_null() & pl.col("_row").is_in(secondary))
        .then(pl.lit(SECONDARY))
        .otherwise(pl.col("suppression_rule"))
    )
    frame = frame.with_columns(rule.alias("suppression_rule")).with_columns(
        pl.col("suppression_rule").is_not_null().alias("is_suppressed")
    )
    hidden = pl.col("is_suppressed")
    updates = [
        pl.when(hidden).then(None).otherwise(pl.col(column)).alias(column)
        for column in DERIVED_COLUMNS
        if column in columns
    ]
    for column in COUNT_COLUMNS:
        kinds = [str(kind) for kind, counted in KIND_COUNT_COLUMNS.items() if column in counted]
        published = pl.col(column)
        if rounding is not None:
            published = (
                pl.when(pl.col("_kind").is_in(kinds))
                .then(round_to_base(column, rounding))
                .otherwise(pl.col(column).cast(pl.Float64))
                .cast(metric_values.schema[column])
            )
        updates.append(pl.when(hidden).then(None).otherwise(published).alias(column))
    return frame.with_columns(updates).select(*columns, "is_suppressed", "suppression_rule")


def _cells(frame: pl.DataFrame, geographies: pl.DataFrame) -> pl.DataFrame:
    """The rows that count people or events, with the size used to choose complements and
    the month end whose organisation hierarchy they aggregate through."""
    cells = frame.filter(pl.col("_kind") != str(MetricKind.NO_COUNTS)).select(
        pl.col("_row").cast(pl.Int64),
        *CELL_KEY,
        "period_end",
        pl.coalesce(
            pl.col("unweighted_count").cast(pl.Float64),
            pl.col("denominator").cast(pl.Float64),
            pl.col("numerator").cast(pl.Float64),
        ).alias("size"),
        pl.col("suppression_rule").is_not_null().alias("primary"),
    )
    mapping_ends = geographies.select("period_end").unique().sort("period_end")
    if mapping_ends.is_empty() or cells.is_empty():
        return cells.with_columns(pl.col("period_end").alias("mapping_end"))
    period_ends = cells.select("period_end").unique().sort("period_end")
    earliest = mapping_ends["period_end"][0]
    as_of = period_ends.join_asof(
        mapping_ends.with_columns(pl.col("period_end").alias("mapping_end")),
        on="period_end",
        strategy="backward",
    ).with_columns(pl.col("mapping_end").fill_null(earliest))
    return cells.join(as_of, on="period_end", how="left")


def nesting_edges(geographies: pl.DataFrame) -> pl.DataFrame:
    """How each geography adds up: at each month end, its children of the coarsest level
    below it whose geographies lie wholly inside it and together cover all its practices
    (a PCN's practices; a neighbourhood's PCNs, or its practices where a PCN straddles two
    neighbourhoods). Chained, these give every parent as the sum of its practices, and so
    every other way of adding it up.

    Returns period_end, parent_type, parent_code, child_type, child_code.
    """
    geos = geographies.select(
        "period_end", "practice_code", "geography_type", "geography_code"
    ).unique()
    types = sorted(geos["geography_type"].unique().to_list(), key=_level)
    edges = []
    for parent_type in types:
        if parent_type == "practice":
            continue
        parents = geos.filter(pl.col("geography_type") == parent_type).select(
            "period_end", "practice_code", pl.col("geography_code").alias("parent_code")
        )
        for child_type in types:
            if _level(child_type) >= _level(parent_type):
                continue
            children = geos.filter(pl.col("geography_type") == child_type).select(
                "period_end", "practice_code", pl.col("geography_code").alias("child_code")
            )
            nested = (
                children.join(parents, on=["period_end", "practice_code"], how="left")
                .group_by("period_end", "child_code")
                .agg(
                    ok=(pl.col("parent_code").null_count() == 0)
                    & (pl.col("parent_code").n_unique() == 1),
                    parent_code=pl.col("parent_code").first(),
                )
                .filter(pl.col("ok"))
                .drop("ok")
            )
            covered = (
                parents.join(children, on=["period_end", "practice_code"], how="left")
                .join(
                    nested.rename({"parent_code": "nested_in"}),
                    on=["period_end", "child_code"],
                    how="left",
                )
                .group_by("period_end", "parent_code")
                .agg(ok=(pl.col("nested_in") == pl.col("parent_code")).fill_null(False).all())
                .filter(pl.col("ok"))
                .drop("ok")
            )
            edges.append(
                nested.join(covered, on=["period_end", "parent_code"], how="semi").select(
                    "period_end",
                    pl.lit(parent_type).alias("parent_type"),
                    "parent_code",
                    pl.lit(child_type).alias("child_type"),
                    "child_code",
                )
            )
    schema = {
        "period_end": pl.Date,
        "parent_type": pl.Utf8,
        "parent_code": pl.Utf8,
        "child_type": pl.Utf8,
        "child_code": pl.Utf8,
    }
    if not edges:
        return pl.DataFrame(schema=schema)
    valid = pl.concat(edges).cast(schema)  # type: ignore[arg-type]
    level = pl.col("child_type").replace_strict(LEVELS, default=0, return_dtype=pl.Int64)
    coarsest = level == level.max().over("period_end", "parent_type", "parent_code")
    return valid.filter(coarsest)


LEVELS = {
    "practice": 0,
    "pcn": 1,
    "neighbourhood": 2,
    "provider": 3,
    "place": 3,
    "icb": 4,
    "all": 5,
}
"""Geography levels, finest first: a geography adds up from levels below it only. A
provider and a place are not nested in each other; both sit inside the ICB."""


def _level(geography_type: str) -> int:
    return LEVELS.get(geography_type, 0)


def relations(cells: pl.DataFrame, geographies: pl.DataFrame) -> pl.DataFrame:
    """Every additive relation between cells: `total = sum of members`.

    Breakdown relations: a geography's `all` row against the values of each partitioning
    breakdown type; its `core20` row against quintile 1 and its `rest` row against
    quintiles 2 to 5 (Core20 LSOAs are IMD deciles 1-2, which are quintile 1). Geography
    relations: a parent against each level of children that adds up to it
    (`nesting_edges`). Period relations: a financial year or rolling 12 months against the
    months inside it, where the same metric and cell is published monthly too (event
    counts add up over months). A member row that is absent holds nothing (a zero count),
    so it drops out. Returns relation, cell (the `_row`), is_total and relation_size.
    """
    component = list(COMPONENT_KEY)
    place = ["geography_type", "geography_code"]
    totals = cells.filter(pl.col("breakdown_type") == "all").select(
        pl.col("_row").alias("total"), *component, *place
    )
    partitions = cells.filter(~pl.col("breakdown_type").is_in(list(NOT_PARTITIONS))).select(
        pl.col("_row").alias("member"), *component, *place, pl.col("breakdown_type").alias("tag")
    )
    breakdown = totals.join(partitions, on=[*component, *place]).select("total", "member", "tag")

    core20 = cells.filter(pl.col("breakdown_type") == "core20").select(
        pl.col("_row").alias("total"), *component, *place, "breakdown_value"
    )
    quintiles = cells.filter(pl.col("breakdown_type") == "imd_quintile").select(
        pl.col("_row").alias("member"), *component, *place, pl.col("breakdown_value").alias("q")
    )
    same_lsoas = (
        core20.join(quintiles, on=[*component, *place])
        .filter(
            ((pl.col("breakdown_value") == "core20") & (pl.col("q") == "1"))
            | ((pl.col("breakdown_value") == "rest") & pl.col("q").is_in(["2", "3", "4", "5"]))
        )
        .select("total", "member", pl.lit("core20_quintiles").alias("tag"))
    )

    edges = nesting_edges(geographies)
    breakdown_cell = [*component, "breakdown_type", "breakdown_value"]
    parents = cells.select(
        pl.col("_row").alias("total"),
        *breakdown_cell,
        "mapping_end",
        pl.col("geography_type").alias("parent_type"),
        pl.col("geography_code").alias("parent_code"),
    )
    children = cells.select(
        pl.col("_row").alias("member"),
        *breakdown_cell,
        pl.col("geography_type").alias("child_type"),
        pl.col("geography_code").alias("child_code"),
    )
    geography = (
        parents.join(
            edges.rename({"period_end": "mapping_end"}),
            on=["mapping_end", "parent_type", "parent_code"],
        )
        .join(children, on=[*breakdown_cell, "child_type", "child_code"])
        .select("total", "member", pl.concat_str(pl.lit("in:"), "child_type").alias("tag"))
    )

    same_cell = ["metric_id", *place, "breakdown_type", "breakdown_value"]
    months = cells.filter(pl.col("period_grain") == "month").select(
        pl.col("_row").alias("member"), *same_cell, pl.col("period_start").alias("month")
    )
    longer = cells.filter(pl.col("period_grain").is_in(["financial_year", "rolling_12m"])).select(
        pl.col("_row").alias("total"), *same_cell, "period_start", "period_end"
    )
    over_time = (
        longer.join(months, on=same_cell)
        .filter(pl.col("month").is_between(pl.col("period_start"), pl.col("period_end")))
        .select("total", "member", pl.lit("months").alias("tag"))
    )

    pairs = pl.concat([breakdown, same_lsoas, geography, over_time])
    if pairs.is_empty():
        return pl.DataFrame(
            schema={
                "relation": pl.Int64,
                "cell": pl.Int64,
                "is_total": pl.Boolean,
                "relation_size": pl.UInt32,
            }
        )
    tags = sorted(pairs["tag"].unique().to_list())
    tag = pl.col("tag").replace_strict(tags, list(range(len(tags))), return_dtype=pl.Int64)
    keyed = pairs.with_columns(
        (pl.col("total").cast(pl.Int64) * len(tags) + tag)
        .rank("dense")
        .cast(pl.Int64)
        .sub(1)
        .alias("relation")
    )
    totals_long = (
        keyed.select("relation", pl.col("total").alias("cell"))
        .unique()
        .with_columns(pl.lit(True).alias("is_total"))
    )
    members_long = keyed.select(
        "relation", pl.col("member").alias("cell"), pl.lit(False).alias("is_total")
    )
    long = pl.concat([totals_long, members_long])
    return long.with_columns(pl.len().over("relation").alias("relation_size"))


class _Relations:
    """The relation table as arrays (one entry per cell of each relation), with the cells'
    suppression state.

    Work is confined to `active` entries: those of the connected components (cells joined
    by any relation) still changing. A component's suppression depends only on its own
    cells, so once a pass adds nothing to it, it is finished and drops out.
    """

    def __init__(self, long: pl.DataFrame, cells: pl.DataFrame, n_rows: int) -> None:
        self.relation: npt.NDArray[np.int64] = long["relation"].to_numpy().astype(np.int64)
        self.cell: npt.NDArray[np.int64] = long["cell"].to_numpy().astype(np.int64)
        self.is_total: npt.NDArray[np.bool_] = long["is_total"].to_numpy().astype(bool)
        self.size: npt.NDArray[np.int64] = long["relation_size"].to_numpy().astype(np.int64)
        self.n_relations = int(self.relation.max()) + 1 if len(self.relation) else 0
        self.suppressed = np.zeros(n_rows, dtype=bool)
        rows = cells["_row"].to_numpy().astype(np.int64)
        self.suppressed[rows[cells["primary"].to_numpy().astype(bool)]] = True
        cell_size = np.full(n_rows, np.inf)
        cell_size[rows] = cells["size"].fill_null(np.inf).to_numpy()
        # Order for choosing a complement: a non-zero cell before a zero one, then the
        # smallest, then the cell key, so the choice never depends on row order.
        key_rank = np.zeros(n_rows, dtype=np.int64)
        key_rank[rows] = cells.select(pl.struct(*CELL_KEY).rank("ordinal")).to_series().to_numpy()
        self.cell_size = cell_size
        self.key_rank = key_rank
        # Entry indexes by cell and by relation, so walking outwards from one cell reads
        # only the entries it reaches, never the whole table.
        self._by_cell = np.argsort(self.cell, kind="stable")
        self._cell_starts = np.searchsorted(self.cell[self._by_cell], np.arange(n_rows + 1))
        self._by_relation = np.argsort(self.relation, kind="stable")
        self._relation_starts = np.searchsorted(
            self.relation[self._by_relation], np.arange(self.n_relations + 1)
        )
        self.component = _components(self.relation, self.cell)
        self.cell_component = np.full(n_rows, -1, dtype=np.int64)
        self.cell_component[self.cell] = self.component
        self.active = np.zeros(0, dtype=np.int64)
        self._audited: dict[int, list[int]] = {}

    def focus(self, changed_cells: npt.NDArray[np.bool_]) -> int:
        """Make active the entries of the components holding any of `changed_cells`;
        returns the number of active entries."""
        components = np.unique(self.cell_component[changed_cells])
        components = components[components >= 0]
        wanted = np.zeros(len(self.cell_component) + 1, dtype=bool)
        wanted[components] = True
        self.active = np.flatnonzero(wanted[self.component])
        return len(self.active)

    def relations_of(self, cell: int) -> list[int]:
        entries = self._by_cell[self._cell_starts[cell] : self._cell_starts[cell + 1]]
        return self.relation[entries].tolist()  # type: ignore[no-any-return]

    def entries_of(self, relations: Sequence[int]) -> npt.NDArray[np.int64]:
        starts = self._relation_starts
        return np.concatenate(
            [self._by_relation[starts[r] : starts[r + 1]] for r in relations]
            or [np.zeros(0, dtype=np.int64)]
        )

    def cells_of(self, relation: int) -> list[int]:
        return self.cell[self.entries_of([relation])].tolist()  # type: ignore[no-any-return]

    def best_cells(self, entries: npt.NDArray[np.int64]) -> list[int]:
        """For each relation among the given entries, its best published cell to suppress:
        a member before the total, a non-zero count before a zero, then the smallest, then
        the cell key."""
        entries = entries[~self.suppressed[self.cell[entries]]]
        if not len(entries):
            return []
        rel = self.relation[entries]
        cell = self.cell[entries]
        size = self.cell_size[cell]
        order = np.lexsort((self.key_rank[cell], size, size == 0, self.is_total[entries], rel))
        rel_sorted = rel[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = rel_sorted[1:] != rel_sorted[:-1]
        return sorted({int(c) for c in cell[order][first]})

    def protect_lonely(self) -> int:
        """Suppress one more cell in every active relation where exactly one cell is
        suppressed, choosing for each such cell only its smallest relation, until none is
        left; returns the number of cells added."""
        added = 0
        entries = self.active
        relation, cell = self.relation[entries], self.cell[entries]
        while True:
            hidden = self.suppressed[cell]
            per_relation = np.bincount(relation, weights=hidden, minlength=self.n_relations)
            lonely = (per_relation == 1)[relation] & hidden
            if not lonely.any():
                return added
            rel = relation[lonely]
            lonely_cell = cell[lonely]
            order = np.lexsort((rel, self.size[entries[lonely]], lonely_cell))
            first = np.ones(len(order), dtype=bool)
            first[1:] = lonely_cell[order][1:] != lonely_cell[order][:-1]
            wanted = np.zeros(self.n_relations, dtype=bool)
            wanted[rel[order][first]] = True
            chosen = self.best_cells(entries[wanted[relation]])
            if not chosen:
                return added
            self.suppressed[chosen] = True
            added += len(chosen)

    def recoverable(self) -> list[int]:
        """Active suppressed cells whose value follows exactly from the published cells
        through any combination of the relations (exact linear algebra over each connected
        group of suppressed cells; a group seen before, unchanged, is not solved again)."""
        entries = self.active[self.suppressed[self.cell[self.active]]]
        if not len(entries):
            return []
        relation = self.relation[entries]
        cell = self.cell[entries]
        coefficient = np.where(self.is_total[entries], 1, -1)
        distinct = _distinct_equations(relation, cell, coefficient)
        relation, cell, coefficient = relation[distinct], cell[distinct], coefficient[distinct]
        group = _components(relation, cell)
        signature = _group_signatures(group, relation, cell, coefficient)
        unseen = np.array([s not in self._audited for s in signature.tolist()], dtype=bool)
        determined: list[int] = []
        for known in set(signature[~unseen].tolist()):
            determined.extend(self._audited[known])
        keep = unseen[group]
        equations: dict[int, dict[int, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        for g, r, c, k in zip(
            group[keep].tolist(),
            relation[keep].tolist(),
            cell[keep].tolist(),
            coefficient[keep].tolist(),
            strict=True,
        ):
            equations[g][r][c] = k
        for g, group_equations in equations.items():
            found = determined_cells(list(group_equations.values()))
            self._audited[int(signature[g])] = found
            determined.extend(found)
        return sorted(determined)

    def protect_recoverable(self, cells: Sequence[int]) -> int:
        """For each recoverable cell, suppress the best published cell of the nearest
        relation that has one, searching outwards through relations and suppressed cells
        (the cell's own relations first; where those are wholly suppressed, the value was
        worked out through its neighbours'). Returns the number of cells added."""
        added = 0
        for start in cells:
            pick = self._nearest_complement(start)
            if pick is not None:
                self.suppressed[pick] = True
                added += 1
        return added

    def _nearest_complement(self, start: int) -> int | None:
        relations_of, cells_of = self.relations_of, self.cells_of
        seen_cells = {start}
        seen_relations: set[int] = set()
        frontier = [start]
        while frontier:
            layer = sorted({r for c in frontier for r in relations_of(c)} - seen_relations)
            seen_relations.update(layer)
            open_relations = [r for r in layer if not self.suppressed[cells_of(r)].all()]
            if open_relations:
                picks = self.best_cells(self.entries_of(open_relations))
                return min(picks, key=self._preference)
            frontier = sorted({c for r in layer for c in cells_of(r)} - seen_cells)
            seen_cells.update(frontier)
        return None

    def _preference(self, cell: int) -> tuple[bool, float, int]:
        """Between the best cells of several relations: a non-zero count before a zero,
        then the smallest, then the cell key."""
        size = float(self.cell_size[cell])
        return (size == 0, size, int(self.key_rank[cell]))


def _distinct_equations(
    relation: npt.NDArray[np.int64],
    cell: npt.NDArray[np.int64],
    coefficient: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """Mask keeping the entries of the first relation of each set of identical equations
    (many relations coincide once restricted to the suppressed cells)."""
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 1 << 62, size=(int(cell.max()) + 1, 2), dtype=np.int64)
    term = weights[cell, (coefficient > 0).astype(np.int64)].astype(np.uint64)
    signature = np.zeros(int(relation.max()) + 1, dtype=np.uint64)
    np.add.at(signature, relation, term)
    used = np.unique(relation)
    _, first = np.unique(signature[used], return_index=True)
    keep = np.zeros(len(signature), dtype=bool)
    keep[used[first]] = True
    return keep[relation]


def _components(
    relation: npt.NDArray[np.int64], cell: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Connected group of each entry, where a relation joins all its cells: labels spread
    as the smallest cell index in reach, with pointer jumping, until they settle."""
    cells, cell_index = np.unique(cell, return_inverse=True)
    relations, relation_index = np.unique(relation, return_inverse=True)
    label = np.arange(len(cells))
    while True:
        smallest = np.full(len(relations), len(cells))
        np.minimum.at(smallest, relation_index, label[cell_index])
        spread = label.copy()
        np.minimum.at(spread, cell_index, smallest[relation_index])
        spread = spread[spread]
        if np.array_equal(spread, label):
            return label[cell_index].astype(np.int64)
        label = spread


def _group_signatures(
    group: npt.NDArray[np.int64],
    relation: npt.NDArray[np.int64],
    cell: npt.NDArray[np.int64],
    coefficient: npt.NDArray[np.int64],
) -> npt.NDArray[np.uint64]:
    """A 64-bit fingerprint of each group's equations, indexed by group label (the labels
    `_components` gives): the wrapping sum of a pseudo-random hash of each entry."""
    mixed = (
        relation.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        + cell.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
        + (coefficient > 0).astype(np.uint64)
    )
    mixed ^= mixed >> np.uint64(31)
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(29)
    signature = np.zeros(int(group.max()) + 1, dtype=np.uint64)
    np.add.at(signature, group, mixed)
    return signature


PRIME = (1 << 61) - 1
"""Row reduction runs modulo this prime: exact, fast, and for these small 0/±1 systems
the rank modulo a 61-bit prime equals the rank over the rationals."""


def determined_cells(equations: list[dict[int, int]]) -> list[int]:
    """Cells whose value the equations fix: those whose unit vector lies in the row space.

    Sparse Gauss-Jordan elimination modulo PRIME keeps the rows in reduced row echelon
    form; a cell is fixed exactly when it is a pivot whose reduced row holds nothing else.
    """
    rows: dict[int, dict[int, int]] = {}
    pivot_row: dict[int, int] = {}
    rows_with: dict[int, set[int]] = defaultdict(set)
    for number, equation in enumerate(sorted(equations, key=len)):
        row = {c: v % PRIME for c, v in equation.items()}
        for column in [c for c in row if c in pivot_row]:
            factor = row.get(column, 0)
            if factor:
                _subtract(row, rows[pivot_row[column]], factor)
        if not row:
            continue
        pivot = min(row, key=lambda c: (len(rows_with[c]), c))
        inverse = pow(row[pivot], PRIME - 2, PRIME)
        row = {c: v * inverse % PRIME for c, v in row.items()}
        for other in list(rows_with[pivot]):
            other_row = rows[other]
            before = set(other_row)
            _subtract(other_row, row, other_row[pivot])
            for column in before - set(other_row):
                rows_with[column].discard(other)
            for column in set(other_row) - before:
                rows_with[column].add(other)
        rows[number] = row
        pivot_row[pivot] = number
        for column in row:
            rows_with[column].add(number)
    return sorted(c for c, r in pivot_row.items() if len(rows[r]) == 1)


def _subtract(row: dict[int, int], other: dict[int, int], factor: int) -> None:
    """row -= factor * other, modulo PRIME, dropping zeros."""
    current = row.get
    for column, value in other.items():
        updated = (current(column, 0) - factor * value) % PRIME
        if updated:
            row[column] = updated
        elif column in row:
            del row[column]


def secondary_suppression(frame: pl.DataFrame, geographies: pl.DataFrame) -> list[int]:
    """`_row`s to suppress so that no suppressed cell can be recovered from published ones.

    `frame` holds metric_values columns plus `_row`, `_kind` and `suppression_rule` (the
    primary suppression). Each relation with exactly one suppressed cell gets a second
    one, repeatedly; then any cell still recoverable through a combination of relations
    gets another complement, and the two steps repeat until nothing is recoverable.
    """
    cells = _cells(frame, geographies)
    if cells.is_empty() or not cells["primary"].any():
        return []
    long = relations(cells, geographies)
    if long.is_empty():
        return []
    state = _Relations(long, cells, n_rows=frame.height)
    primary = state.suppressed.copy()
    changed = primary
    while state.focus(changed):
        before = state.suppressed.copy()
        state.protect_lonely()
        recoverable = state.recoverable()
        if recoverable:
            state.protect_recoverable(recoverable)
        changed = state.suppressed & ~before
    return np.flatnonzero(state.suppressed & ~primary).tolist()


def _suppressed_columns(flags: dict[str, pl.Expr]) -> pl.Expr:
    """`|`-joined names of the columns hidden in a row (null when none)."""
    parts = [pl.when(flag).then(pl.lit(name)) for name, flag in flags.items()]
    joined = pl.concat_str(parts, separator="|", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined)


def protect_inequality_gaps(gaps: pl.DataFrame, protected_values: pl.DataFrame) -> pl.DataFrame:
    """Hide what `inequality_gaps` derives from suppressed `metric_values` cells.

    Quintile 1 or 5 suppressed: its value and both gaps; Core20 or rest suppressed: its
    value and the Core20 gap; any quintile suppressed: the SII and RII with their limits
    (the regression could be solved back for the missing quintile). Adds `is_suppressed`
    and `suppressed_columns`.
    """
    keys = ["metric_id", "period_grain", "period_label", "geography_type", "geography_code"]
    wanted = {
        ("imd_quintile", "1"): "q1",
        ("imd_quintile", "5"): "q5",
        ("core20", "core20"): "core20",
        ("core20", "rest"): "rest",
    }
    cells = protected_values.filter(pl.col("breakdown_type").is_in(["imd_quintile", "core20"]))
    flags = cells.group_by(keys).agg(
        *[
            (
                (pl.col("breakdown_type") == breakdown_type)
                & (pl.col("breakdown_value") == breakdown_value)
                & pl.col("is_suppressed")
            )
            .any()
            .alias(f"_{name}")
            for (breakdown_type, breakdown_value), name in wanted.items()
        ],
        ((pl.col("breakdown_type") == "imd_quintile") & pl.col("is_suppressed"))
        .any()
        .alias("_any_quintile"),
    )
    joined = gaps.join(flags, on=keys, how="left").with_columns(
        pl.col(f"_{name}").fill_null(False) for name in [*wanted.values(), "any_quintile"]
    )
    q1, q5 = pl.col("_q1"), pl.col("_q5")
    core20, rest = pl.col("_core20"), pl.col("_rest")
    any_quintile = pl.col("_any_quintile")
    rules = {
        "quintile_1_value": q1,
        "quintile_5_value": q5,
        "gap_absolute": q1 | q5,
        "gap_relative": q1 | q5,
        "core20_value": core20,
        "rest_value": rest,
        "core20_gap": core20 | rest,
        "sii": any_quintile,
        "sii_lower_95": any_quintile,
        "sii_upper_95": any_quintile,
        "rii": any_quintile,
        "rii_lower_95": any_quintile,
        "rii_upper_95": any_quintile,
    }
    rules = {column: rule for column, rule in rules.items() if column in gaps.columns}
    hidden = _suppressed_columns(rules)
    result = joined.with_columns(hidden.alias("suppressed_columns")).with_columns(
        *[pl.when(rule).then(None).otherwise(pl.col(c)).alias(c) for c, rule in rules.items()],
        pl.col("suppressed_columns").is_not_null().alias("is_suppressed"),
    )
    return result.select(*gaps.columns, "is_suppressed", "suppressed_columns")


SPC_POINT_COLUMNS = ("value", "point_type")
SPC_SERIES_COLUMNS = (
    "mean",
    "lower_process_limit",
    "upper_process_limit",
    "lower_near_limit",
    "upper_near_limit",
    "assurance_icon",
)


def protect_spc(spc: pl.DataFrame, protected_values: pl.DataFrame) -> pl.DataFrame:
    """Hide what `metric_spc` derives from suppressed monthly `metric_values` cells.

    A suppressed point loses its value and point type; every point of a series with any
    suppressed point loses the mean, the limits and the assurance icon, from which the
    missing value could be solved back; and when the last point is suppressed, every point
    loses the variation icon (it is the last point's type). Adds `is_suppressed` and
    `suppressed_columns`.
    """
    series = ["metric_id", "geography_type", "geography_code", "breakdown_type", "breakdown_value"]
    monthly = protected_values.filter(pl.col("period_grain") == "month").select(
        *series, "period_start", pl.col("is_suppressed").alias("_point")
    )
    joined = (
        spc.join(monthly, on=[*series, "period_start"], how="left")
        .with_columns(pl.col("_point").fill_null(False))
        .with_columns(
            pl.col("_point").any().over(series).alias("_series"),
            (pl.col("_point") & pl.col("is_last_point")).any().over(series).alias("_last"),
        )
    )
    point, in_series = pl.col("_point"), pl.col("_series")
    rules: dict[str, pl.Expr] = {column: point for column in SPC_POINT_COLUMNS}
    rules.update({column: in_series for column in SPC_SERIES_COLUMNS})
    rules["variation_icon"] = pl.col("_last")
    ordered = {c: rules[c] for c in spc.columns if c in rules}
    result = joined.with_columns(_suppressed_columns(ordered).alias("suppressed_columns"))
    result = result.with_columns(
        *[pl.when(rule).then(None).otherwise(pl.col(c)).alias(c) for c, rule in ordered.items()],
        pl.col("suppressed_columns").is_not_null().alias("is_suppressed"),
    )
    return result.select(*spc.columns, "is_suppressed", "suppressed_columns")


def settings_from_build_vars(vars_json: str | None) -> tuple[int, int]:
    """The threshold and rounding a warehouse was built with: the vars recorded in
    raw.build_info, else the defaults (the same as dbt_project.yml's, which a test holds
    them to). The one reading of these vars, for publish and reports alike."""
    import json

    from metrics_cli.errors import DataError

    given = json.loads(vars_json or "{}")
    values = []
    for name, default in (
        ("disclosure_threshold", DEFAULT_THRESHOLD),
        ("disclosure_rounding", DEFAULT_ROUNDING),
    ):
        raw = given.get(name, default)
        try:
            values.append(int(raw))
        except (TypeError, ValueError) as error:
            raise DataError(f"var {name} must be a whole number, not {raw!r}") from error
    return values[0], values[1]


def disclosure_decisions(
    metric_values: pl.DataFrame,
    catalogue: pl.DataFrame,
    geographies: pl.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
) -> pl.DataFrame:
    """The decision for every row: its key, `is_suppressed` and `suppression_rule`."""
    decided = apply_disclosure(metric_values, catalogue, geographies, threshold, rounding=None)
    return decided.select(*CELL_KEY, "is_suppressed", "suppression_rule")
