"""`nbhd report`: board reports as tagged, accessible PDF (or HTML) from the warehouse marts.

One report per neighbourhood, at-scale provider, place or ICB. `--all` renders every one in
parallel across processes; a report that fails is listed at the end and does not stop the
others. Reports read the disclosed marts and the judgement marts, in which the build has
already applied disclosure control and made every judgement; nothing here decides either.
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
from typing import IO

import polars as pl

from metrics_cli.errors import NbhdError, UsageError
from metrics_cli.files import atomic_path
from metrics_cli.report.figures import (
    geography_context,
    list_scopes,
    load_disclosed_metric_values,
    resolve_period,
)
from metrics_cli.report.html import STATIC_DIR, render_html
from metrics_cli.report.pdf import write_pdf
from metrics_cli.report.sections import build_report
from metrics_cli.report.views import ReportPeriod
from metrics_cli.warehouse import open_warehouse

FORMATS = ("pdf", "html")


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
    with open_warehouse(warehouse) as wh:
        report = build_report(wh, disclosed, scope, period, generated_on)
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
    with open_warehouse(warehouse) as wh:
        report_period = resolve_period(wh, period)
        disclosed = load_disclosed_metric_values(wh, icb_codes)
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
    with open_warehouse(warehouse) as wh:
        report_period = resolve_period(wh, period)
        if scope is None:
            scopes = list_scopes(wh, report_period.end)
            icb_codes: list[str] | None = None
        else:
            context = geography_context(wh, scope, report_period.end)
            scopes = [scope]
            icb_codes = [context.icb.code] if context.icb is not None else None
    if not scopes:
        raise UsageError("the warehouse holds no neighbourhoods, providers, places or ICBs")
    return render_scopes(warehouse, out, scopes, fmt, period, icb_codes=icb_codes)
