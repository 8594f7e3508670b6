"""The executive summary's key messages: sentences drawn from the marts' rows and their
judgement columns (metric_judgements, inequality_judgements, disclosed_metric_spc,
maturity_levels), each with a reference to the rows behind it."""

from __future__ import annotations

from collections.abc import Sequence

from metrics_cli.report.text import (
    LEVEL_NAMES,
    format_interval,
    format_value,
    in_sentence,
    sentence_case,
    unit_phrase,
)
from metrics_cli.report.views import (
    Figure,
    GapRow,
    Geography,
    GeographyContext,
    KeyMessage,
    MaturityView,
    Metric,
    MetricSummary,
    QuintileView,
    Reference,
    Section,
    YearBefore,
)


def _figure_text(metric: Metric, figure: Figure | YearBefore) -> str:
    return f"{format_value(figure.value, metric.unit)}{unit_phrase(metric.unit)}"


def _has_year_before(s: MetricSummary) -> bool:
    """Whether the message can quote both figures (an SPC-based change may have none a
    year before)."""
    return (
        s.current.value is not None
        and s.year_before is not None
        and s.year_before.value is not None
    )


def _change_basis(s: MetricSummary) -> str:
    """What the change in metric_judgements rests on, in words: the macro
    change_from_year_before counts a special-cause SPC point first, then the limits."""
    if s.current.spc_point_type in ("special_cause_improvement", "special_cause_concern"):
        return "the SPC chart shows special-cause variation in the latest month"
    if s.current.has_interval and s.year_before is not None and s.year_before.has_interval:
        return "the 95% confidence intervals do not overlap"
    return "these figures have no confidence intervals"


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
            (s for s in summaries if s.change == change and _has_year_before(s)),
            key=relative_change,
            reverse=True,
        )[:3]
        for s in chosen:
            assert s.year_before is not None
            reference = refs.add(
                "metric_judgements",
                s.metric.metric_id,
                f"{s.current.period_label} and {s.year_before.period_label}",
                scope,
            )
            text = (
                f"{sentence_case(s.metric.title)} {verb} from "
                f"{_figure_text(s.metric, s.year_before)} ({s.year_before.period_label}) to "
                f"{_figure_text(s.metric, s.current)} ({s.current.period_label}); "
                f"{_change_basis(s)}."
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
    """The gap against the most deprived (inequality_judgements.gap_direction
    `deprived_worse`) that inequality_judgements.relative_gap ranks widest, among the
    metrics the report shows by quintile."""
    best: tuple[float, QuintileView, GapRow] | None = None
    for view in inequalities:
        gap = view.gap
        q1, q5 = view.quintiles[0][1], view.quintiles[4][1]
        if (
            gap is None
            or gap.gap_direction != "deprived_worse"
            or gap.relative_gap is None
            or q1 is None
            or q5 is None
            or q1.value is None
            or q5.value is None
        ):
            continue
        if best is None or gap.relative_gap > best[0]:
            best = (gap.relative_gap, view, gap)
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
