"""`nbhd build` with a stopwatch on each stage: run by `run.py` as its own process.

    python benchmarks/build_probe.py --data DIR --warehouse FILE --timeline FILE

Runs `metrics_cli.build.build` unchanged, with its three stages (`validate_directory`,
`load_raw`, `run_dbt`) wrapped so that their start and end are recorded, while a thread
samples the process's CPU time (all threads: DuckDB's included) and resident memory every
0.1 s. A build runs dbt several times (before and after each wave of the Python stage), each
time in the build's own work folder, which the build removes: after each invocation the
probe keeps its run_results.json entries and the manifest. The timeline (stage marks,
samples, and where the probe left every invocation's results, merged, and the manifest) is
written as JSON for `run.py` to split into stages and dbt model groups.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.1
STAGES = {"validate_directory": "validate", "load_raw": "load", "run_dbt": "dbt"}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def resident_bytes() -> int:
    """Current resident memory (Linux /proc), else the peak so far."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float, int]] = []
        self.stopped = threading.Event()

    def sample(self) -> None:
        self.samples.append((time.time(), cpu_seconds(), resident_bytes()))

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            self.sample()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--timeline", type=Path, required=True)
    args = parser.parse_args(argv)

    sampler = Sampler()
    sampler.sample()
    sampler.start()
    marks: list[dict[str, Any]] = []

    from metrics_cli import build as build_module

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*positional: Any, **keywords: Any) -> Any:
            mark: dict[str, Any] = {"stage": name, "start": time.time(), "cpu_start": cpu_seconds()}
            marks.append(mark)
            try:
                return function(*positional, **keywords)
            finally:
                mark.update(end=time.time(), cpu_end=cpu_seconds())
                sampler.sample()

        return wrapper

    dbt_results: list[dict[str, Any]] = []
    results_file = args.timeline.with_name("dbt-run-results.json")
    manifest_file = args.timeline.with_name("dbt-manifest.json")

    def keeping_results(function: Callable[..., Any]) -> Callable[..., Any]:
        """`run_dbt(command, warehouse, dbt_vars, work)` that keeps what dbt left in work."""

        def wrapper(*positional: Any, **keywords: Any) -> Any:
            target = Path(positional[3] if len(positional) > 3 else keywords["work"]) / "target"
            seen = _modified(target / "run_results.json")
            try:
                return function(*positional, **keywords)
            finally:
                results = target / "run_results.json"
                if _modified(results) not in (None, seen):
                    dbt_results.extend(json.loads(results.read_text()).get("results", []))
                if (target / "manifest.json").is_file():
                    shutil.copyfile(target / "manifest.json", manifest_file)

        return wrapper

    from dataclasses import replace

    from metrics_cli import engines

    if hasattr(engines, "WAVES"):  # each step of the Python stage, between dbt invocations
        engines.WAVES = tuple(
            tuple(
                replace(step, compute=timed(f"python {step.table}", step.compute)) for step in wave
            )
            for wave in engines.WAVES
        )
    if hasattr(build_module, "run_dbt"):
        build_module.run_dbt = keeping_results(build_module.run_dbt)
    for attribute, stage in STAGES.items():
        if hasattr(build_module, attribute):  # a stage renamed in build.py is timed as a whole
            setattr(build_module, attribute, timed(stage, getattr(build_module, attribute)))
    started, cpu_started = time.time(), cpu_seconds()
    exit_code = 0
    try:
        result = build_module.build(args.data, args.warehouse, {})
        print(result.summary())
        exit_code = 0 if result.ok else 1
    except Exception as error:  # the probe reports a failed build, as `nbhd build` would
        print(f"build failed: {type(error).__name__}: {error}", file=sys.stderr)
        exit_code = 1
    sampler.stopped.set()
    sampler.join()
    sampler.sample()
    results_file.write_text(json.dumps({"results": dbt_results}))
    timeline = {
        "start": started,
        "end": time.time(),
        "cpu_start": cpu_started,
        "cpu_end": cpu_seconds(),
        "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "marks": marks,
        "samples": sampler.samples,
        "run_results": str(results_file),
        "manifest": str(manifest_file),
        "exit_code": exit_code,
    }
    args.timeline.write_text(json.dumps(timeline))
    return exit_code


def _modified(path: Path) -> int | None:
    """When `path` was last written (None if absent)."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
