"""What a board report shows, read read-only from the warehouse marts into plain dataclasses.

Nothing here recomputes a statistic or decides what to withhold. Values, limits,
comparisons with the parent, SPC signals and inequality gaps come from the disclosed marts
(`disclosed_metric_values`, `disclosed_metric_spc`, `disclosed_inequality_gaps`), in which
the build has already withheld what disclosure control withholds; maturity levels come
from their marts. This module picks the rows a report needs, formats numbers for print and
writes key messages, each traceable to the mart rows behind it. A withheld figure is shown
as withheld, never with the rule that withheld it (see `withheld_reasons`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics_cli.charts import SpcPoint, format_number
from metrics_cli.disclosure import (
    DEFAULT_ROUNDING,
    DEFAULT_THRESHOLD,
    settings_from_build_vars,
    withheld_reasons,
)
from metrics_cli.errors import DataError, UsageError
from metrics_cli.marts import (
    INEQUALITY_COLUMNS,
    MATURITY_CRITERIA_RESULTS_COLUMNS,
    MATURITY_LEVELS_COLUMNS,
    METRIC_VALUES_COLUMNS,
    SPC_COLUMNS,
)

SCOPE_TYPES = ("neighbourhood", "provider", "place", "icb")
GRAIN_ORDER = {"rolling_12m": 0, "financial_year": 1, "survey_wave": 2, "census": 3, "month": 4}
GEOGRAPHY_LABELS = {
    "practice": "practice",
    "pcn": "PCN",
    "neighbourhood": "neighbourhood",
    "place": "place",
    "icb": "ICB",
    "provider": "at-scale provider",
    "all": "all organisations",
}
FAMILIES = (
    ("shift", "The shift from hospital to community"),
    ("access", "Access: same-day urgent care"),
    ("continuity", "Continuity of care"),
    ("experience", "Patient experience"),
    ("workforce", "Workforce"),
    ("funding", "Funding"),
)
DOMAIN_ORDER = (
    "leadership",
    "population_health",
    "urgent_access",
    "proactive_care",
    "prevention_inequalities",
    "workforce",
    "infrastructure",
    "communities",
    "care_closer_to_home",
)
LEVEL_NAMES = {
    0: "Not yet at Foundation",
    1: "Foundation",
    2: "Developing",
    3: "Maturing",
    4: "Thriving",
}
QUINTILE_LABELS = {
    "1": "Quintile 1 (most deprived)",
    "2": "Quintile 2",
    "3": "Quintile 3",
    "4": "Quintile 4",
    "5": "Quintile 5 (least deprived)",
}
COHORT_LABELS = {
    "all": "All eligible patients",
    "age_75_plus": "Aged 75 and over",
    "multimorbid": "Two or more long-term conditions",
    "frail": "Moderate or severe frailty",
}
BENCHMARK_PRIORITY = (
    "same_day_share",
    "continuity_slicc",
    "acsc_emergency_admission_dsr",
    "ae_attendance_rate",
    "community_contact_share",
    "prem_overall_experience_positive",
    "continuity_coc",
    "dna_rate",
)
SPC_CHART_LIMIT = 4
BENCHMARK_LIMIT = 3

DISCLOSED_COLUMNS = (*METRIC_VALUES_COLUMNS, "is_suppressed")
SUPPRESSION_COLUMNS = ("is_suppressed", "suppressed_columns")
WITHHELD = "withheld"
"""How a figure withheld by disclosure control is printed, whatever withheld it."""

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "disclosed_metric_values": DISCLOSED_COLUMNS,
    "metric_catalogue": ("metric_id", "title", "unit", "polarity", "family", "source_datasets"),
    "int_practice_geographies": (
        "period_end",
        "practice_code",
        "geography_type",
        "geography_code",
        "geography_name",
    ),
    "int_geography_parents": (
        "period_end",
        "geography_type",
        "geography_code",
        "parent_type",
        "parent_code",
    ),
    "disclosed_metric_spc": (*SPC_COLUMNS, *SUPPRESSION_COLUMNS),
    "disclosed_inequality_gaps": (*INEQUALITY_COLUMNS, *SUPPRESSION_COLUMNS),
    "maturity_levels": MATURITY_LEVELS_COLUMNS,
    "maturity_criteria_results": MATURITY_CRITERIA_RESULTS_COLUMNS,
    "data_quality": (
        "dataset",
        "check_name",
        "severity",
        "practice_code",
        "period_start",
        "rows_affected",
        "detail",
    ),
    "maturity_domains": ("domain_id",),
    "maturity_criteria": ("criterion_id",),
    "build_info": ("key", "value"),
}
"""The tables reports read. Never `metric_values`, `metric_spc` or `inequality_gaps`: they
hold exact figures; the disclosed marts are what may be shown."""
REQUIRED_TABLES = (
    "disclosed_metric_values",
    "metric_catalogue",
    "int_practice_geographies",
    "int_geography_parents",
)


# ---------------------------------------------------------------- formatting (presentation)


def value_decimals(unit: str, value: float | None = None) -> int:
    """Decimals a value is printed with: by unit; money to the penny below £1,000."""
    if unit == "£":
        return 2 if value is not None and abs(value) < 1000 else 0
    return {"index": 3, "FTE per 10,000": 2}.get(unit, 1)


def format_value(value: float | None, unit: str) -> str:
    """A metric value as the report prints it: `45.8%`, `31.2`, `0.512`, `£1,234`, `+1.5 pp`."""
    if value is None:
        return "–"
    decimals = value_decimals(unit, value)
    if unit == "£":
        text = format_number(value, decimals)
        return f"−£{text[1:]}" if text.startswith("−") else f"£{text}"
    text = format_number(value, decimals)
    if unit == "%":
        return f"{text}%"
    if unit == "percentage points":
        return f"+{text} pp" if value > 0 and text.strip("0.") else f"{text} pp"
    return text


def format_interval(lower: float | None, upper: float | None, unit: str) -> str:
    """`41.2 to 45.9` (no unit, the value carries it); a dash when there are no limits."""
    if lower is None or upper is None:
        return "–"
    decimals = value_decimals(unit, max(abs(lower), abs(upper)))
    return f"{format_number(lower, decimals)} to {format_number(upper, decimals)}"


def unit_phrase(unit: str) -> str:
    """What follows a printed value in running text, e.g. ` per 1,000`."""
    if unit in ("%", "£", "percentage points", "index"):
        return ""
    return f" {unit}"


def format_count(count: float | None, suppressed: bool) -> str:
    """A count cell: `withheld` when disclosure control withheld it, a dash when there is
    none."""
    if suppressed:
        return WITHHELD
    if count is None:
        return "–"
    return f"{round(count):,}"


def in_sentence(title: str) -> str:
    """A title inside a sentence: first letter lower case unless it starts an acronym."""
    return (
        title if title[1:2].isupper() or not title[1:2].isalpha() else title[:1].lower() + title[1:]
    )


def sentence_case(text: str) -> str:
    """First letter upper case, the rest as written (keeps `A&E`, `GP`)."""
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- plain data for templates


@dataclass(frozen=True)
class Geography:
    """A geography with its printable name."""

    type: str
    code: str
    name: str

    @property
    def type_label(self) -> str:
        return GEOGRAPHY_LABELS.get(self.type, self.type)

    @property
    def label(self) -> str:
        return self.name if self.name == self.code else f"{self.name} ({self.code})"


@dataclass(frozen=True)
class Metric:
    """One catalogue entry."""

    metric_id: str
    title: str
    description: str
    unit: str
    method: str
    polarity: str
    family: str
    policy_aim: str
    source_datasets: tuple[str, ...]
    breakdowns: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    """One disclosure-controlled metric_values row."""

    metric_id: str
    period_grain: str
    period_start: date
    period_end: date
    period_label: str
    geography_type: str
    geography_code: str
    breakdown_type: str
    breakdown_value: str
    numerator: float | None
    denominator: float | None
    unweighted_count: float | None
    value: float | None
    lower_95: float | None
    upper_95: float | None
    method: str
    comparison_to_parent: str
    not_calculated_reason: str | None
    is_suppressed: bool

    @property
    def status(self) -> str:
        if self.is_suppressed:
            return "suppressed"
        if self.value is None:
            return "not_calculated"
        return "ok"

    @property
    def has_interval(self) -> bool:
        return self.lower_95 is not None and self.upper_95 is not None


@dataclass(frozen=True)
class SpcView:
    """An SPC chart of one metric at the report's geography; `is_withheld` when a month of
    the series is withheld, so that the chart is not drawn (its mean and limits are
    withheld with it)."""

    metric: Metric
    points: tuple[SpcPoint, ...]
    variation_icon: str | None
    assurance_icon: str | None
    target: float | None
    is_withheld: bool = False


@dataclass(frozen=True)
class MetricSummary:
    """A headline row: the latest figure, a year before, the parent and the ICB."""

    metric: Metric
    current: Figure
    year_before: Figure | None
    parent: Figure | None
    icb: Figure | None
    change: str
    spc: SpcView | None


@dataclass(frozen=True)
class CohortRow:
    """Continuity for one cohort: the value of each index metric shown."""

    cohort: str
    label: str
    figures: tuple[Figure | None, ...]

    @property
    def has_withheld(self) -> bool:
        return any(f is not None and f.is_suppressed for f in self.figures)


@dataclass(frozen=True)
class Section:
    """One metric family as a report section."""

    family: str
    title: str
    summaries: tuple[MetricSummary, ...]
    absent: tuple[Metric, ...]
    unavailable: tuple[Metric, ...]
    cohort_metrics: tuple[Metric, ...] = ()
    cohorts: tuple[CohortRow, ...] = ()

    @property
    def spc_views(self) -> tuple[SpcView, ...]:
        return tuple(s.spc for s in self.summaries if s.spc is not None)

    @property
    def charted_spc(self) -> tuple[SpcView, ...]:
        """Charts worth a board's attention: a signal in the latest month, or a target."""
        chosen = tuple(
            view
            for view in self.spc_views
            if view.variation_icon not in (None, "common_cause") or view.target is not None
        )
        return chosen[:SPC_CHART_LIMIT]

    @property
    def is_empty(self) -> bool:
        return not (self.summaries or self.absent or self.unavailable)

    @property
    def has_withheld(self) -> bool:
        """Whether a figure of the headline table is withheld (it then gets the key)."""
        return any(
            f is not None and f.is_suppressed
            for s in self.summaries
            for f in (s.current, s.year_before, s.parent, s.icb)
        )

    @property
    def cohorts_withheld(self) -> bool:
        return any(row.has_withheld for row in self.cohorts)


