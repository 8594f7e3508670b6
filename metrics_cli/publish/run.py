"""`nbhd publish`: disclosure-controlled open files from the warehouse.

Writes CSV and Parquet of the disclosed marts (disclosed_metric_values,
disclosed_inequality_gaps, disclosed_metric_spc, published as metric_values,
inequality_gaps and metric_spc) and maturity_levels in a tidy layout (metric title and
unit beside each id, geography names, suppression flags), the metric
catalogue, a data dictionary (CSV and Markdown) generated from the catalogue and the
column docs dbt persists into the warehouse, a manifest (inputs with checksums, code
version, vars, run time, cells withheld per geography level) and a summary of what changed
since the last publication. Everything is written to a new directory that replaces the old
one only when complete, so a failed publish leaves the previous publication as it was.
Disclosure control is decided in the build; publish reads its result and never applies a
protection itself. Which rule withheld a row is not published: a withheld figure is only
marked withheld, and the data dictionary gives both possible reasons (knowing which cells
are small would help to work them out). docs/publication.md describes the files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from metrics_cli.errors import UsageError
from metrics_cli.files import check_warehouse_to_read, staged_directory
from metrics_cli.marts import (
    INEQUALITY_COLUMNS,
    SPC_COLUMNS,
)
from metrics_cli.publish.changes import Changes, compare_publications, previous_metric_values
from metrics_cli.publish.dictionary import data_dictionary, dictionary_markdown
from metrics_cli.publish.manifest import (
    CATALOGUE_CSV,
    CHANGES_MD,
    DICTIONARY_CSV,
    DICTIONARY_MD,
    MANIFEST,
    is_publication,
    publication_manifest,
)
from metrics_cli.publish.reading import (
    JUDGEMENTS,
    disclosure_settings,
    read_inputs,
)
from metrics_cli.publish.tables import (
    TABLES,
    GeographyWithheld,
    PublishedFile,
    described,
    geography_names,
    published_maturity_levels,
    published_metric_values,
    with_labels,
    withheld_by_geography_level,
    write_published_csv,
    write_tables,
)


@dataclass(frozen=True)
class PublishOutcome:
    """What a publication wrote."""

    out: Path
    files: tuple[PublishedFile, ...]
    suppressed: Mapping[str, int]
    threshold: int
    rounding: int
    changes: Changes
    seconds: float
    withheld_by_geography: Mapping[str, GeographyWithheld]

    def summary(self) -> str:
        """A few lines for the console."""
        rows = {
            f.name.removesuffix(".csv"): f.rows or 0 for f in self.files if f.name.endswith(".csv")
        }
        lines = [
            f"Published to {self.out} in {self.seconds:.1f}s "
            f"(counts 1-{self.threshold} suppressed, others rounded to the nearest "
            f"{self.rounding}):"
        ]
        for table in TABLES:
            lines.append(
                f"  {table:<16} {rows.get(table, 0):>10,} rows, "
                f"{self.suppressed.get(table, 0):>8,} with figures withheld"
            )
        lines.append("  metric_values cells withheld, by geography level:")
        for level, counted in self.withheld_by_geography.items():
            lines.append(
                f"    {level:<14} {counted.withheld:>8,} of {counted.cells:>10,} "
                f"({counted.share:.1%})"
            )
        lines.append(self.changes.headline())
        lines.append(f"Data dictionary: {self.out / DICTIONARY_MD}")
        return "\n".join(lines)


def publish(warehouse: Path, out: Path) -> PublishOutcome:
    """Write a disclosure-controlled publication of `warehouse` into directory `out`."""
    started = time.perf_counter()
    published_at = datetime.now(UTC)
    check_warehouse_to_read(warehouse)
    out = out.resolve()
    _check_destination(out)
    read = read_inputs(warehouse)
    frames, comments, build_info, inputs = read.frames, read.comments, read.build_info, read.inputs

    threshold, rounding = disclosure_settings(build_info)
    catalogue = frames["metric_catalogue"]
    names = geography_names(frames.get("geographies"))
    derived = ("is_suppressed", "suppressed_columns")
    published = {
        "metric_values": published_metric_values(
            frames.pop("disclosed_metric_values"), catalogue, names
        ),
        "inequality_gaps": with_labels(
            frames.pop("disclosed_inequality_gaps").select(
                *INEQUALITY_COLUMNS, *JUDGEMENTS["inequality_gaps"][2], *derived
            ),
            catalogue,
            names,
        ),
        "metric_spc": with_labels(
            frames["disclosed_metric_spc"].select(*SPC_COLUMNS, *derived), catalogue, names
        ),
        "maturity_levels": published_maturity_levels(frames["maturity_levels"], names),
    }
    withheld_by_geography = withheld_by_geography_level(published["metric_values"])
    changes = compare_publications(previous_metric_values(out), published["metric_values"])

    with staged_directory(out) as staging:
        files = [
            *write_tables(published, staging),
            write_published_csv(catalogue, staging / CATALOGUE_CSV),
        ]
        dictionary = data_dictionary(published, catalogue, comments, rounding, threshold)
        files.append(write_published_csv(dictionary, staging / DICTIONARY_CSV))
        (staging / DICTIONARY_MD).write_text(
            dictionary_markdown(dictionary, catalogue, files, threshold, rounding),
            encoding="utf-8",
        )
        files.append(described(staging / DICTIONARY_MD, rows=None))
        (staging / CHANGES_MD).write_text(changes.markdown(), encoding="utf-8")
        files.append(described(staging / CHANGES_MD, rows=None))
        suppressed = {
            name: int(frame["is_suppressed"].sum())
            for name, frame in published.items()
            if "is_suppressed" in frame.columns
        }
        seconds = time.perf_counter() - started
        manifest = publication_manifest(
            published_at,
            seconds,
            build_info,
            inputs,
            files,
            threshold,
            rounding,
            suppressed,
            withheld_by_geography,
            warehouse,
        )
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
    return PublishOutcome(
        out=out,
        files=tuple(files),
        suppressed=suppressed,
        threshold=threshold,
        rounding=rounding,
        changes=changes,
        seconds=time.perf_counter() - started,
        withheld_by_geography=withheld_by_geography,
    )


def _check_destination(out: Path) -> None:
    """`out` must be new, empty, or an earlier publication (which is then replaced)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; give a directory for the publication")
    if out.is_dir() and any(out.iterdir()) and not is_publication(out):
        raise UsageError(
            f"{out} is not empty and holds no earlier publication; choose a new or empty directory"
        )
