"""Benchmarks: time and peak memory of each pipeline step at a given scale.

    python benchmarks/run.py [--scale tiny|icb|national] [--out DIR] [--steps STEP,...]

Steps: generate, build, report (every report), publish (disclosure-controlled files).

Each step runs as its own `nbhd` process so its peak resident memory is measured alone
(getrusage of the finished child). Results go to DIR/results.json and are printed as a
table. The national target is a build in under 15 minutes on a 2-core, 24 GB machine;
the benchmark exits 1 when a step misses its target. Performance targets live here,
never in the unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGETS_SECONDS = {
    ("national", "build"): 15 * 60,
}


def run_step(name: str, command: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run one step as a child process; return its wall time and peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
    return {
        "step": name,
        "seconds": round(seconds, 1),
        # ru_maxrss of children is the largest of any child so far: report it only when it grew
        "peak_memory_mib": round(peak_kib / 1024, 0) if peak_kib > before else None,
        "exit_code": completed.returncode,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["tiny", "icb", "national"], default="national")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--steps", default="generate,build,report,publish")
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)

    out: Path = args.out / args.scale
    out.mkdir(parents=True, exist_ok=True)
    nbhd = str(Path(sys.executable).with_name("nbhd"))
    env = {**os.environ, "NBHD_STATE_DIR": str(out / "state")}
    data, warehouse = out / "data", out / "warehouse.duckdb"
    commands = {
        "generate": [nbhd, "generate", "--scale", args.scale, "--seed", str(args.seed),
                     "--out", str(data)],
        "build": [nbhd, "build", "--data", str(data), "--warehouse", str(warehouse)],
        "report": [nbhd, "report", "--all", "--out", str(out / "reports"), "--warehouse",
                   str(warehouse)],
        "publish": [nbhd, "publish", "--out", str(out / "published"), "--warehouse",
                    str(warehouse)],
    }
    results = []
    failed = False
    for step in args.steps.split(","):
        result = run_step(step, commands[step], env)
        target = TARGETS_SECONDS.get((args.scale, step))
        result["target_seconds"] = target
        result["met_target"] = None if target is None else float(str(result["seconds"])) <= target
        results.append(result)
        print(
            f"{args.scale:<9} {step:<9} {result['seconds']:>8} s  "
            f"peak {result['peak_memory_mib']} MiB  exit {result['exit_code']}"
            + ("" if target is None else f"  target {target} s: {result['met_target']}")
        )
        if result["exit_code"] != 0 or result["met_target"] is False:
            failed = True
            if result["exit_code"] != 0:
                break
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