@dataclass(frozen=True)
class GapRow:
    """One inequality_gaps row."""

    metric_id: str
    period_grain: str
    period_label: str
    quintile_1_value: float | None
    quintile_5_value: float | None
    gap_absolute: float | None
    gap_relative: float | None
    core20_value: float | None
    rest_value: float | None
    core20_gap: float | None
    sii: float | None
    sii_lower_95: float | None
    sii_upper_95: float | None
    rii: float | None
    rii_lower_95: float | None
    rii_upper_95: float | None
    not_calculated_reason: str | None
    is_suppressed: bool
    suppressed_columns: tuple[str, ...] = ()

    def withheld(self, column: str) -> bool:
        """Whether disclosure control withheld this column of the row."""
        return column in self.suppressed_columns


@dataclass(frozen=True)
class QuintileView:
    """A metric by IMD quintile at the report's geography, with its gap row."""

    metric: Metric
    period_label: str
    quintiles: tuple[tuple[str, Figure | None], ...]
    overall: Figure | None
    gap: GapRow | None

    @property
    def has_withheld(self) -> bool:
        figures = [f for _, f in self.quintiles] + [self.overall]
        return any(f is not None and f.is_suppressed for f in figures)


@dataclass(frozen=True)
class BenchmarkView:
    """Peers' values of one metric for one period against the ICB's value."""

    metric: Metric
    period_label: str
    reference: Figure
    reference_geography: Geography
    units: tuple[tuple[Geography, Figure], ...]
    subject_code: str


@dataclass(frozen=True)
class CriterionView:
    """One maturity criterion result, with its statement from the matrix."""

    criterion_id: str
    level: int
    kind: str
    status: str
    statement: str
    evidence_summary: str | None
    metric_id: str | None
    metric_value: float | None
    threshold: str | None
    is_met: bool


@dataclass(frozen=True)
class DomainView:
    """One maturity domain of one neighbourhood."""

    domain_id: str
    title: str
    level_achieved: int
    level_name: str
    self_assessed_level: int | None
    evidenced_level: int | None
    has_discrepancy: bool
    next_level_gaps: str | None
    previous_level: int | None
    evidence: tuple[CriterionView, ...]
    next_steps: tuple[CriterionView, ...]

    @property
    def discrepancy_direction(self) -> str | None:
        if not self.has_discrepancy:
            return None
        if (self.self_assessed_level or 0) > (self.evidenced_level or 0):
            return "Self-assessment is higher than the metric evidence supports"
        return "Metric evidence supports a higher level than self-assessed"


@dataclass(frozen=True)
class OverviewRow:
    """One member neighbourhood's levels across domains (provider, place and ICB reports)."""

    neighbourhood: Geography
    levels: tuple[tuple[int | None, bool], ...]


@dataclass(frozen=True)
class MaturityView:
    """The maturity matrix for the report: one neighbourhood's domains, or an overview."""

    assessment_period: str
    previous_period: str | None
    domains: tuple[DomainView, ...]
    domain_titles: tuple[tuple[str, str], ...]
    overview: tuple[OverviewRow, ...]

    @property
    def discrepancies(self) -> int:
        if self.domains:
            return sum(d.has_discrepancy for d in self.domains)
        return sum(flag for row in self.overview for _, flag in row.levels)


@dataclass(frozen=True)
class Reference:
    """Where a key message comes from: the mart, metric, period(s), geography, breakdown."""

    number: int
    mart: str
    metric_id: str | None
    periods: str
    geography: str
    breakdown: str


@dataclass(frozen=True)
class KeyMessage:
    """One sentence of the executive summary with its reference."""

    kind: str
    text: str
    reference: Reference


@dataclass(frozen=True)
class DataQualityRow:
    """Data-quality results for the report's practices, summed by dataset, check, severity."""

    dataset: str
    check_name: str
    severity: str
    results: int
    rows_affected: int
    example: str | None


@dataclass(frozen=True)
class ReportPeriod:
    """The period a report describes: each figure is its metric's latest ending by `end`."""

    label: str
    end: date


@dataclass(frozen=True)
class GeographyContext:
    """The report's geography and its neighbours in the hierarchy at the period end."""

    scope: Geography
    parent: Geography | None
    icb: Geography | None
    peers: tuple[Geography, ...]
    neighbourhoods: tuple[Geography, ...]
    practices: tuple[str, ...]
    snapshot: date


