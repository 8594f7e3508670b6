"""The sections of a report assembled from the figures: headline tables by metric family,
continuity cohorts, inequalities, benchmarking, the maturity matrix, data quality, and the
whole `ReportData`. Judgements are the marts' columns; this module only picks rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from metrics_cli.report.figures import (
    DisclosedValues,
    FigureIndex,
    _figure,
    _maybe_float,
    _rows_shown,
    disclosure_settings,
    geography_context,
    in_geographies,
    load_catalogue,
    load_gaps,
    load_spc,
)
from metrics_cli.report.key_messages import build_key_messages
from metrics_cli.report.text import COHORT_LABELS, LEVEL_NAMES, QUINTILE_LABELS
from metrics_cli.report.views import (
    BENCHMARK_LIMIT,
    BENCHMARK_PRIORITY,
    DOMAIN_ORDER,
    FAMILIES,
    GRAIN_ORDER,
    BenchmarkView,
    CohortRow,
    CriterionView,
    DataQualityRow,
    DomainView,
    GapRow,
    Geography,
    GeographyContext,
    MaturityView,
    Metric,
    MetricSummary,
    OverviewRow,
    QuintileView,
    ReportData,
    ReportPeriod,
    Section,
    SpcView,
)
from metrics_cli.warehouse import Warehouse


def build_sections(
    catalogue: Mapping[str, Metric],
    index: FigureIndex,
    context: GeographyContext,
    spc: Mapping[str, SpcView],
    produced: frozenset[str],
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
            summaries.append(
                MetricSummary(
                    metric=metric,
                    current=current,
                    parent=index.matching(current, context.parent, ("all", "all"))
                    if context.parent
                    else None,
                    icb=index.matching(current, context.icb, ("all", "all"))
                    if context.icb and context.icb != context.scope
                    else None,
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
    wh: Warehouse,
    catalogue: Mapping[str, Metric],
    index: FigureIndex,
    scope: Geography,
) -> tuple[tuple[QuintileView, ...], tuple[tuple[Metric, GapRow], ...]]:
    """Values by IMD quintile for each metric that has them, with the inequality_gaps row.

    Each metric shows its latest non-monthly period with quintile rows (SII is only made
    for non-monthly grains), else its latest month.
    """
    gaps = load_gaps(wh, scope)
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


def _seed_text(frame: pl.DataFrame, key: str, candidates: Sequence[str]) -> dict[str, str]:
    """A text column of a matrix seed by key: the first of `candidates` the seed has."""
    column = next((c for c in candidates if c in frame.columns), None)
    if column is None:
        return {}
    return {str(k): str(v) for k, v in zip(frame[key], frame[column], strict=True) if v}


def assessment_periods(wh: Warehouse, as_at: date) -> tuple[str | None, str | None]:
    """The latest assessment period ending on or before `as_at` and the one before it, from
    the `assessment_periods` mart (the calendar of macros/maturity.sql)."""
    if not wh.has("assessment_periods"):
        return None, None
    row = wh.one(
        f"select assessment_period, previous_period from {wh.relation('assessment_periods')} "
        "where period_end <= ? order by period_end desc limit 1",
        [as_at],
    )
    return (None, None) if row is None else (row[0], row[1])


def build_maturity(wh: Warehouse, context: GeographyContext, as_at: date) -> MaturityView | None:
    """The matrix for a neighbourhood, or an overview of the member neighbourhoods."""
    if not wh.has("maturity_levels"):
        return None
    codes = (
        [context.scope.code]
        if context.scope.type == "neighbourhood"
        else [g.code for g in context.neighbourhoods]
    )
    levels = wh.frame(
        f"select * from {wh.relation('maturity_levels')} "
        "where list_contains(?, neighbourhood_code)",
        [codes],
    )
    current, previous = assessment_periods(wh, as_at)
    if current is None or levels.filter(pl.col("assessment_period") == current).is_empty():
        return None
    domain_titles = _domain_titles(wh, levels["domain_id"].unique().to_list())
    if context.scope.type != "neighbourhood":
        return MaturityView(
            current, previous, (), domain_titles, _overview(levels, current, context, domain_titles)
        )
    statements: dict[str, str] = {}
    if wh.has("maturity_criteria"):
        statements = _seed_text(
            wh.read("maturity_criteria"),
            "criterion_id",
            ("statement", "description", "title", "criterion_text", "text", "rule"),
        )
    criteria = (
        wh.frame(
            f"select * from {wh.relation('maturity_criteria_results')} "
            "where neighbourhood_code = ? and assessment_period = ?",
            [context.scope.code, current],
        )
        if wh.has("maturity_criteria_results")
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


def _domain_titles(wh: Warehouse, present: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Domains in the matrix's order with their titles (the spec's order by default)."""
    titles: dict[str, str] = {}
    seed_order: list[str] = []
    if wh.has("maturity_domains"):
        seed = wh.read("maturity_domains")
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


def build_data_quality(
    wh: Warehouse,
    practices: Sequence[str],
    limit: int = 12,
) -> tuple[tuple[DataQualityRow, ...], int]:
    """Checks on the report's practices (and dataset-wide checks), most severe first."""
    if not wh.has("data_quality"):
        return (), 0
    frame = wh.frame(
        f"""
        select
            dataset,
            check_name,
            severity,
            count(*) as results,
            coalesce(sum(rows_affected), 0) as rows_affected,
            min(detail) as example,
        from {wh.relation("data_quality")}
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


def build_report(
    wh: Warehouse,
    disclosed: DisclosedValues,
    scope: tuple[str, str],
    period: ReportPeriod,
    generated_on: date,
) -> ReportData:
    """Every section of one report, from the marts and the disclosure-controlled values."""
    catalogue = load_catalogue(wh)
    context = geography_context(wh, scope, period.end)
    shown = _rows_shown(disclosed, context, period.end)
    index = FigureIndex((_figure(r) for r in shown.iter_rows(named=True)), period.end)
    produced = disclosed.produced
    spc = load_spc(wh, context.scope, period.end, catalogue)
    sections = build_sections(catalogue, index, context, spc, produced)
    inequalities, gaps = build_inequalities(wh, catalogue, index, context.scope)
    threshold, rounding = disclosure_settings(wh)
    maturity = build_maturity(wh, context, period.end)
    benchmarks = build_benchmarks(catalogue, index, context)
    dq_rows, dq_total = build_data_quality(wh, context.practices)
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
        has_data_quality=wh.has("data_quality"),
        not_produced=tuple(m for m in catalogue.values() if m.metric_id not in produced),
        # every row of the scope up to the period end is among the rows shown
        suppressed_cells=int(shown.filter(in_geographies([context.scope]))["is_suppressed"].sum()),
        disclosure_threshold=threshold,
        disclosure_rounding=rounding,
    )
