"""The plain data a report prints: dataclasses the templates read, filled from the marts
by `figures` and `sections`. Nothing here reads the warehouse or decides a judgement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from metrics_cli.disclosure import DEFAULT_ROUNDING, DEFAULT_THRESHOLD, withheld_reasons
from metrics_cli.report.charts import SpcPoint
from metrics_cli.report.text import GEOGRAPHY_LABELS, sentence_case

SCOPE_TYPES = ("neighbourhood", "provider", "place", "icb")
GRAIN_ORDER = {"rolling_12m": 0, "financial_year": 1, "survey_wave": 2, "census": 3, "month": 4}
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


class _Shown:
    """What a printed figure says of itself: shown, withheld or not calculated, and whether
    it has limits."""

    value: float | None
    lower_95: float | None
    upper_95: float | None
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
class YearBefore(_Shown):
    """The figure a year before, as metric_judgements names it (disclosed values only)."""

    period_label: str
    value: float | None
    lower_95: float | None
    upper_95: float | None
    is_suppressed: bool


@dataclass(frozen=True)
class Figure(_Shown):
    """One disclosed_metric_values row with its metric_judgements columns."""

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
    change_from_year_before: str = "not_comparable"
    comparison_to_icb: str = "not_compared"
    spc_point_type: str | None = None
    year_before: YearBefore | None = None


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
    parent: Figure | None
    icb: Figure | None
    spc: SpcView | None

    @property
    def year_before(self) -> YearBefore | None:
        return self.current.year_before

    @property
    def change(self) -> str:
        """metric_judgements.change_from_year_before of the latest figure."""
        return self.current.change_from_year_before


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
    """One disclosed_inequality_gaps row with its inequality_judgements columns."""

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
    gap_direction: str = "not_compared"
    relative_gap: float | None = None

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