@dataclass(frozen=True)
class ReportData:
    """Everything one report prints."""

    context: GeographyContext
    period: ReportPeriod
    generated_on: date
    key_messages: tuple[KeyMessage, ...]
    sections: tuple[Section, ...]
    maturity: MaturityView | None
    inequalities: tuple[QuintileView, ...]
    gaps: tuple[tuple[Metric, GapRow], ...]
    benchmarks: tuple[BenchmarkView, ...]
    data_quality: tuple[DataQualityRow, ...]
    data_quality_total: int
    has_data_quality: bool
    not_produced: tuple[Metric, ...]
    suppressed_cells: int
    disclosure_threshold: int = DEFAULT_THRESHOLD
    disclosure_rounding: int = DEFAULT_ROUNDING

    @property
    def scope(self) -> Geography:
        return self.context.scope

    @property
    def withheld_reasons(self) -> tuple[str, str]:
        """The two reasons a figure may be withheld, in words (never which one applies)."""
        return withheld_reasons(self.disclosure_threshold)

    @property
    def gaps_withheld(self) -> bool:
        return any(gap.is_suppressed for _, gap in self.gaps)

    @property
    def title(self) -> str:
        return f"{sentence_case(self.scope.type_label)} report: {self.scope.name}"


# ---------------------------------------------------------------- warehouse access


def query_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None
) -> pl.DataFrame:
    """A query's result as a polars frame."""
    frame: pl.DataFrame = con.sql(sql, params=params).pl()
    return frame


def query_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None
) -> list[tuple[Any, ...]]:
    """A query's rows, fully fetched."""
    return con.sql(sql, params=params).fetchall()


def query_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None
) -> tuple[Any, ...] | None:
    """A query's first row, or None; the result is always fetched to the end."""
    rows = query_rows(con, sql, params)
    return rows[0] if rows else None


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only; a missing file is a usage error."""
    if not warehouse.is_file():
        raise UsageError(f"no warehouse at {warehouse}; run `nbhd build` first")
    return duckdb.connect(str(warehouse), read_only=True)


def locate_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Quoted names of the marts and tables reports read, found in whatever schema holds them.

    Where two schemas hold a table of the same name, the one with the expected columns wins.
    """
    rows = query_rows(
        con,
        "select table_schema, table_name, list(column_name) from information_schema.columns "
        "group by table_schema, table_name order by table_schema",
    )
    found: dict[str, str] = {}
    for schema, name, columns in rows:
        wanted = TABLE_COLUMNS.get(name)
        if wanted is None or name in found:
            continue
        if set(wanted) <= set(columns):
            found[name] = f'"{schema}"."{name}"'
    missing = [name for name in REQUIRED_TABLES if name not in found]
    if missing:
        raise DataError(
            f"the warehouse has no {', '.join(missing)} table with the expected columns; "
            "rebuild it with `nbhd build`"
        )
    return found


def load_catalogue(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]) -> dict[str, Metric]:
    """The metric catalogue seed, in its own order."""
    frame = query_frame(con, f"select * from {tables['metric_catalogue']}")
    catalogue: dict[str, Metric] = {}
    for row in frame.iter_rows(named=True):
        catalogue[row["metric_id"]] = Metric(
            metric_id=row["metric_id"],
            title=row["title"],
            description=row.get("description") or "",
            unit=row["unit"],
            method=row.get("method") or "none",
            polarity=row["polarity"],
            family=row["family"],
            policy_aim=row.get("policy_aim") or "",
            source_datasets=tuple(str(row["source_datasets"] or "").split("|")),
            breakdowns=tuple(str(row.get("breakdowns") or "all").split("|")),
        )
    return catalogue


def resolve_period(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], label: str | None
) -> ReportPeriod:
    """The period asked for by label, else the latest month loaded."""
    metric_values = tables["disclosed_metric_values"]
    if label is not None:
        row = query_one(
            con, f"select max(period_end) from {metric_values} where period_label = ?", [label]
        )
        if row is None or row[0] is None:
            raise UsageError(f"no period labelled '{label}' in the warehouse")
        return ReportPeriod(label=label, end=row[0])
    row = query_one(
        con,
        f"select period_label, period_end from {metric_values} "
        "order by period_grain <> 'month', period_end desc limit 1",
    )
    if row is None:
        raise DataError("the warehouse holds no metric values; check the build's data_quality")
    return ReportPeriod(label=row[0], end=row[1])


def _snapshot(con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], as_at: date) -> date:
    """The month end of the hierarchy to use: the latest on or before `as_at`, else the first."""
    row = query_one(
        con,
        f"select coalesce(max(period_end) filter (where period_end <= ?), min(period_end)) "
        f"from {tables['int_practice_geographies']}",
        [as_at],
    )
    if row is None or row[0] is None:
        raise DataError("the warehouse holds no organisations; check the build's data_quality")
    result: date = row[0]
    return result


def list_scopes(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], as_at: date
) -> list[tuple[str, str]]:
    """Every neighbourhood, provider, place and ICB in the hierarchy at the period end."""
    snapshot = _snapshot(con, tables, as_at)
    rows = query_rows(
        con,
        f"select distinct geography_type, geography_code "
        f"from {tables['int_practice_geographies']} "
        f"where period_end = ? and geography_type in ('neighbourhood', 'provider', 'place', 'icb')",
        [snapshot],
    )
    order = {kind: i for i, kind in enumerate(SCOPE_TYPES)}
    return sorted(((str(t), str(c)) for t, c in rows), key=lambda s: (order[s[0]], s[1]))


def geography_context(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    scope: tuple[str, str],
    as_at: date,
) -> GeographyContext:
    """The scope, its parent and ICB, its peers within the ICB and its practices."""
    kind, code = scope
    if kind not in SCOPE_TYPES:
        raise UsageError(f"reports are for {', '.join(SCOPE_TYPES)}, not '{kind}'")
    snapshot = _snapshot(con, tables, as_at)
    geographies = query_frame(
        con,
        f"select practice_code, geography_type, geography_code, geography_name "
        f"from {tables['int_practice_geographies']} where period_end = ?",
        [snapshot],
    )
    names = {
        (row["geography_type"], row["geography_code"]): row["geography_name"]
        or row["geography_code"]
        for row in geographies.unique(["geography_type", "geography_code"]).iter_rows(named=True)
    }

    def geography(geo_type: str, geo_code: str) -> Geography:
        return Geography(geo_type, geo_code, str(names.get((geo_type, geo_code), geo_code)))

    practices = sorted(
        geographies.filter((pl.col("geography_type") == kind) & (pl.col("geography_code") == code))[
            "practice_code"
        ].to_list()
    )
    if not practices:
        raise UsageError(f"no {GEOGRAPHY_LABELS[kind]} with code '{code}' in the warehouse")
    in_scope = geographies.filter(pl.col("practice_code").is_in(practices))
    parent_row = query_one(
        con,
        f"select parent_type, parent_code from {tables['int_geography_parents']} "
        "where period_end = ? and geography_type = ? and geography_code = ?",
        [snapshot, kind, code],
    )
    parent = geography(parent_row[0], parent_row[1]) if parent_row else None
    icb_codes = in_scope.filter(pl.col("geography_type") == "icb")["geography_code"].mode().sort()
    icb = geography("icb", icb_codes[0]) if len(icb_codes) else None
    icb_practices = (
        geographies.filter(
            (pl.col("geography_type") == "icb") & (pl.col("geography_code") == icb.code)
        )["practice_code"]
        if icb is not None
        else pl.Series([], dtype=pl.String)
    )
    peer_type = "neighbourhood" if kind == "icb" else kind
    peer_codes = (
        geographies.filter(
            pl.col("practice_code").is_in(icb_practices.to_list())
            & (pl.col("geography_type") == peer_type)
        )["geography_code"]
        .unique()
        .sort()
        .to_list()
    )
    neighbourhood_codes = (
        in_scope.filter(pl.col("geography_type") == "neighbourhood")["geography_code"]
        .unique()
        .sort()
        .to_list()
    )
    return GeographyContext(
        scope=geography(kind, code),
        parent=parent,
        icb=icb,
        peers=tuple(geography(peer_type, c) for c in peer_codes),
        neighbourhoods=tuple(geography("neighbourhood", c) for c in neighbourhood_codes),
        practices=tuple(practices),
        snapshot=snapshot,
    )


