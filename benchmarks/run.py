"""Benchmarks: wall time, CPU time and peak memory of each pipeline stage at a given scale.

    python benchmarks/run.py [--scale tiny|icb|national] [--seed N] [--out DIR] [--steps ...]

Steps (default all, in this order): generate, floor, pandas, build, report, publish.

- generate: `nbhd generate`, cached: skipped when DIR/<scale>/data-seed<N> is complete.
- floor, pandas: the continuity reference points of `reference.py` (pandas only at tiny and
  icb scale: it holds every encounter in memory).
- build: `nbhd build` through `build_probe.py`, split into validate, load, and dbt by model
  group (staging; intermediate per family: continuity, access, shift...; marts; disclosure,
  the `disclosed_*` models; seeds; tests), from dbt's run_results.json and a 0.1 s sample of
  the build process's CPU time and resident memory.
- report: `nbhd report --all`; publish: `nbhd publish`.

Each step runs as its own process; its wall time, CPU time (user + system, its child
processes included) and peak resident memory (of its largest process) come from wait4.
CPU time is the fair measure on a shared machine: wall time grows with other people's work.
Results are printed as a table and written to DIR/<scale>/results.json and results.csv,
with the ratios to the reference points. Targets are checked here, never in unit tests:
the run exits 1 when a step fails or a target is missed.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reference import INDICES

BENCH_DIR = Path(__file__).resolve().parent
STEPS = ("generate", "floor", "pandas", "build", "report", "publish")
INDICES_MODEL = "model.nbhd.int_continuity_patient_indices"
"""The per-patient continuity model: what the pandas reference computes, like for like."""
IN_MEMORY_SCALES = ("tiny", "icb")  # where the pandas reference fits in memory
GIB = 1024**3


@dataclass
class Row:
    """One line of the table: a step, a stage of the build or a dbt model group."""

    stage: str
    kind: str  # step | build stage | dbt group | reference
    seconds: float | None
    cpu_seconds: float | None
    peak_mib: float | None
    exit_code: int | None = None
    note: str = ""


@dataclass
class Outcome:
    rows: list[Row] = field(default_factory=list)
    ratios: dict[str, float | None] = field(default_factory=dict)
    wall_ratios: dict[str, float | None] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    def row(self, stage: str) -> Row | None:
        return next((r for r in self.rows if r.stage == stage), None)


# ---------------------------------------------------------------- running a step


@dataclass(frozen=True)
class Finished:
    seconds: float
    cpu_seconds: float
    peak_bytes: int
    exit_code: int
    stdout: str


def run_process(command: Sequence[str], env: Mapping[str, str], log: Path) -> Finished:
    """Run a command; wall time, and its CPU time and peak memory from wait4 (children
    it waited for included: the report workers)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            list(command), env=dict(env), stdout=output, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    stdout = log.read_text(errors="replace")
    if process.returncode != 0:
        sys.stderr.write(stdout[-4000:])
    return Finished(
        seconds,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
        process.returncode,
        stdout,
    )


def _mib(value: float | None) -> float | None:
    return None if value is None else round(value / 1024**2)


def _step_row(stage: str, finished: Finished, kind: str = "step", note: str = "") -> Row:
    return Row(
        stage,
        kind,
        round(finished.seconds, 1),
        round(finished.cpu_seconds, 1),
        _mib(finished.peak_bytes),
        finished.exit_code,
        note,
    )


# ---------------------------------------------------------------- splitting the build


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Timeline:
    """The build process's samples: CPU seconds and resident bytes against time."""

    def __init__(self, samples: Sequence[Sequence[float]]) -> None:
        ordered = sorted(samples)
        self.times = [s[0] for s in ordered]
        self.cpu = [s[1] for s in ordered]
        self.rss = [s[2] for s in ordered]

    def cpu_at(self, moment: float) -> float:
        """CPU seconds used by `moment`, interpolated between samples."""
        if not self.times:
            return 0.0
        i = bisect.bisect_left(self.times, moment)
        if i == 0:
            return self.cpu[0]
        if i >= len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        share = (moment - t0) / (t1 - t0) if t1 > t0 else 1.0
        return self.cpu[i - 1] + share * (self.cpu[i] - self.cpu[i - 1])

    def peak_between(self, start: float, end: float) -> int | None:
        """Largest resident memory sampled in [start, end], with the sample either side."""
        lo = max(bisect.bisect_left(self.times, start) - 1, 0)
        hi = bisect.bisect_right(self.times, end) + 1
        window = self.rss[lo:hi]
        return int(max(window)) if window else None


