"""`nbhd report`: board reports as tagged, accessible PDF (or HTML) from the warehouse marts.

One report per neighbourhood, at-scale provider, place or ICB. `--all` renders every one in
parallel across processes; a report that fails is listed at the end and does not stop the
others. Reports read the disclosed marts, in which the build has already applied disclosure
control; nothing here decides what to withhold.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import jinja2
import polars as pl
from markupsafe import Markup

from metrics_cli import charts
from metrics_cli.errors import NbhdError, UsageError
from metrics_cli.files import atomic_path
from metrics_cli.report_data import (
    CHANGE_LABELS,
    COMPARISON_LABELS,
    WITHHELD,
    BenchmarkView,
    MaturityView,
    QuintileView,
    ReportData,
    ReportPeriod,
    SpcView,
    build_report,
    connect,
    format_count,
    format_interval,
    format_value,
    geography_context,
    list_scopes,
    load_disclosed_metric_values,
    locate_tables,
    resolve_period,
    value_decimals,
)
from metrics_cli.settings import PROJECT_DIR

TEMPLATES_DIR = PROJECT_DIR / "reports" / "templates"
STATIC_DIR = PROJECT_DIR / "reports" / "static"
FORMATS = ("pdf", "html")
PDF_VARIANT = "pdf/ua-1"


@dataclass(frozen=True)
class RenderedReport:
    """One report written: where, how many pages, how long it took."""

    scope: tuple[str, str]
    path: Path
    pages: int | None
    seconds: float


@dataclass(frozen=True)
class RenderFailure:
    """One report that could not be written, and why."""

    scope: tuple[str, str]
    message: str


@dataclass(frozen=True)
class RenderOutcome:
    """Every report written and every failure."""

    reports: tuple[RenderedReport, ...]
    failures: tuple[RenderFailure, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        lines = []
        for report in sorted(self.reports, key=lambda r: r.path):
            pages = f", {report.pages} pages" if report.pages is not None else ""
            lines.append(f"wrote {report.path} ({report.seconds:.1f} s{pages})")
        for failure in sorted(self.failures, key=lambda f: f.scope):
            kind, code = failure.scope
            lines.append(f"FAILED {kind} {code}: {failure.message}")
        lines.append(
            f"{len(self.reports)} written, {len(self.failures)} failed in {self.seconds:.1f} s"
        )
        return "\n".join(lines)


# ---------------------------------------------------------------- templates


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
    return [
        charts.CaterpillarUnit(
            geo.name, figure.value, figure.lower_95, figure.upper_95, geo.code == view.subject_code
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
    verdicts = [charts.compare_to_reference(u, view.reference.value) for u in units]
    reference = format_value(view.reference.value, view.metric.unit)
    return (
        f"{len(units)} units against {view.reference_geography.name} ({reference}): "
        f"{verdicts.count('higher')} significantly higher, {verdicts.count('lower')} "
        f"significantly lower, {verdicts.count('similar')} similar"
        + (
            f", {verdicts.count('not compared')} without limits"
            if "not compared" in verdicts
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


@functools.cache
def print_styles() -> tuple[Any, Any]:
    """print.css parsed, and its fonts loaded, once per process: (stylesheet, font config).

    Every report of a process shares them, so the CSS is not parsed, nor the @font-face
    fonts registered with fontconfig, once per report."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    stylesheet = CSS(
        filename=str(STATIC_DIR / "print.css"), base_url=f"{STATIC_DIR}/", font_config=font_config
    )
    return stylesheet, font_config


def write_pdf(html: str, path: Path) -> int:
    """A tagged PDF/UA-1 file from the HTML (rendered without its stylesheet link); returns
    the page count."""
    from weasyprint import HTML

    stylesheet, font_config = print_styles()
    document = HTML(string=html, base_url=f"{STATIC_DIR}/").render(
        stylesheets=[stylesheet], font_config=font_config
    )
    document.write_pdf(path, pdf_variant=PDF_VARIANT)
    return len(document.pages)


def report_filename(scope: tuple[str, str], fmt: str) -> str:
    """`neighbourhood_N01.pdf`; characters unsafe in file names become `_`."""
    kind, code = scope
    return f"{kind}_{re.sub(r'[^A-Za-z0-9_.-]', '_', code)}.{fmt}"


# ---------------------------------------------------------------- rendering