def _icb_practices_sql(tables: Mapping[str, str]) -> str:
    """Every (month end, practice) of the given ICBs: which geographies lie inside them."""
    return f"""
        select distinct period_end, practice_code
        from {tables["int_practice_geographies"]}
        where geography_type = 'icb' and list_contains(?, geography_code)
    """


def load_disclosed_metric_values(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], icb_codes: Sequence[str] | None
) -> pl.DataFrame:
    """The disclosure-controlled rows (the `disclosed_metric_values` mart) of the
    geographies inside the given ICBs, with `all` (every row for None).

    Disclosure control is decided once per build over every row, so the cells a report
    withholds are the cells every other report and the published files withhold.
    """
    disclosed = tables["disclosed_metric_values"]
    columns = ", ".join(f"disclosed.{c}" for c in DISCLOSED_COLUMNS)
    if icb_codes is None:
        return query_frame(con, f"select {columns} from {disclosed} as disclosed")
    return query_frame(
        con,
        f"""
        with icb_practices as ({_icb_practices_sql(tables)}),
        icb_geographies as (
            select distinct geographies.geography_type, geographies.geography_code
            from {tables["int_practice_geographies"]} as geographies
            inner join icb_practices
                on geographies.period_end = icb_practices.period_end
                and geographies.practice_code = icb_practices.practice_code
        )
        select {columns}
        from {disclosed} as disclosed
        semi join icb_geographies
            on disclosed.geography_type = icb_geographies.geography_type
            and disclosed.geography_code = icb_geographies.geography_code
        """,
        [list(icb_codes)],
    )


# ---------------------------------------------------------------- picking rows


def minus_one_year(day: date) -> date:
    """The same day a year earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def _figure(row: Mapping[str, Any]) -> Figure:
    def number(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    return Figure(
        metric_id=row["metric_id"],
        period_grain=row["period_grain"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        period_label=row["period_label"],
        geography_type=row["geography_type"],
        geography_code=row["geography_code"],
        breakdown_type=row["breakdown_type"],
        breakdown_value=row["breakdown_value"],
        numerator=number("numerator"),
        denominator=number("denominator"),
        unweighted_count=number("unweighted_count"),
        value=number("value"),
        lower_95=number("lower_95"),
        upper_95=number("upper_95"),
        method=row["method"],
        comparison_to_parent=row["comparison_to_parent"] or "not_compared",
        not_calculated_reason=row["not_calculated_reason"],
        is_suppressed=bool(row.get("is_suppressed")),
    )


SeriesKey = tuple[str, str, str, str, str]


class FigureIndex:
    """Figures by metric, geography and breakdown, each list ordered by period end."""

    def __init__(self, figures: Iterable[Figure], as_at: date) -> None:
        self.as_at = as_at
        self._series: dict[SeriesKey, list[Figure]] = {}
        for figure in figures:
            key = (
                figure.metric_id,
                figure.geography_type,
                figure.geography_code,
                figure.breakdown_type,
                figure.breakdown_value,
            )
            self._series.setdefault(key, []).append(figure)
        for series in self._series.values():
            series.sort(key=lambda f: (f.period_end, -GRAIN_ORDER.get(f.period_grain, 9)))

    def series(
        self, metric_id: str, geo: Geography, breakdown: tuple[str, str] = ("all", "all")
    ) -> list[Figure]:
        """Rows ending on or before the report period end."""
        key = (metric_id, geo.type, geo.code, *breakdown)
        return [f for f in self._series.get(key, []) if f.period_end <= self.as_at]

    def latest(
        self, metric_id: str, geo: Geography, breakdown: tuple[str, str] = ("all", "all")
    ) -> Figure | None:
        """The latest row; between grains ending the same day, the longer grain."""
        series = self.series(metric_id, geo, breakdown)
        return series[-1] if series else None

    def matching(
        self, figure: Figure, geo: Geography, breakdown: tuple[str, str] | None = None
    ) -> Figure | None:
        """The row of another geography (or breakdown) for the same metric and period."""
        wanted = breakdown or (figure.breakdown_type, figure.breakdown_value)
        for candidate in self.series(figure.metric_id, geo, wanted):
            if (
                candidate.period_grain == figure.period_grain
                and candidate.period_start == figure.period_start
            ):
                return candidate
        return None

    def year_before(self, figure: Figure, geo: Geography) -> Figure | None:
        """The same grain's latest row ending at least a year before `figure`."""
        cutoff = minus_one_year(figure.period_end)
        candidates = [
            f
            for f in self.series(
                figure.metric_id, geo, (figure.breakdown_type, figure.breakdown_value)
            )
            if f.period_grain == figure.period_grain and f.period_end <= cutoff
        ]
        return candidates[-1] if candidates else None

    def breakdown_values(self, metric_id: str, geo: Geography, breakdown_type: str) -> set[str]:
        return {
            key[4]
            for key in self._series
            if key[0] == metric_id
            and key[1] == geo.type
            and key[2] == geo.code
            and key[3] == breakdown_type
        }


def classify_change(metric: Metric, current: Figure, before: Figure | None) -> str:
    """How the latest figure compares with a year before, from the two rows' 95% limits.

    `improved` / `worsened` when the limits do not overlap (by polarity; `higher` / `lower`
    for neutral metrics); `no_significant_change` when they overlap; for rows without limits
    `higher` / `lower` / `unchanged` on the values alone; `not_comparable` without a pair.
    """
    if before is None or current.value is None or before.value is None:
        return "not_comparable"
    if current.has_interval and before.has_interval:
        assert current.lower_95 is not None and current.upper_95 is not None
        assert before.lower_95 is not None and before.upper_95 is not None
        if current.lower_95 > before.upper_95:
            direction = "higher"
        elif current.upper_95 < before.lower_95:
            direction = "lower"
        else:
            return "no_significant_change"
        if metric.polarity == "higher_is_better":
            return "improved" if direction == "higher" else "worsened"
        if metric.polarity == "lower_is_better":
            return "improved" if direction == "lower" else "worsened"
        return direction
    if current.value > before.value:
        return "higher"
    if current.value < before.value:
        return "lower"
    return "unchanged"


CHANGE_LABELS = {
    "improved": "Improved",
    "worsened": "Worsened",
    "no_significant_change": "No significant change",
    "higher": "Higher",
    "lower": "Lower",
    "unchanged": "Unchanged",
    "not_comparable": "No earlier figure",
}
COMPARISON_LABELS = {
    "better": "Better",
    "similar": "Similar",
    "worse": "Worse",
    "higher": "Higher",
    "lower": "Lower",
    "not_compared": "Not compared",
}


