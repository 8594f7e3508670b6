"""`nbhd report`: board reports as tagged, accessible PDF (or HTML) from the warehouse marts.

One report per neighbourhood, at-scale provider, place or ICB. `--all` renders every one in
parallel across processes; a report that fails is listed at the end and does not stop the
others. Reports read the disclosed marts and the judgement marts, in which the build has
already applied disclosure control and made every judgement; nothing here decides either.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import re
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import IO

from metrics_cli.errors import NbhdError, UsageError
from metrics_cli.files import (
    atomic_path,
    check_not_input,
    check_replaceable,
    file_lock,
    is_locked,
    is_owned,
    missing_directories,
    recorded_files,
    refuse_unwritable,
    remove_empty_directories,
    swap_directory,
    write_files_manifest,
)
from metrics_cli.report.figures import (
    DisclosedValues,
    geography_context,
    list_scopes,
    load_disclosed_metric_values,
    resolve_period,
    write_for_workers,
)
from metrics_cli.report.html import STATIC_DIR, render_html
from metrics_cli.report.pdf import write_pdf
from metrics_cli.report.sections import build_report
from metrics_cli.report.views import SCOPE_TYPES, ReportPeriod
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
    """`neighbourhood_N01.pdf`. A code that is not safe as it stands in a file name (a `/`,
    `..` alone, spaces, letters outside ASCII, more than 64 characters) has those characters
    made `_`, is cut to 64 and gets the start of its sha256, so two codes never share a
    file (`N/1` and `N_1`) and no name is too long for the file system."""
    kind, code = scope
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", code)
    if safe != code or len(code) > _LONGEST_CODE or not safe.strip("."):
        digest = hashlib.sha256(code.encode("utf-8")).hexdigest()[:8]
        safe = f"{safe[:_LONGEST_CODE]}-{digest}"
    return f"{kind}_{safe}.{fmt}"


_LONGEST_CODE = 64


# ---------------------------------------------------------------- rendering


def render_one(
    warehouse: Path,
    out: Path,
    scope: tuple[str, str],
    fmt: str,
    period: ReportPeriod,
    disclosed: DisclosedValues,
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
def _worker_disclosed(path: Path) -> DisclosedValues:
    """The shared disclosure-controlled values, opened once per worker process."""
    return DisclosedValues.from_parquet(path)


def _run_job(job: _Job) -> RenderedReport:
    """A worker process's task: one report from the shared disclosure-controlled values."""
    disclosed = _worker_disclosed(job.disclosed_path)
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

    def stop(self) -> None:
        """End a bar left part-drawn (the run was stopped), so what follows starts a line."""
        if 0 < self.done < self.total:
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
    """Render the given reports into `out`, a directory `nbhd report` owns; several run in
    parallel processes.

    The disclosure-controlled values of `icb_codes` (all when None) are read once here;
    each report then reads them. A failing report is recorded, not raised. Reports are
    written in a staging folder inside `out` and moved in one by one when complete; a
    signal stops the workers at once and removes the staging folder."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    started = time.perf_counter()
    generated_on = date.today()
    with open_warehouse(warehouse) as wh:
        report_period = resolve_period(wh, period)
        disclosed = load_disclosed_metric_values(wh, icb_codes)
    names = {scope: report_filename(scope, fmt) for scope in scopes}
    progress = Progress(len(scopes), progress_stream)
    reports: list[RenderedReport] = []
    failures: list[RenderFailure] = []

    def entry(scope: tuple[str, str]) -> dict[str, object]:
        kind, code = scope
        return {"kind": kind, "code": code, "format": fmt, "period": report_period.label}

    written = [*names.values(), *([STATIC] if fmt == "html" else [])]
    with owned_output(out, warehouse, written) as dest, _ends_bar(progress):
        if fmt == "html":
            shutil.copytree(STATIC_DIR, dest.staging / STATIC)
            dest.move_in(STATIC, {"format": "html", "holds": "the reports' styles and fonts"})

        def finished(scope: tuple[str, str], result: RenderedReport) -> None:
            dest.move_in(result.path.name, entry(scope))
            reports.append(replace(result, path=out / result.path.name))

        pool_size = min(workers or available_cores(), len(scopes))
        if pool_size <= 1:
            values = DisclosedValues.in_memory(disclosed)
            for scope in scopes:
                try:
                    rendered = render_one(
                        warehouse,
                        dest.staging,
                        scope,
                        fmt,
                        report_period,
                        values,
                        generated_on,
                    )
                except Exception as error:  # one failing report must not stop the others
                    failures.append(RenderFailure(scope, _failure_message(error)))
                else:
                    finished(scope, rendered)
                progress.advance(" ".join(scope))
            return RenderOutcome(tuple(reports), tuple(failures), time.perf_counter() - started)
        disclosed_path = dest.staging / "metric_values_disclosed.parquet"
        write_for_workers(disclosed, disclosed_path)
        del disclosed  # the workers read the file; the parent needs the rows no more
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            max_workers=pool_size, mp_context=context, initializer=_worker_ignores_interrupts
        )
        try:
            futures: dict[Future[RenderedReport], tuple[str, str]] = {
                pool.submit(
                    _run_job,
                    _Job(
                        warehouse,
                        dest.staging,
                        scope,
                        fmt,
                        report_period,
                        disclosed_path,
                        generated_on,
                    ),
                ): scope
                for scope in scopes
            }
            for future in _as_completed(futures):
                scope = futures[future]
                try:
                    rendered = future.result()
                except Exception as error:  # one failing report must not stop the others
                    failures.append(RenderFailure(scope, _failure_message(error)))
                else:
                    finished(scope, rendered)
                progress.advance(" ".join(scope))
        except BaseException:  # ctrl-C, SIGTERM: stop now, not when every report is done
            stop_workers(pool)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return RenderOutcome(tuple(reports), tuple(failures), time.perf_counter() - started)


def _as_completed(futures: Iterable[Future[RenderedReport]]) -> Iterator[Future[RenderedReport]]:
    """The futures as they finish, waking a few times a second meanwhile: a signal the
    kernel hands to one of the pool's threads is only acted on when the main thread runs
    Python code, so a wait without a timeout could take a report's time to notice ctrl-C."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
        yield from done