def dbt_group(node: Mapping[str, Any]) -> str:
    """The model group a dbt node belongs to, from its resource type and path."""
    kind = node.get("resource_type", "")
    if kind in ("test", "unit_test"):
        return "dbt tests"
    if kind == "seed":
        return "dbt seeds"
    path = Path(str(node.get("original_file_path", "")))
    parts = path.parts
    if kind == "model" and len(parts) >= 2 and parts[0] == "models":
        if parts[1] == "intermediate" and len(parts) >= 4:
            return "dbt disclosure" if parts[2] == "disclosure" else f"dbt intermediate {parts[2]}"
        if parts[1] == "marts":
            return "dbt disclosure" if path.stem.startswith("disclosed_") else "dbt marts"
        return f"dbt {parts[1]}"
    return f"dbt {kind or 'other'}"


def _group_rank(group: str) -> tuple[int, str]:
    """Seeds, staging, intermediate families, marts, disclosure, tests; then the rest."""
    ranks = ("dbt seeds", "dbt staging", "dbt intermediate", "dbt marts", "dbt disclosure",
             "dbt tests")
    rank = next((i for i, prefix in enumerate(ranks) if group.startswith(prefix)), len(ranks))
    return rank, group


def dbt_nodes(run_results: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each node dbt ran: its group, start and end (epoch seconds) and status."""
    known = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    nodes = []
    for result in run_results.get("results", []):
        timing = [t for t in result.get("timing", []) if t.get("started_at")]
        if not timing:
            continue
        node = known.get(result["unique_id"], {"resource_type": result["unique_id"].split(".")[0]})
        nodes.append(
            {
                "unique_id": result["unique_id"],
                "group": dbt_group(node),
                "start": min(_epoch(t["started_at"]) for t in timing),
                "end": max(_epoch(t["completed_at"]) for t in timing),
                "status": result.get("status"),
            }
        )
    return nodes


def build_rows(timeline: Mapping[str, Any]) -> tuple[list[Row], list[dict[str, Any]]]:
    """Rows for validate, load, each dbt model group and dbt's own work; per-node detail."""
    samples = Timeline(timeline["samples"])
    rows: list[Row] = []
    marks = {m["stage"]: m for m in timeline["marks"] if "end" in m}
    waves = [m["stage"] for m in timeline["marks"] if m["stage"].startswith("python ")]
    for stage in ("validate", "load", *waves):
        mark = marks.get(stage)
        if mark is not None:
            rows.append(
                Row(
                    stage,
                    "build stage",
                    round(mark["end"] - mark["start"], 1),
                    round(mark["cpu_end"] - mark["cpu_start"], 1),
                    _mib(samples.peak_between(mark["start"], mark["end"])),
                )
            )
    nodes: list[dict[str, Any]] = []
    results_path, manifest_path = Path(timeline["run_results"]), Path(timeline["manifest"])
    if results_path.is_file() and manifest_path.is_file():
        nodes = dbt_nodes(
            json.loads(results_path.read_text()), json.loads(manifest_path.read_text())
        )
    for node in nodes:
        node["seconds"] = round(node["end"] - node["start"], 3)
        node["cpu_seconds"] = round(samples.cpu_at(node["end"]) - samples.cpu_at(node["start"]), 3)
    groups: dict[str, list[dict[str, Any]]] = {}
    for node in nodes:
        groups.setdefault(node["group"], []).append(node)
    order = sorted(groups, key=_group_rank)
    for group in order:
        members = groups[group]
        peaks = [samples.peak_between(n["start"], n["end"]) for n in members]
        rows.append(
            Row(
                group,
                "dbt group",
                round(sum(n["seconds"] for n in members), 1),
                round(sum(n["cpu_seconds"] for n in members), 1),
                _mib(max((p for p in peaks if p is not None), default=None)),
                note=f"{len(members)} nodes",
            )
        )
        rows.extend(
            Row(
                f"{node['unique_id'].rsplit('.', 1)[-1]}",
                "dbt model",
                round(node["seconds"], 1),
                round(node["cpu_seconds"], 1),
                _mib(samples.peak_between(node["start"], node["end"])),
                note="the model the pandas reference does the work of",
            )
            for node in members
            if node["unique_id"] == INDICES_MODEL
        )
    # a build runs dbt several times, around the Python stage's waves: every invocation
    invocations = [m for m in timeline["marks"] if m["stage"] == "dbt" and "end" in m]
    if invocations:
        in_nodes = sum(r.seconds or 0 for r in rows if r.kind == "dbt group")
        cpu_nodes = sum(r.cpu_seconds or 0 for r in rows if r.kind == "dbt group")
        rows.append(
            Row(
                "dbt other",
                "dbt group",
                round(sum(m["end"] - m["start"] for m in invocations) - in_nodes, 1),
                round(sum(m["cpu_end"] - m["cpu_start"] for m in invocations) - cpu_nodes, 1),
                None,
                note=f"parse, compile, connections, between nodes ({len(invocations)} runs)",
            )
        )
    return rows, nodes


# ---------------------------------------------------------------- the run


def continuity_built(warehouse: Path) -> dict[str, float] | None:
    """Eligible patient-windows in the build's continuity indices and the mean of each
    index, in the references' terms, to check they computed what the build computes; None
    where the warehouse has no such model."""
    import duckdb

    if not warehouse.is_file():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        found = con.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'int_continuity_patient_indices' limit 1"
        ).fetchall()
        if not found:
            return None
        schema = found[0][0]
        means = ", ".join(f"avg({index})" for index in INDICES)
        count, *values = con.execute(
            f'select count(*), {means} from "{schema}".int_continuity_patient_indices '
            "where is_eligible"
        ).fetchall()[0]
    means_built = {f"mean_{i}": float(v) for i, v in zip(INDICES, values, strict=True)}
    return {"rows": int(count), **means_built}


