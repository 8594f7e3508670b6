"""`nbhd demo`: generate the synthetic ICB, build the warehouse, render every report."""

from __future__ import annotations

import time
from pathlib import Path

from metrics_cli.build import build
from metrics_cli.generate import generate
from metrics_cli.publish import publish
from metrics_cli.report.run import render_reports


def run_demo(out: Path, scale: str, seed: int) -> int:
    """Run the whole pipeline into `out`; print where everything is. Returns the exit code."""
    data_dir = out / "data"
    warehouse = out / "warehouse.duckdb"
    started = time.perf_counter()

    print(f"1/4 generating the synthetic {scale} ICB (seed {seed}) into {data_dir}")
    counts = generate(scale=scale, seed=seed, out=data_dir)
    print(f"    {sum(counts.values()):,} rows in {len(counts)} datasets")

    print(f"2/4 validating and building the warehouse {warehouse}")
    result = build(data_dir, warehouse, {})
    print(result.summary())
    if not result.ok:
        return 1

    print(f"3/4 rendering every report into {out / 'reports'}")
    outcome = render_reports(
        warehouse=warehouse, out=out / "reports", scope=None, fmt="pdf", period=None
    )
    print(outcome.summary())

    print(f"4/4 publishing disclosure-controlled open files into {out / 'published'}")
    published = publish(warehouse=warehouse, out=out / "published")
    print(published.summary())

    print()
    print(f"Done in {time.perf_counter() - started:.0f}s.")
    print(f"  input data:  {data_dir}")
    print(f"  warehouse:   {warehouse}")
    print(f"  reports:     {out / 'reports'}")
    print(f"  published:   {out / 'published'}")
    return 0 if outcome.ok else 1
