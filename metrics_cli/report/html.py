"""A report as HTML: the Jinja2 templates (autoescape on) with the report's charts inline
as SVG, and the filters that print the marts' values and judgements in words."""

from __future__ import annotations

import functools
from datetime import date

import jinja2
from markupsafe import Markup

from metrics_cli.report import charts
from metrics_cli.report.text import (
    CHANGE_LABELS,
    COMPARISON_LABELS,
    WITHHELD,
    format_count,
    format_interval,
    format_value,
    value_decimals,
)
from metrics_cli.report.views import (
    BenchmarkView,
    MaturityView,
    QuintileView,
    ReportData,
    SpcView,
)
from metrics_cli.settings import PROJECT_DIR

TEMPLATES_DIR = PROJECT_DIR / "reports" / "templates"
STATIC_DIR = PROJECT_DIR / "reports" / "static"


def _article(noun: str) -> str:
    """`a neighbourhood`, `an ICB`, `an at-scale provider`."""
    return f"an {noun}" if noun[:1].lower() in "aeio" or noun.startswith("ICB") else f"a {noun}"


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B %Y')}"


def _unit_suffix(unit: str) -> str:
    return "%" if unit == "%" else ""


def _spc_svg(view: SpcView) -> Markup:
    unit = view.metric.unit
    return Markup(
        charts.spc_chart(
            view.metric.title, view.points, value_decimals(unit), _unit_suffix(unit), view.target
        )
    )


def _spc_text(view: SpcView) -> str:
    unit = view.metric.unit
    return charts.spc_summary(view.points, value_decimals(unit), _unit_suffix(unit), view.target)


def _quintile_svg(view: QuintileView) -> Markup:
    bars = []
    for label, figure in view.quintiles:
        short = "Q" + label.split()[1]
        if figure is not None and figure.is_suppressed:
            bars.append(charts.Bar(short, None, None, None, WITHHELD))
        elif figure is None or figure.value is None:
            bars.append(charts.Bar(short, None, None, None))
        else:
            bars.append(charts.Bar(short, figure.value, figure.lower_95, figure.upper_95))
    overall = view.overall.value if view.overall is not None else None
    unit = view.metric.unit
    return Markup(
        charts.bar_chart(
            f"{view.metric.title} by deprivation quintile, {view.period_label}",
            bars,
            value_decimals(unit),
            _unit_suffix(unit),
            overall,
        )
    )


def _caterpillar_units(view: BenchmarkView) -> list[charts.CaterpillarUnit]:
    """Each unit with metric_judgements.comparison_to_icb, its mark against the ICB's line."""
    return [
        charts.CaterpillarUnit(
            geo.name,
            figure.value,
            figure.lower_95,
            figure.upper_95,
            figure.comparison_to_icb,
            geo.code == view.subject_code,
        )
        for geo, figure in view.units
        if figure.value is not None
    ]


def _benchmark_svg(view: BenchmarkView) -> Markup:
    unit = view.metric.unit
    assert view.reference.value is not None
    return Markup(
        charts.caterpillar_chart(
            f"{view.metric.title}, {view.period_label}",
            _caterpillar_units(view),
            view.reference.value,
            view.reference_geography.name,
            value_decimals(unit),
            _unit_suffix(unit),
        )
    )


def _benchmark_text(view: BenchmarkView) -> str:
    """The plot in one sentence: how many units sit above, below and around the ICB."""
    assert view.reference.value is not None
    units = _caterpillar_units(view)
    verdicts = [u.comparison for u in units]
    reference = format_value(view.reference.value, view.metric.unit)
    return (
        f"{len(units)} units against {view.reference_geography.name} ({reference}): "
        f"{verdicts.count('higher')} significantly higher, {verdicts.count('lower')} "
        f"significantly lower, {verdicts.count('similar')} similar"
        + (
            f", {verdicts.count('not_compared')} without limits"
            if "not_compared" in verdicts
            else ""
        )
        + "."
    )


def _maturity_svg(view: MaturityView, name: str) -> Markup:
    rows = [
        charts.MaturityRow(
            d.title, d.level_achieved, d.self_assessed_level, d.evidenced_level, d.has_discrepancy
        )
        for d in view.domains
    ]
    return Markup(
        charts.maturity_grid(f"Maturity matrix for {name}, {view.assessment_period}", rows)
    )


@functools.cache
def template_environment() -> jinja2.Environment:
    """Jinja2 with autoescape on for every template: data never becomes markup.

    Made once per process, so each template is compiled once, not once per report."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        value=format_value,
        interval=format_interval,
        count=format_count,
        change_label=lambda change: CHANGE_LABELS.get(change, change),
        comparison_label=lambda comparison: COMPARISON_LABELS.get(comparison, comparison),
        long_date=_long_date,
        article=_article,
    )
    environment.globals.update(
        spc_svg=_spc_svg,
        spc_text=_spc_text,
        quintile_svg=_quintile_svg,
        benchmark_svg=_benchmark_svg,
        benchmark_text=_benchmark_text,
        maturity_svg=_maturity_svg,
        variation_svg=lambda kind, size=26: Markup(charts.variation_icon(kind, size)),
        assurance_svg=lambda kind, size=26: Markup(charts.assurance_icon(kind, size)),
        legend_svg=lambda kind: Markup(charts.legend_marker(kind)),
        chart_limit=2,
        withheld=WITHHELD,
    )
    return environment


def tally(report: ReportData) -> dict[str, int]:
    """The counts on the summary page: changes on a year before and SPC signals."""
    summaries = [s for section in report.sections for s in section.summaries]
    return {
        "improved": sum(s.change == "improved" for s in summaries),
        "worsened": sum(s.change == "worsened" for s in summaries),
        "signals": sum(
            s.spc is not None and s.spc.variation_icon not in (None, "common_cause")
            for s in summaries
        ),
    }


def render_html(report: ReportData, static_prefix: str = "", link_stylesheet: bool = True) -> str:
    """The report as one HTML document; `static_prefix` locates print.css and the fonts.

    A PDF is rendered without the `<link>`: `write_pdf` gives WeasyPrint the parsed
    stylesheet instead."""
    template = template_environment().get_template("report.html.j2")
    return template.render(
        report=report,
        static_prefix=static_prefix,
        link_stylesheet=link_stylesheet,
        tally=tally(report),
    )