# ---------------------------------------------------------------- SPC


def load_spc(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    geo: Geography,
    as_at: date,
    catalogue: Mapping[str, Metric],
) -> dict[str, SpcView]:
    """SPC charts of the geography's monthly series, up to the report period end, from the
    `disclosed_metric_spc` mart.

    The build hides a withheld month's point and, with it, the series' mean and limits; such
    a series is not charted (`is_withheld`), and its icons are not shown.
    """
    if "disclosed_metric_spc" not in tables:
        return {}
    frame = query_frame(
        con,
        f"select * from {tables['disclosed_metric_spc']} "
        "where geography_type = ? and geography_code = ? "
        "and breakdown_type = 'all' and period_start <= ? order by metric_id, period_start",
        [geo.type, geo.code, as_at],
    )
    if frame.is_empty():
        return {}
    views: dict[str, SpcView] = {}
    for (metric_id,), rows in frame.group_by(["metric_id"], maintain_order=True):
        metric = catalogue.get(str(metric_id))
        if metric is None:
            continue
        records = list(rows.iter_rows(named=True))
        last = records[-1]
        if rows["is_suppressed"].any():
            views[metric.metric_id] = SpcView(
                metric, (), None, None, _maybe_float(last["target"]), is_withheld=True
            )
            continue
        points = tuple(
            SpcPoint(
                period_start=r["period_start"],
                value=float(r["value"]),
                mean=_maybe_float(r["mean"]),
                lower_process_limit=_maybe_float(r["lower_process_limit"]),
                upper_process_limit=_maybe_float(r["upper_process_limit"]),
                lower_near_limit=_maybe_float(r["lower_near_limit"]),
                upper_near_limit=_maybe_float(r["upper_near_limit"]),
                point_type=r["point_type"],
            )
            for r in records
            if r["value"] is not None
        )
        if not points:
            continue
        is_last = bool(last["is_last_point"])
        views[metric.metric_id] = SpcView(
            metric=metric,
            points=points,
            variation_icon=last["variation_icon"] if is_last else None,
            assurance_icon=last["assurance_icon"] if is_last else None,
            target=_maybe_float(last["target"]),
        )
    return views


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


# ---------------------------------------------------------------- sections


def build_sections(
    catalogue: Mapping[str, Metric],
    index: FigureIndex,
    context: GeographyContext,
    spc: Mapping[str, SpcView],
    produced: set[str],
) -> tuple[Section, ...]:
    """One section per metric family: headline rows, and what is missing and why."""
    sections = []
    for family, title in FAMILIES:
        metrics = [m for m in catalogue.values() if m.family == family]
        if not metrics:
            continue
        summaries: list[MetricSummary] = []
        absent: list[Metric] = []
        unavailable: list[Metric] = []
        for metric in metrics:
            if metric.metric_id not in produced:
                absent.append(metric)
                continue
            current = index.latest(metric.metric_id, context.scope)
            if current is None:
                unavailable.append(metric)
                continue
            before = index.year_before(current, context.scope)
            summaries.append(
                MetricSummary(
                    metric=metric,
                    current=current,
                    year_before=before,
                    parent=index.matching(current, context.parent, ("all", "all"))
                    if context.parent
                    else None,
                    icb=index.matching(current, context.icb, ("all", "all"))
                    if context.icb and context.icb != context.scope
                    else None,
                    change=classify_change(metric, current, before),
                    spc=spc.get(metric.metric_id),
                )
            )
        cohort_metrics: tuple[Metric, ...] = ()
        cohorts: tuple[CohortRow, ...] = ()
        if family == "continuity":
            cohort_metrics, cohorts = _cohort_rows(summaries, index, context.scope)
        sections.append(
            Section(
                family,
                title,
                tuple(summaries),
                tuple(absent),
                tuple(unavailable),
                cohort_metrics,
                cohorts,
            )
        )
    return tuple(sections)


def _cohort_rows(
    summaries: Sequence[MetricSummary], index: FigureIndex, scope: Geography
) -> tuple[tuple[Metric, ...], tuple[CohortRow, ...]]:
    """Continuity for the cohorts policy names: older, multimorbid and frail patients."""
    metrics = tuple(
        s.metric for s in summaries if index.breakdown_values(s.metric.metric_id, scope, "cohort")
    )
    if not metrics:
        return (), ()
    headline = {s.metric.metric_id: s.current for s in summaries}
    rows = []
    for cohort, label in COHORT_LABELS.items():
        figures = tuple(
            headline[m.metric_id]
            if cohort == "all"
            else index.matching(headline[m.metric_id], scope, ("cohort", cohort))
            for m in metrics
        )
        if cohort == "all" or any(f is not None for f in figures):
            rows.append(CohortRow(cohort, label, figures))
    return metrics, tuple(rows)


def build_inequalities(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    catalogue: Mapping[str, Metric],
    index: FigureIndex,
    scope: Geography,
) -> tuple[tuple[QuintileView, ...], tuple[tuple[Metric, GapRow], ...]]:
    """Values by IMD quintile for each metric that has them, with the inequality_gaps row.

    Each metric shows its latest non-monthly period with quintile rows (SII is only made
    for non-monthly grains), else its latest month.
    """
    gaps = _load_gaps(con, tables, scope)
    views: list[QuintileView] = []
    for metric in catalogue.values():
        rows = [
            f
            for value in sorted(index.breakdown_values(metric.metric_id, scope, "imd_quintile"))
            for f in index.series(metric.metric_id, scope, ("imd_quintile", value))
        ]
        if not rows:
            continue
        chosen = min(
            rows,
            key=lambda f: (
                f.period_grain == "month",
                -f.period_end.toordinal(),
                GRAIN_ORDER.get(f.period_grain, 9),
            ),
        )
        quintiles = tuple(
            (
                label,
                next(
                    (
                        f
                        for f in rows
                        if f.breakdown_value == value
                        and f.period_grain == chosen.period_grain
                        and f.period_start == chosen.period_start
                    ),
                    None,
                ),
            )
            for value, label in QUINTILE_LABELS.items()
        )
        views.append(
            QuintileView(
                metric=metric,
                period_label=chosen.period_label,
                quintiles=quintiles,
                overall=index.matching(chosen, scope, ("all", "all")),
                gap=gaps.get((metric.metric_id, chosen.period_grain, chosen.period_label)),
            )
        )
    gap_rows = tuple(
        (catalogue[key[0]], gap)
        for key, gap in gaps.items()
        if key[0] in catalogue
        and any(v.metric.metric_id == key[0] and v.period_label == key[2] for v in views)
    )
    return tuple(views), gap_rows


def _load_gaps(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    scope: Geography,
) -> dict[tuple[str, str, str], GapRow]:
    """The scope's rows of the `disclosed_inequality_gaps` mart (the build has hidden what a
    withheld quintile would reveal)."""
    if "disclosed_inequality_gaps" not in tables:
        return {}
    frame = query_frame(
        con,
        f"select * from {tables['disclosed_inequality_gaps']} "
        "where geography_type = ? and geography_code = ?",
        [scope.type, scope.code],
    )
    gaps: dict[tuple[str, str, str], GapRow] = {}
    text_fields = ("metric_id", "period_grain", "period_label", "not_calculated_reason")
    for row in frame.iter_rows(named=True):
        values: dict[str, Any] = {}
        for name in GapRow.__dataclass_fields__:
            if name == "is_suppressed":
                values[name] = bool(row["is_suppressed"])
            elif name == "suppressed_columns":
                values[name] = tuple(filter(None, str(row[name] or "").split("|")))
            elif name in text_fields:
                values[name] = row[name]
            else:
                values[name] = _maybe_float(row[name])
        gaps[(row["metric_id"], row["period_grain"], row["period_label"])] = GapRow(**values)
    return gaps


