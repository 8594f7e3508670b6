"""`nbhd generate`: deterministic synthetic input data at three scales.

Every dataset of the input specification is written, including maturity self-assessments
for every neighbourhood (metrics_cli.synthetic_maturity).

The same scale and seed always give the same bytes. Practices are simulated one by one,
each from its own random streams, and the large datasets are written in batches of
practices, so memory stays bounded at national scale. What is planted in the data, and
how big each effect is, is in docs/synthetic-data.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from metrics_cli.errors import UsageError
from metrics_cli.files import replace_owned_directory
from metrics_cli.synthetic import money
from metrics_cli.synthetic.config import SCALES, SCHEMAS, STREAMED, ScaleConfig
from metrics_cli.synthetic.geography import Geography, build_geography
from metrics_cli.synthetic.practice import Offsets, rng_for, simulate_practice
from metrics_cli.synthetic.timeline import Timeline, build_timeline
from metrics_cli.synthetic.writers import DatasetWriter, write_frame
from metrics_cli.synthetic_maturity import maturity_assessments

IntArray = npt.NDArray[np.int64]
WRITTEN_BY = "nbhd generate"


class Stream:
    """Top-level random streams: rng_for(seed, stream, ...)."""

    GEOGRAPHY = 1
    # 2 is synthetic.practice.PRACTICE_STREAM
    PAYMENTS = 3
    SPEND = 4
    WORKFORCE = 5
    MATURITY = 6


def generate(scale: str, seed: int, out: Path) -> dict[str, int]:
    """Write every input dataset for `scale` into `out`; returns rows written per dataset.

    `out` is replaced whole, atomically, and only if it is new, empty or written by
    `nbhd generate` before (its manifest says so): never a directory of real inputs."""
    if scale not in SCALES:
        raise UsageError(f"unknown scale '{scale}': choose one of {', '.join(SCALES)}")
    if seed < 0:
        raise UsageError(f"the seed must be zero or more, not {seed}")
    counts: dict[str, int] = {}

    def write(staging: Path) -> None:
        counts.update(generate_from_config(SCALES[scale], seed, staging))

    replace_owned_directory(out, WRITTEN_BY, write, {"scale": scale, "seed": seed}, "--out")
    return counts


def generate_from_config(config: ScaleConfig, seed: int, out: Path) -> dict[str, int]:
    """`generate` for any ScaleConfig (the tests use small custom ones)."""
    out.mkdir(parents=True, exist_ok=True)
    timeline = build_timeline(config)
    geography = build_geography(config, rng_for(seed, Stream.GEOGRAPHY))
    counts, populations = _write_practice_datasets(config, geography, timeline, seed, out)
    weighted = money.weighted_patients(geography, populations, timeline)
    organisations = geography.organisations()
    # The datasets built whole once every practice is done, one entry each.
    whole = {
        "organisations": organisations,
        "lsoa_deprivation": geography.lsoa_deprivation(),
        "weighted_population": money.weighted_population_frame(geography, weighted, timeline),
        "practice_payments": money.practice_payments_frame(
            geography, populations, weighted, timeline, rng_for(seed, Stream.PAYMENTS)
        ),
        "spend": money.spend_frame(
            geography, populations, timeline, config, rng_for(seed, Stream.SPEND)
        ),
        "workforce": money.workforce_frame(geography, timeline, rng_for(seed, Stream.WORKFORCE)),
        "maturity_assessments": maturity_assessments(
            organisations, config.last_month, rng_for(seed, Stream.MATURITY)
        ),
    }
    for dataset, frame in whole.items():
        counts[dataset] = write_frame(out, dataset, frame, config.file_format(dataset))
    return {dataset: counts[dataset] for dataset in (*SCHEMAS, *counts) if dataset in counts}


def _write_practice_datasets(
    config: ScaleConfig, geography: Geography, timeline: Timeline, seed: int, out: Path
) -> tuple[dict[str, int], list[IntArray]]:
    """Simulate every practice, writing the streamed datasets a batch of practices at a time."""
    writers = {
        dataset: DatasetWriter(out, dataset, config.file_format(dataset), SCHEMAS[dataset])
        for dataset in STREAMED
    }
    pending: dict[str, list[pl.DataFrame]] = {dataset: [] for dataset in STREAMED}
    populations: list[IntArray] = []
    offsets = Offsets()
    try:
        for practice in geography.practices:
            result = simulate_practice(practice, geography, config, timeline, seed, offsets)
            offsets = result.offsets
            populations.append(result.population)
            for dataset, frame in result.frames.items():
                pending[dataset].append(frame)
            if len(populations) % config.batch_practices == 0:
                _flush(writers, pending)
        _flush(writers, pending)
    finally:
        counts = {dataset: writer.close() for dataset, writer in writers.items()}
    return counts, populations


def _flush(writers: dict[str, DatasetWriter], pending: dict[str, list[pl.DataFrame]]) -> None:
    for dataset, frames in pending.items():
        if frames:
            writer = writers[dataset]
            writer.write(pl.concat([writer.conform(frame) for frame in frames]))
            frames.clear()