@contextmanager
def _ends_bar(progress: Progress) -> Iterator[None]:
    try:
        yield
    except BaseException:
        progress.stop()
        raise


def _worker_ignores_interrupts() -> None:
    """Workers leave ctrl-C to the parent, which stops them (a terminal sends SIGINT to the
    whole process group: each worker would otherwise print its own traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers at once, mid-report: nothing they were writing is kept (it is
    in the staging folder, which goes), and no queued report starts."""
    # Python 3.11 has no public way to reach the workers (3.14 adds terminate_workers)
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()


# ---------------------------------------------------------------- the output directory
WRITTEN_BY = "nbhd report"
STATIC = "static"
_STAGING_PREFIX = ".nbhd-report-"
_STAGING_LOCK = ".lock"
# what versions before the manifest wrote: a directory holding only these is the tool's own
_EARLIER_REPORT = re.compile(rf"^({'|'.join(SCOPE_TYPES)})_[A-Za-z0-9_.-]+\.(pdf|html)$")


@dataclass
class OwnedOutput:
    """The `--out` directory of a report run, and the staging folder inside it."""

    out: Path
    staging: Path
    recorded: dict[str, dict[str, object]] = field(default_factory=dict)

    def move_in(self, name: str, entry: dict[str, object]) -> None:
        """Move the finished `staging/name` into `out`, replacing the tool's earlier file
        of that name; the manifest lists it first, so no file is ever there unlisted."""
        self.recorded[name] = entry
        write_files_manifest(self.out, WRITTEN_BY, self.recorded)
        if (self.staging / name).is_dir():
            swap_directory(self.staging / name, self.out / name)
        else:
            os.replace(self.staging / name, self.out / name)


def earlier_reports(out: Path) -> dict[str, dict[str, object]]:
    """The files earlier `nbhd report` runs wrote into `out`, by name. `out` must be absent,
    empty, or written by `nbhd report` (its manifest says so; a directory holding only
    report files and `static/`, as versions before the manifest left it, counts too)."""
    if is_owned(out, WRITTEN_BY):
        return recorded_files(out, WRITTEN_BY)
    if out.is_dir() and any(out.iterdir()):
        present = [entry.name for entry in out.iterdir()]
        if all(_EARLIER_REPORT.match(name) or name == STATIC for name in present):
            return {name: {"written_by": "an earlier version"} for name in present}
    check_replaceable(out, WRITTEN_BY, "--out")
    return {}


@contextmanager
def owned_output(out: Path, warehouse: Path, names: Sequence[str]) -> Iterator[OwnedOutput]:
    """`out` made ready for reports named `names`, with a staging folder inside it that is
    removed however the block ends. Refused: `out` being, holding or lying inside the
    warehouse, a directory the tool did not write, and a file of one of `names` in it that
    no report run wrote. A run that writes nothing leaves no directory it created."""
    check_not_input(out, [warehouse], "--out")
    recorded = earlier_reports(out)
    for name in names:
        if (out / name).exists() and name not in recorded:
            raise UsageError(
                f"{out / name} was not written by {WRITTEN_BY}; "
                "move it away or write the reports into another directory"
            )
    created = missing_directories(out)
    staging = out / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as error:
        remove_empty_directories(created)
        refuse_unwritable(error, f"--out {out}", staging.parent)
        raise
    for stale in out.glob(f"{_STAGING_PREFIX}*"):  # left by a run that was killed
        if stale != staging and stale.is_dir() and not is_locked(stale / _STAGING_LOCK):
            shutil.rmtree(stale, ignore_errors=True)
    destination = OwnedOutput(out, staging, dict(recorded))
    try:
        with file_lock(staging / _STAGING_LOCK):
            yield destination
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        remove_empty_directories(created)


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
    check_not_input(out, [warehouse], "--out")
    earlier_reports(out)  # a directory the tool may not write into: refused before rendering
    return render_scopes(warehouse, out, scopes, fmt, period, icb_codes=icb_codes)