def build_benchmarks(
    catalogue: Mapping[str, Metric],
    index: FigureIndex,
    context: GeographyContext,
) -> tuple[BenchmarkView, ...]:
    """Peers within the ICB (the ICB's neighbourhoods for an ICB report) against the ICB."""
    if context.icb is None:
        return ()
    views: list[BenchmarkView] = []
    for metric_id in BENCHMARK_PRIORITY:
        if metric_id not in catalogue or len(views) >= BENCHMARK_LIMIT:
            continue
        anchor = index.latest(metric_id, context.icb)
        if context.scope.type != "icb":
            own = index.latest(metric_id, context.scope)
            anchor = index.matching(own, context.icb) if own is not None else None
        if anchor is None or anchor.value is None:
            continue
        units = tuple(
            (peer, figure)
            for peer in context.peers
            if (figure := index.matching(anchor, peer, ("all", "all"))) is not None
            and figure.value is not None
        )
        if len(units) < 2:
            continue
        views.append(
            BenchmarkView(
                catalogue[metric_id],
                anchor.period_label,
                anchor,
                context.icb,
                units,
                context.scope.code,
            )
        )
    return tuple(views)


# ---------------------------------------------------------------- maturity

ASSESSMENT_PATTERN = re.compile(r"^(\d{4})/(\d{2})(?:\s*Q([1-4]))?$")


def assessment_period_end(label: str) -> date | None:
    """The last day of `2025/26 Q2` (30 September 2025) or `2025/26` (31 March 2026)."""
    match = ASSESSMENT_PATTERN.match(label.strip())
    if match is None:
        return None
    first_year = int(match.group(1))
    quarter = match.group(3)
    if quarter is None:
        return date(first_year + 1, 3, 31)
    end_month = 3 + 3 * int(quarter)
    year = first_year + (1 if end_month > 12 else 0)
    end_month = end_month - 12 if end_month > 12 else end_month
    following = date(year + (end_month == 12), end_month % 12 + 1, 1)
    return following - timedelta(days=1)


def choose_assessment_periods(labels: Iterable[str], as_at: date) -> tuple[str | None, str | None]:
    """The latest assessment period ending on or before `as_at`, and the one before it.

    Labels that are not financial-year quarters are ordered as text and all taken as current.
    """
    distinct = sorted(set(labels))
    dated = [(assessment_period_end(label), label) for label in distinct]
    if dated and all(end is None for end, _ in dated):
        ordered = distinct
    else:
        ordered = [
            label
            for end, label in sorted((e, lab) for e, lab in dated if e is not None)
            if end <= as_at
        ]
    if not ordered:
        return None, None
    return ordered[-1], ordered[-2] if len(ordered) > 1 else None


def _seed_text(frame: pl.DataFrame, key: str, candidates: Sequence[str]) -> dict[str, str]:
    """A text column of a matrix seed by key: the first of `candidates` the seed has."""
    column = next((c for c in candidates if c in frame.columns), None)
    if column is None:
        return {}
    return {str(k): str(v) for k, v in zip(frame[key], frame[column], strict=True) if v}


def build_maturity(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    context: GeographyContext,
    as_at: date,
) -> MaturityView | None:
    """The matrix for a neighbourhood, or an overview of the member neighbourhoods."""
    if "maturity_levels" not in tables:
        return None
    codes = (
        [context.scope.code]
        if context.scope.type == "neighbourhood"
        else [g.code for g in context.neighbourhoods]
    )
    levels = query_frame(
        con,
        f"select * from {tables['maturity_levels']} where list_contains(?, neighbourhood_code)",
        [codes],
    )
    if levels.is_empty():
        return None
    current, previous = choose_assessment_periods(levels["assessment_period"].to_list(), as_at)
    if current is None:
        return None
    domain_titles = _domain_titles(con, tables, levels["domain_id"].unique().to_list())
    if context.scope.type != "neighbourhood":
        return MaturityView(
            current, previous, (), domain_titles, _overview(levels, current, context, domain_titles)
        )
    statements: dict[str, str] = {}
    if "maturity_criteria" in tables:
        statements = _seed_text(
            query_frame(con, f"select * from {tables['maturity_criteria']}"),
            "criterion_id",
            ("statement", "description", "title", "criterion_text", "text", "rule"),
        )
    criteria = (
        query_frame(
            con,
            f"select * from {tables['maturity_criteria_results']} "
            "where neighbourhood_code = ? and assessment_period = ?",
            [context.scope.code, current],
        )
        if "maturity_criteria_results" in tables
        else pl.DataFrame()
    )
    by_domain: dict[str, list[CriterionView]] = {}
    for row in criteria.iter_rows(named=True):
        by_domain.setdefault(row["domain_id"], []).append(
            CriterionView(
                criterion_id=row["criterion_id"],
                level=int(row["level"]),
                kind=row["criterion_kind"],
                status=row["status"],
                statement=statements.get(row["criterion_id"], row["criterion_id"]),
                evidence_summary=row["evidence_summary"],
                metric_id=row["metric_id"],
                metric_value=_maybe_float(row["metric_value"]),
                threshold=None if row["threshold"] is None else str(row["threshold"]),
                is_met=bool(row["is_met"]),
            )
        )
    previous_levels = (
        {
            row["domain_id"]: int(row["level_achieved"])
            for row in levels.filter(pl.col("assessment_period") == previous).iter_rows(named=True)
        }
        if previous
        else {}
    )
    titles = dict(domain_titles)
    domains = []
    for row in levels.filter(pl.col("assessment_period") == current).iter_rows(named=True):
        achieved = int(row["level_achieved"])
        results = sorted(
            by_domain.get(row["domain_id"], []), key=lambda c: (c.level, c.criterion_id)
        )
        domains.append(
            DomainView(
                domain_id=row["domain_id"],
                title=titles.get(row["domain_id"], row["domain_id"]),
                level_achieved=achieved,
                level_name=row["level_name"] or LEVEL_NAMES.get(achieved, str(achieved)),
                self_assessed_level=_maybe_int(row["self_assessed_level"]),
                evidenced_level=_maybe_int(row["evidenced_level"]),
                has_discrepancy=bool(row["has_discrepancy"]),
                next_level_gaps=row["next_level_gaps"],
                previous_level=previous_levels.get(row["domain_id"]),
                evidence=tuple(c for c in results if c.level <= achieved and c.is_met),
                next_steps=tuple(c for c in results if c.level == achieved + 1 and not c.is_met),
            )
        )
    order = {domain_id: i for i, (domain_id, _) in enumerate(domain_titles)}
    domains.sort(key=lambda d: order.get(d.domain_id, len(order)))
    return MaturityView(current, previous, tuple(domains), domain_titles, ())


def _maybe_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _domain_titles(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str], present: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """Domains in the matrix's order with their titles (the spec's order by default)."""
    titles: dict[str, str] = {}
    seed_order: list[str] = []
    if "maturity_domains" in tables:
        seed = query_frame(con, f"select * from {tables['maturity_domains']}")
        for column in ("display_order", "sort_order", "domain_order"):
            if column in seed.columns:
                seed = seed.sort(column)
                break
        titles = _seed_text(seed, "domain_id", ("title", "domain_title", "name"))
        seed_order = [str(d) for d in seed["domain_id"]]
    spec_rank = {domain_id: i for i, domain_id in enumerate(seed_order or DOMAIN_ORDER)}
    ordered = sorted(present, key=lambda d: (spec_rank.get(d, len(spec_rank)), d))
    return tuple((d, titles.get(d, d.replace("_", " ").capitalize())) for d in ordered)