def reference_checks(
    built: Mapping[str, float], references: Mapping[str, Mapping[str, Any]]
) -> tuple[list[str], bool]:
    """Lines saying whether each reference computed the build's patient-windows and, index
    by index, the same mean (to 1e-9: the sums differ only in the order of addition); and
    whether all of them did."""
    agree = True
    lines = [
        f"continuity patient-windows: build {built['rows']:,}; "
        + "; ".join(f"{name} {result['rows']:,}" for name, result in references.items())
    ]
    for name, result in references.items():
        differing = [
            key
            for key, value in result.items()
            if key.startswith("mean_")
            and key in built
            and abs(float(value) - built[key]) > 1e-9
        ]
        if result["rows"] != built["rows"] or differing:
            agree = False
            lines.append(
                f"  {name} does not compute what the build computes: check "
                f"({', '.join(differing) or 'patient-windows'})"
            )
        else:
            indices = [key.removeprefix("mean_") for key in result if key.startswith("mean_")]
            lines.append(f"  {name}: same means as the build ({', '.join(indices)})")
    return lines, agree


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def ratios(outcome: Outcome, measure: str = "cpu_seconds") -> dict[str, float | None]:
    """Our time as multiples of the reference points': CPU seconds, which the targets use
    (the machine may be shared), or wall seconds ("seconds"), what a user waits for."""

    def spent(stage: str) -> float | None:
        return _field(stage, measure)(outcome)

    return {
        "build / floor": _ratio(spent("build"), spent("floor")),
        "continuity models / floor": _ratio(spent("dbt intermediate continuity"), spent("floor")),
        "pandas / continuity models": _ratio(spent("pandas"), spent("dbt intermediate continuity")),
        # like for like, not a target: the one model computing what the reference computes
        "pandas / per-patient indices model": _ratio(
            spent("pandas"), spent(INDICES_MODEL.rsplit(".", 1)[-1])
        ),
    }


Check = Callable[[Outcome], tuple[float | None, float]]


def _field(stage: str, name: str) -> Callable[[Outcome], float | None]:
    """A step's figure; None where the step did not run or did not finish (a step stopped
    early has a short time that must not count as meeting its target)."""

    def read(outcome: Outcome) -> float | None:
        row = outcome.row(stage)
        if row is None or row.exit_code not in (None, 0):
            return None
        value = getattr(row, name)
        return None if value is None else float(value)

    return read