def render_one(
    warehouse: Path,
    out: Path,
    scope: tuple[str, str],
    fmt: str,
    period: ReportPeriod,
    disclosed: pl.LazyFrame,
    generated_on: date,
) -> RenderedReport:
    """Build and write one report."""
    started = time.perf_counter()
    with connect(warehouse) as con:
        tables = locate_tables(con)
        report = build_report(con, tables, disclosed, scope, period, generated_on)
    path = out / report_filename(scope, fmt)
    pages: int | None = None
    with atomic_path(path) as temporary:  # a failed report leaves the previous one whole
        if fmt == "pdf":
            pages = write_pdf(render_html(report, link_stylesheet=False), temporary)
        else:
            temporary.write_text(render_html(report, static_prefix="static/"), encoding="utf-8")
    return RenderedReport(scope, path, pages, time.perf_counter() - started)


@dataclass(frozen=True)
class _Job:
    warehouse: Path
    out: Path
    scope: tuple[str, str]
    fmt: str
    period: ReportPeriod
    disclosed_path: Path
    generated_on: date


@functools.lru_cache(maxsize=1)
def _worker_disclosed(path: Path) -> pl.DataFrame:
    """The shared disclosure-controlled values, read once per worker process."""
    return pl.read_parquet(path)


def _run_job(job: _Job) -> RenderedReport:
    """A worker process's task: one report from the shared disclosure-controlled values."""
    disclosed = _worker_disclosed(job.disclosed_path).lazy()
    return render_one(
        job.warehouse, job.out, job.scope, job.fmt, job.period, disclosed, job.generated_on
    )


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _failure_message(error: BaseException) -> str:
    if isinstance(error, NbhdError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class Progress:
    """A one-line progress bar on a stream (stderr by default)."""

    def __init__(self, total: int, stream: IO[str] | None = None, width: int = 30) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.width = width

    def advance(self, label: str) -> None:
        self.done += 1
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\rreports [{bar}] {self.done}/{self.total} {label:<40.40}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def render_scopes(
    warehouse: Path,
    out: Path,
    scopes: Sequence[tuple[str, str]],
    fmt: str,
    period: str | None = None,
    workers: int | None = None,
    icb_codes: Sequence[str] | None = None,
    progress_stream: IO[str] | None = None,
) -> RenderOutcome:
    """Render the given reports; several run in parallel processes.

    The disclosure-controlled values of `icb_codes` (all when None) are read once here;
    each report then reads them. A failing report is recorded, not raised.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    started = time.perf_counter()
    generated_on = date.today()
    with connect(warehouse) as con:
        tables = locate_tables(con)
        report_period = resolve_period(con, tables, period)
        disclosed = load_disclosed_metric_values(con, tables, icb_codes)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        shutil.copytree(STATIC_DIR, out / "static", dirs_exist_ok=True)
    progress = Progress(len(scopes), progress_stream)
    reports: list[RenderedReport] = []
    failures: list[RenderFailure] = []
    pool_size = min(workers or available_cores(), len(scopes))
    if pool_size <= 1:
        for scope in scopes:
            try:
                reports.append(
                    render_one(
                        warehouse, out, scope, fmt, report_period, disclosed.lazy(), generated_on
                    )
                )
            except Exception as error:  # one failing report must not stop the others
                failures.append(RenderFailure(scope, _failure_message(error)))
            progress.advance(" ".join(scope))
        return RenderOutcome(tuple(reports), tuple(failures), time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="nbhd-report-") as scratch:
        disclosed_path = Path(scratch) / "metric_values_disclosed.parquet"
        disclosed.write_parquet(disclosed_path)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=pool_size, mp_context=context) as pool:
            futures: dict[Future[RenderedReport], tuple[str, str]] = {
                pool.submit(
                    _run_job,
                    _Job(warehouse, out, scope, fmt, report_period, disclosed_path, generated_on),
                ): scope
                for scope in scopes
            }
            for future in as_completed(futures):
                scope = futures[future]
                try:
                    reports.append(future.result())
                except Exception as error:  # one failing report must not stop the others
                    failures.append(RenderFailure(scope, _failure_message(error)))
                progress.advance(" ".join(scope))
    return RenderOutcome(tuple(reports), tuple(failures), time.perf_counter() - started)


def render_reports(
    warehouse: Path,
    out: Path,
    scope: tuple[str, str] | None,
    fmt: str,
    period: str | None,
) -> RenderOutcome:
    """`nbhd report`: one report for `scope`, or every report when scope is None (`--all`)."""
    with connect(warehouse) as con:
        tables = locate_tables(con)
        report_period = resolve_period(con, tables, period)
        if scope is None:
            scopes = list_scopes(con, tables, report_period.end)
            icb_codes: list[str] | None = None
        else:
            context = geography_context(con, tables, scope, report_period.end)
            scopes = [scope]
            icb_codes = [context.icb.code] if context.icb is not None else None
    if not scopes:
        raise UsageError("the warehouse holds no neighbourhoods, providers, places or ICBs")
    return render_scopes(warehouse, out, scopes, fmt, period, icb_codes=icb_codes)