def _overview(
    levels: pl.DataFrame,
    period: str,
    context: GeographyContext,
    domain_titles: Sequence[tuple[str, str]],
) -> tuple[OverviewRow, ...]:
    current = levels.filter(pl.col("assessment_period") == period)
    cells = {
        (row["neighbourhood_code"], row["domain_id"]): (
            int(row["level_achieved"]),
            bool(row["has_discrepancy"]),
        )
        for row in current.iter_rows(named=True)
    }
    rows = []
    for neighbourhood in context.neighbourhoods:
        levels_row = tuple(
            cells.get((neighbourhood.code, d), (None, False)) for d, _ in domain_titles
        )
        if any(level is not None for level, _ in levels_row):
            rows.append(OverviewRow(neighbourhood, levels_row))
    return tuple(rows)


# ---------------------------------------------------------------- data quality


def build_data_quality(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    practices: Sequence[str],
    limit: int = 12,
) -> tuple[tuple[DataQualityRow, ...], int]:
    """Checks on the report's practices (and dataset-wide checks), most severe first."""
    if "data_quality" not in tables:
        return (), 0
    frame = query_frame(
        con,
        f"""
        select
            dataset,
            check_name,
            severity,
            count(*) as results,
            coalesce(sum(rows_affected), 0) as rows_affected,
            min(detail) as example,
        from {tables["data_quality"]}
        where practice_code is null or list_contains(?, practice_code)
        group by dataset, check_name, severity
        order by
            case severity when 'error' then 0 when 'warning' then 1 else 2 end,
            rows_affected desc, dataset, check_name
        """,
        [list(practices)],
    )
    rows = tuple(
        DataQualityRow(
            r["dataset"],
            r["check_name"],
            r["severity"],
            int(r["results"]),
            int(r["rows_affected"]),
            r["example"],
        )
        for r in frame.head(limit).iter_rows(named=True)
    )
    return rows, frame.height


# ---------------------------------------------------------------- key messages


def _figure_text(metric: Metric, figure: Figure) -> str:
    return f"{format_value(figure.value, metric.unit)}{unit_phrase(metric.unit)}"


class _References:
    """Numbers references in the order their messages appear."""

    def __init__(self) -> None:
        self.items: list[Reference] = []

    def add(
        self,
        mart: str,
        metric_id: str | None,
        periods: str,
        geography: Geography,
        breakdown: str = "all",
    ) -> Reference:
        reference = Reference(
            len(self.items) + 1,
            mart,
            metric_id,
            periods,
            f"{geography.type} {geography.code}",
            breakdown,
        )
        self.items.append(reference)
        return reference


def build_key_messages(
    sections: Sequence[Section],
    inequalities: Sequence[QuintileView],
    maturity: MaturityView | None,
    context: GeographyContext,
    limit: int = 10,
) -> tuple[KeyMessage, ...]:
    """Sentences drawn from the marts, each with a reference to the rows behind it.

    In order: significant improvements and concerns against a year before (largest relative
    change first, three of each), special-cause SPC signals at the latest month, figures
    worse than the parent geography, the widest significant deprivation gap, and maturity
    changes and discrepancies.
    """
    refs = _References()
    messages: list[KeyMessage] = []
    scope = context.scope
    summaries = [s for section in sections for s in section.summaries]

    def relative_change(s: MetricSummary) -> float:
        assert s.current.value is not None and s.year_before is not None
        before = s.year_before.value or 0.0
        return abs(s.current.value - before) / abs(before) if before else float("inf")

    mentioned: set[str] = set()
    for change, verb in (("improved", "improved"), ("worsened", "worsened")):
        chosen = sorted(
            (s for s in summaries if s.change == change), key=relative_change, reverse=True
        )[:3]
        for s in chosen:
            assert s.year_before is not None
            reference = refs.add(
                "disclosed_metric_values",
                s.metric.metric_id,
                f"{s.current.period_label} and {s.year_before.period_label}",
                scope,
            )
            text = (
                f"{sentence_case(s.metric.title)} {verb} from "
                f"{_figure_text(s.metric, s.year_before)} ({s.year_before.period_label}) to "
                f"{_figure_text(s.metric, s.current)} ({s.current.period_label}); "
                "the 95% confidence intervals do not overlap."
            )
            kind = "improvement" if change == "improved" else "concern"
            messages.append(KeyMessage(kind, text, reference))
            mentioned.add(s.metric.metric_id)
    signals = [
        s
        for s in summaries
        if s.spc is not None
        and s.spc.variation_icon
        and s.spc.variation_icon.split("_")[0] in ("improvement", "concern")
        and s.metric.metric_id not in mentioned
    ]
    signals.sort(
        key=lambda s: (
            not ((s.spc and s.spc.variation_icon) or "").startswith("concern"),
            s.metric.metric_id,
        )
    )
    for s in signals[:3]:
        assert s.spc is not None and s.spc.variation_icon is not None
        direction, side = s.spc.variation_icon.split("_")
        last = s.spc.points[-1]
        month = last.period_start.strftime("%Y-%m")
        reference = refs.add("disclosed_metric_spc", s.metric.metric_id, month, scope)
        word = "improvement" if direction == "improvement" else "concern"
        text = (
            f"{sentence_case(s.metric.title)} shows special-cause {word}: the latest month "
            f"({month}, {format_value(last.value, s.metric.unit)}{unit_phrase(s.metric.unit)})"
            f" is part of an unusually {side} pattern against its own history."
        )
        messages.append(
            KeyMessage("improvement" if word == "improvement" else "concern", text, reference)
        )
        mentioned.add(s.metric.metric_id)
    if context.parent is not None:
        parent = context.parent
        worse = [
            s
            for s in summaries
            if s.current.comparison_to_parent == "worse"
            and s.parent is not None
            and s.metric.metric_id not in mentioned
        ]
        for s in worse[:2]:
            assert s.parent is not None
            reference = refs.add(
                "disclosed_metric_values", s.metric.metric_id, s.current.period_label, scope
            )
            text = (
                f"{sentence_case(s.metric.title)} is worse than the {parent.type_label} "
                f"({parent.name}): {_figure_text(s.metric, s.current)} against "
                f"{_figure_text(s.metric, s.parent)} in {s.current.period_label}."
            )
            messages.append(KeyMessage("concern", text, reference))
    widest = _widest_gap(inequalities)
    if widest is not None:
        view, gap = widest
        q1 = view.quintiles[0][1]
        q5 = view.quintiles[4][1]
        assert q1 is not None and q5 is not None and gap.sii is not None
        assert gap.sii_lower_95 is not None and gap.sii_upper_95 is not None
        reference = refs.add(
            "disclosed_inequality_gaps",
            view.metric.metric_id,
            view.period_label,
            scope,
            "imd_quintile",
        )
        unit = view.metric.unit
        text = (
            f"People in the most deprived fifth of areas fare worse on "
            f"{in_sentence(view.metric.title)}: {_figure_text(view.metric, q1)} in quintile 1 "
            "against "
            f"{_figure_text(view.metric, q5)} in quintile 5 ({view.period_label}; slope index "
            f"of inequality {format_value(gap.sii, unit)}, 95% CI "
            f"{format_interval(gap.sii_lower_95, gap.sii_upper_95, unit)})."
        )
        messages.append(KeyMessage("inequality", text, reference))
    if maturity is not None:
        messages.extend(_maturity_messages(maturity, context, refs))
    return tuple(messages[:limit])