# (scale, description, measured, comparison, limit)
TARGETS: tuple[tuple[str, str, Callable[[Outcome], float | None], str, float], ...] = (
    ("national", "build wall seconds", _field("build", "seconds"), "<", 15 * 60),
    ("national", "build peak MiB", _field("build", "peak_mib"), "<", 16 * 1024),
    ("national", "report --all wall seconds", _field("report", "seconds"), "<", 15 * 60),
    ("icb", "build / floor (CPU)", lambda o: o.ratios.get("build / floor"), "<=", 30),
    (
        "icb",
        "continuity models / floor (CPU)",
        lambda o: o.ratios.get("continuity models / floor"),
        "<=",
        3,
    ),
    (
        "icb",
        "pandas / continuity models (CPU)",
        lambda o: o.ratios.get("pandas / continuity models"),
        ">=",
        2,
    ),
    ("icb", "CPU seconds per report", _field("report per report", "cpu_seconds"), "<", 1),
)


def check_targets(outcome: Outcome, scale: str) -> list[dict[str, Any]]:
    """Each target of the scale: measured, limit, met (None: not measured in this run)."""
    checked = []
    for target_scale, description, measure, comparison, limit in TARGETS:
        if target_scale != scale:
            continue
        value = measure(outcome)
        met = None if value is None else (value < limit if comparison == "<" else (
            value <= limit if comparison == "<=" else value >= limit))
        checked.append(
            {"target": description, "measured": value, "limit": f"{comparison} {limit}", "met": met}
        )
    return checked


def format_table(scale: str, outcome: Outcome) -> str:
    def cell(value: float | None, width: int) -> str:
        return f"{'-' if value is None else value:>{width}}"

    lines = [
        f"{scale} scale",
        f"{'stage':<36} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9}  note",
    ]
    for row in outcome.rows:
        indent = {"build stage": "  ", "dbt group": "  ", "dbt model": "    "}.get(row.kind, "")
        failed = f" (exit {row.exit_code})" if row.exit_code not in (None, 0) else ""
        lines.append(
            f"{indent + row.stage:<36} {cell(row.seconds, 8)} {cell(row.cpu_seconds, 8)} "
            f"{cell(row.peak_mib, 9)}  {row.note}{failed}".rstrip()
        )
    lines.append("")
    lines.append(f"{'ratios':<36}   {'CPU s':>6} {'wall s':>6}  (targets use CPU seconds)")
    for name, value in outcome.ratios.items():
        wall = outcome.wall_ratios.get(name)
        aside = "" if any(name in t[1] for t in TARGETS) else "  (like for like; not a target)"
        lines.append(f"  {name:<36} {cell(value, 6)} {cell(wall, 6)}{aside}")
    lines.extend(outcome.checks)
    if outcome.targets:
        lines.append("targets:")
        for target in outcome.targets:
            verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
            lines.append(
                f"  {target['target']:<34} {target['measured']!s:>10} {target['limit']:<8} "
                f"{verdict}"
            )
    return "\n".join(lines)


def write_results(out: Path, scale: str, seed: int, outcome: Outcome) -> None:
    rows = [asdict(r) for r in outcome.rows]
    (out / "results.json").write_text(
        json.dumps(
            {
                "scale": scale,
                "seed": seed,
                "stages": rows,
                "ratios": outcome.ratios,
                "wall_ratios": outcome.wall_ratios,
                "targets": outcome.targets,
                "checks": outcome.checks,
            },
            indent=2,
        )
    )
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(Row.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)
        for name, value in outcome.ratios.items():
            writer.writerow(
                {
                    "stage": name,
                    "kind": "ratio",
                    "seconds": outcome.wall_ratios.get(name),
                    "cpu_seconds": value,
                }
            )