def _widest_gap(inequalities: Sequence[QuintileView]) -> tuple[QuintileView, GapRow] | None:
    """The metric where the most deprived fare significantly worse, by relative SII."""
    best: tuple[float, QuintileView, GapRow] | None = None
    for view in inequalities:
        gap = view.gap
        q1, q5 = view.quintiles[0][1], view.quintiles[4][1]
        if (
            gap is None
            or gap.sii is None
            or gap.sii_lower_95 is None
            or gap.sii_upper_95 is None
            or q1 is None
            or q5 is None
            or q1.value is None
            or q5.value is None
        ):
            continue
        polarity = view.metric.polarity
        deprived_worse = (polarity == "higher_is_better" and gap.sii_lower_95 > 0) or (
            polarity == "lower_is_better" and gap.sii_upper_95 < 0
        )
        if not deprived_worse:
            continue
        scale = abs(view.overall.value) if view.overall and view.overall.value else 1.0
        size = abs(gap.sii) / scale
        if best is None or size > best[0]:
            best = (size, view, gap)
    return None if best is None else (best[1], best[2])


def _maturity_messages(
    maturity: MaturityView, context: GeographyContext, refs: _References
) -> list[KeyMessage]:
    messages: list[KeyMessage] = []
    scope = context.scope
    if maturity.domains:
        changed = [
            d
            for d in maturity.domains
            if d.previous_level is not None and d.previous_level != d.level_achieved
        ]
        for domain in changed[:2]:
            assert maturity.previous_period is not None and domain.previous_level is not None
            verb = "rose" if domain.level_achieved > domain.previous_level else "fell"
            reference = refs.add(
                "maturity_levels",
                None,
                f"{maturity.previous_period} and {maturity.assessment_period}",
                scope,
                f"domain {domain.domain_id}",
            )
            text = (
                f"Maturity: the level achieved in {domain.title} {verb} from "
                f"{domain.previous_level} to {domain.level_achieved} "
                f"({LEVEL_NAMES.get(domain.level_achieved, domain.level_name)}) between "
                f"{maturity.previous_period} and {maturity.assessment_period}."
            )
            messages.append(KeyMessage("maturity", text, reference))
        over = [d for d in maturity.domains if d.has_discrepancy]
        if over:
            reference = refs.add(
                "maturity_levels", None, maturity.assessment_period, scope, "has_discrepancy"
            )
            names = ", ".join(d.title for d in over)
            text = (
                f"Maturity: self-assessment and metric evidence disagree in {len(over)} "
                f"{'domain' if len(over) == 1 else 'domains'} ({names}); these need "
                "calibration before levels are relied on."
            )
            messages.append(KeyMessage("maturity", text, reference))
    elif maturity.overview:
        flagged = [
            row.neighbourhood.name
            for row in maturity.overview
            if any(flag for _, flag in row.levels)
        ]
        if flagged:
            reference = refs.add(
                "maturity_levels", None, maturity.assessment_period, scope, "has_discrepancy"
            )
            text = (
                f"Maturity: {len(flagged)} of {len(maturity.overview)} neighbourhoods have at "
                "least one domain where self-assessment and metric evidence disagree "
                f"({', '.join(flagged)})."
            )
            messages.append(KeyMessage("maturity", text, reference))
    return messages


# ---------------------------------------------------------------- the whole report


def _geography_keys(geographies: Iterable[Geography | None]) -> pl.LazyFrame:
    wanted = {(g.type, g.code) for g in geographies if g is not None}
    return pl.LazyFrame(
        {"geography_type": [t for t, _ in wanted], "geography_code": [c for _, c in wanted]},
        schema={"geography_type": pl.String, "geography_code": pl.String},
    )


def _rows_shown(disclosed: pl.LazyFrame, context: GeographyContext, as_at: date) -> pl.DataFrame:
    """The disclosure-controlled rows a report can print, picked set-based before any row
    becomes a Python object: every breakdown of the scope; the whole-population rows of its
    parent and ICB; and of its peers, the benchmarked metrics only. Rows ending after the
    report period are never shown."""
    on = ["geography_type", "geography_code"]
    current = disclosed.filter(pl.col("period_end") <= as_at)
    whole = current.filter(
        (pl.col("breakdown_type") == "all") & (pl.col("breakdown_value") == "all")
    )
    parts = [
        current.join(_geography_keys([context.scope]), on=on, how="semi"),
        whole.join(_geography_keys([context.parent, context.icb]), on=on, how="semi"),
        whole.filter(pl.col("metric_id").is_in(BENCHMARK_PRIORITY)).join(
            _geography_keys(context.peers), on=on, how="semi"
        ),
    ]
    return pl.concat(parts).unique(
        ["metric_id", "period_grain", "period_start", *on, "breakdown_type", "breakdown_value"],
        maintain_order=True,
    ).collect()


def disclosure_settings(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]
) -> tuple[int, int]:
    """The threshold and rounding the warehouse was built with (raw.build_info's vars, read
    as publish reads them), else the defaults; only for the report's words on withholding."""
    if "build_info" not in tables:
        return settings_from_build_vars(None)
    row = query_one(con, f"select value from {tables['build_info']} where key = 'vars'")
    return settings_from_build_vars(None if row is None else row[0])


def build_report(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    disclosed: pl.LazyFrame,
    scope: tuple[str, str],
    period: ReportPeriod,
    generated_on: date,
) -> ReportData:
    """Every section of one report, from the marts and the disclosure-controlled values."""
    catalogue = load_catalogue(con, tables)
    context = geography_context(con, tables, scope, period.end)
    scope_rows = disclosed.filter(
        (pl.col("geography_type") == context.scope.type)
        & (pl.col("geography_code") == context.scope.code)
    ).collect()
    index = FigureIndex(
        (_figure(r) for r in _rows_shown(disclosed, context, period.end).iter_rows(named=True)),
        period.end,
    )
    produced = set(disclosed.select("metric_id").unique().collect()["metric_id"].to_list())
    spc = load_spc(con, tables, context.scope, period.end, catalogue)
    sections = build_sections(catalogue, index, context, spc, produced)
    inequalities, gaps = build_inequalities(con, tables, catalogue, index, context.scope)
    threshold, rounding = disclosure_settings(con, tables)
    maturity = build_maturity(con, tables, context, period.end)
    benchmarks = build_benchmarks(catalogue, index, context)
    dq_rows, dq_total = build_data_quality(con, tables, context.practices)
    return ReportData(
        context=context,
        period=period,
        generated_on=generated_on,
        key_messages=build_key_messages(sections, inequalities, maturity, context),
        sections=sections,
        maturity=maturity,
        inequalities=inequalities,
        gaps=gaps,
        benchmarks=benchmarks,
        data_quality=dq_rows,
        data_quality_total=dq_total,
        has_data_quality="data_quality" in tables,
        not_produced=tuple(m for m in catalogue.values() if m.metric_id not in produced),
        suppressed_cells=int(
            scope_rows.filter(pl.col("period_end") <= period.end)["is_suppressed"].sum()
        ),
        disclosure_threshold=threshold,
        disclosure_rounding=rounding,
    )