def font_subsetter() -> str:
    """The library WeasyPrint subsets the reports' fonts with: HarfBuzz's, where the system
    has libharfbuzz-subset (README), else fontTools, about 0.3 CPU-seconds more a report."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    if harfbuzz_subset is not None and harfbuzz.hb_version_atleast(4, 1, 0):
        return "HarfBuzz"
    return "fontTools"


def _report_count(stdout: str) -> int:
    return sum(line.startswith("wrote ") for line in stdout.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=["tiny", "icb", "national"], default="national")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps: {', '.join(unknown)}")

    out: Path = args.out / args.scale
    out.mkdir(parents=True, exist_ok=True)
    python, nbhd = sys.executable, str(Path(sys.executable).with_name("nbhd"))
    env = {**os.environ, "NBHD_STATE_DIR": str(out / "state")}
    data = out / f"data-seed{args.seed}"
    warehouse, logs = out / "warehouse.duckdb", out / "logs"
    outcome = Outcome()
    references: dict[str, dict[str, Any]] = {}
    failed = False

    for step in STEPS:
        if step not in steps:
            continue
        if step == "pandas" and args.scale not in IN_MEMORY_SCALES:
            outcome.checks.append(f"pandas reference not run at {args.scale} scale (memory)")
            continue
        if step != "generate" and not (data / ".complete").is_file():
            outcome.checks.append(f"{step} not run: no complete data directory {data}")
            failed = True
            continue
        build_row = outcome.row("build")
        if step in ("report", "publish") and build_row is not None and build_row.exit_code:
            outcome.checks.append(f"{step} not run: the build failed")
            continue
        if step == "generate":
            if (data / ".complete").is_file():
                outcome.rows.append(Row("generate", "step", None, None, None, 0, "cached"))
                continue
            shutil.rmtree(data, ignore_errors=True)
            command = [nbhd, "generate", "--scale", args.scale, "--seed", str(args.seed),
                       "--out", str(data)]
            finished = run_process(command, env, logs / "generate.log")
            if finished.exit_code == 0:
                (data / ".complete").write_text(f"{args.scale} {args.seed}\n")
            outcome.rows.append(_step_row("generate", finished))
        elif step in ("floor", "pandas"):
            command = [python, str(BENCH_DIR / "reference.py"), step, "--data", str(data)]
            finished = run_process(command, env, logs / f"{step}.log")
            note = ""
            if finished.exit_code == 0:
                result = json.loads(finished.stdout.strip().splitlines()[-1])
                references[step] = result
                note = f"{result['rows']:,} patient-windows, {result['windows']} windows"
            outcome.rows.append(_step_row(step, finished, "reference", note))
        elif step == "build":
            timeline_path = out / "build-timeline.json"
            command = [python, str(BENCH_DIR / "build_probe.py"), "--data", str(data),
                       "--warehouse", str(warehouse), "--timeline", str(timeline_path)]
            finished = run_process(command, env, logs / "build.log")
            outcome.rows.append(_step_row("build", finished))
            if timeline_path.is_file():
                stages, nodes = build_rows(json.loads(timeline_path.read_text()))
                outcome.rows.extend(stages)
                (out / "dbt-nodes.json").write_text(json.dumps(nodes, indent=1))
        elif step == "report":
            command = [nbhd, "report", "--all", "--out", str(out / "reports"),
                       "--warehouse", str(warehouse)]
            finished = run_process(command, env, logs / "report.log")
            count = _report_count(finished.stdout)
            note = f"{count} reports, fonts subset by {font_subsetter()}"
            outcome.rows.append(_step_row("report", finished, note=note))
            if count:
                outcome.rows.append(
                    Row(
                        "report per report",
                        "step",
                        round(finished.seconds / count, 2),
                        round(finished.cpu_seconds / count, 2),
                        None,
                        note="report --all divided by reports written",
                    )
                )
        elif step == "publish":
            command = [nbhd, "publish", "--out", str(out / "published"),
                       "--warehouse", str(warehouse)]
            outcome.rows.append(_step_row("publish", run_process(command, env,
                                                                 logs / "publish.log")))
        if any(r.exit_code not in (None, 0) for r in outcome.rows):
            failed = True
            if step == "generate":
                break

    built = continuity_built(warehouse) if "build" in steps else None
    if built is not None and references:
        checks, agree = reference_checks(built, references)
        outcome.checks.extend(checks)
        failed = failed or not agree
    outcome.ratios = ratios(outcome)
    outcome.wall_ratios = ratios(outcome, "seconds")
    outcome.targets = check_targets(outcome, args.scale)
    if any(t["met"] is False for t in outcome.targets):
        failed = True
    print(format_table(args.scale, outcome))
    write_results(out, args.scale, args.seed, outcome)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
