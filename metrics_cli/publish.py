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

import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics_cli import __version__
from metrics_cli.disclosure import (
    CELL_KEY,
    COUNT_COLUMNS,
    DERIVED_COLUMNS,
    HIDDEN_COLUMNS,
    MIN_BASE,
    settings_from_build_vars,
    withheld_reasons,
)
from metrics_cli.errors import DataError, UsageError
from metrics_cli.files import CSV_SAFETY_NOTE, swap_directory, write_csv
from metrics_cli.marts import (
    INEQUALITY_COLUMNS,
    MATURITY_LEVELS_COLUMNS,
    SPC_COLUMNS,
)
from metrics_cli.settings import load_settings
from metrics_cli.warehouse import locate

PUBLISHER = "nbhd"
MANIFEST = "manifest.json"
DICTIONARY_CSV = "data_dictionary.csv"
DICTIONARY_MD = "data_dictionary.md"
CATALOGUE_CSV = "metric_catalogue.csv"
CHANGES_MD = "changes.md"
TABLES = ("metric_values", "inequality_gaps", "metric_spc", "maturity_levels")
SOURCES = {
    "metric_values": "disclosed_metric_values",
    "inequality_gaps": "disclosed_inequality_gaps",
    "metric_spc": "disclosed_metric_spc",
    "maturity_levels": "maturity_levels",
}
"""The mart each published table is read from: the disclosed marts only, never
metric_values, metric_spc or inequality_gaps (which hold exact figures)."""
MAX_LISTED_CHANGES = 20
GEOGRAPHY_LEVELS = ("practice", "pcn", "neighbourhood", "provider", "place", "icb", "all")


PUBLISHED_METRIC_VALUES = (
    "metric_id",
    "title",
    "unit",
    "period_grain",
    "period_label",
    "period_start",
    "period_end",
    "geography_type",
    "geography_code",
    "geography_name",
    "breakdown_type",
    "breakdown_value",
    "value",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "numerator",
    "denominator",
    "unweighted_count",
    "method",
    "comparison_to_parent",
    "not_calculated_reason",
    "is_suppressed",
)
"""The published metric_values columns. The build's `suppression_rule` is not among them:
which cells are small is itself disclosive (a small year whose six months were each marked
"fewer than 8" would be 6 or 7), so a withheld row says only that it is withheld."""


def withheld_description(threshold: int) -> str:
    """The data dictionary's words on why a row may be withheld: both reasons, never which."""
    small, protecting = withheld_reasons(threshold)
    return (
        f"A row is withheld for one of two reasons, not said row by row: {small}; or "
        f"{protecting}. Which of the two applies is not published, because knowing which "
        "figures are small would help to work them out."
    )


ADDED_COLUMNS = {
    "title": "Metric title, from the metric catalogue.",
    "unit": "Unit of `value`, from the metric catalogue.",
    "geography_name": "Name of the geography, from the organisations input "
    "(as at the latest month loaded).",
    "neighbourhood_name": "Name of the neighbourhood, from the organisations input "
    "(as at the latest month loaded).",
    "is_suppressed": "True where disclosure control withheld some of the row's figures "
    "(shown as `*` in the CSV file, null in the Parquet file).",
    "suppressed_columns": "The columns withheld in this row, separated by `|`; empty when "
    "nothing was withheld.",
}

TABLE_DESCRIPTIONS = {
    "metric_values": "One row per metric, period, geography and breakdown: the statistic, "
    "its 95% and 99.8% limits, the counts behind it and the comparison with the parent.",
    "inequality_gaps": "Gaps between the most and least deprived quintiles, Core20 and the "
    "rest, and the slope and relative indices of inequality.",
    "metric_spc": "Statistical process control (XmR) points of every monthly series.",
    "maturity_levels": "Maturity matrix level achieved per neighbourhood, period and domain.",
    "metric_catalogue": "Every metric: definition, unit, method, polarity, periods, "
    "breakdowns, sources and the policy aim it evidences.",
}


@dataclass(frozen=True)
class PublishedFile:
    """One file of a publication."""

    name: str
    rows: int | None
    sha256: str


@dataclass(frozen=True)
class Change:
    """One metric_values cell that changed between publications."""

    cell: tuple[str, ...]
    previous: str
    current: str


@dataclass(frozen=True)
class Changes:
    """What changed in metric_values since the previous publication in the same place."""

    first_publication: bool
    metrics_added: tuple[str, ...] = ()
    metrics_removed: tuple[str, ...] = ()
    rows_added: int = 0
    rows_removed: int = 0
    moved: tuple[Change, ...] = ()
    moved_count: int = 0
    newly_suppressed: tuple[Change, ...] = ()
    newly_suppressed_count: int = 0
    no_longer_suppressed_count: int = 0

    def headline(self) -> str:
        """One line for the console."""
        if self.first_publication:
            return "First publication in this directory."
        return (
            f"Since the previous publication: {len(self.metrics_added)} metrics added, "
            f"{len(self.metrics_removed)} removed, {self.rows_added:,} rows added, "
            f"{self.rows_removed:,} removed, {self.moved_count:,} values moved beyond their "
            f"previous 95% limits, {self.newly_suppressed_count:,} cells newly suppressed."
        )

    def markdown(self) -> str:
        """The human-readable summary written to changes.md."""
        lines = ["# Changes since the previous publication", ""]
        if self.first_publication:
            lines.append("This is the first publication in this directory.")
            return "\n".join(lines) + "\n"
        lines.append(self.headline())
        lines.append("")
        lines.append(f"- Metrics added: {_listed(self.metrics_added)}")
        lines.append(f"- Metrics removed: {_listed(self.metrics_removed)}")
        lines.append(f"- Rows added: {self.rows_added:,}; rows removed: {self.rows_removed:,}")
        lines.append(
            f"- Cells no longer suppressed: {self.no_longer_suppressed_count:,}"
        )
        sections = (
            (
                "Values outside their previous 95% limits",
                self.moved,
                self.moved_count,
                "previous value (95% limits)",
            ),
            ("Newly suppressed cells", self.newly_suppressed, self.newly_suppressed_count,
             "previous value"),
        )
        for title, changes, count, previous_label in sections:
            lines += ["", f"## {title} ({count:,})", ""]
            if not changes:
                lines.append("None.")
                continue
            lines.append(
                f"| {' | '.join(CELL_KEY)} | {previous_label} | now |"
            )
            lines.append("|" + "---|" * (len(CELL_KEY) + 2))
            for change in changes:
                cells = " | ".join(_md(part) for part in change.cell)
                lines.append(f"| {cells} | {_md(change.previous)} | {_md(change.current)} |")
            if count > len(changes):
                lines.append("")
                lines.append(f"The first {len(changes)} of {count:,} are listed.")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GeographyWithheld:
    """Published metric_values cells of one geography level, and how many are withheld."""

    cells: int
    withheld: int

    @property
    def share(self) -> float:
        """The share of cells withheld (0 without cells)."""
        return self.withheld / self.cells if self.cells else 0.0


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
    if not warehouse.is_file():
        raise UsageError(f"no warehouse at {warehouse}; run `nbhd build` first")
    out = out.resolve()
    _check_destination(out)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = _locate_tables(con)
        # only the disclosed marts: what leaves the warehouse was decided in the build
        frames = {name: _read(con, tables[name]) for name in tables}
        comments = _published_comments(_comments(con, tables))
        build_info = _build_info(con)
        inputs = _read(con, '"raw"."input_files"').sort("dataset", "file_name")
    finally:
        con.close()

    threshold, rounding = disclosure_settings(build_info)
    catalogue = frames["metric_catalogue"]
    names = _geography_names(frames.get("geographies"))
    derived = ("is_suppressed", "suppressed_columns")
    published = {
        "metric_values": published_metric_values(
            frames["disclosed_metric_values"], catalogue, names
        ),
        "inequality_gaps": _with_labels(
            frames["disclosed_inequality_gaps"].select(*INEQUALITY_COLUMNS, *derived),
            catalogue,
            names,
        ),
        "metric_spc": _with_labels(
            frames["disclosed_metric_spc"].select(*SPC_COLUMNS, *derived), catalogue, names
        ),
        "maturity_levels": _maturity_levels(frames["maturity_levels"], names),
    }
    withheld_by_geography = withheld_by_geography_level(published["metric_values"])
    changes = compare_publications(_previous_metric_values(out), published["metric_values"])

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.publishing-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        files = [
            *_write_tables(published, staging),
            _write_csv(catalogue, staging / CATALOGUE_CSV),
        ]
        dictionary = data_dictionary(published, catalogue, comments, rounding, threshold)
        files.append(_write_csv(dictionary, staging / DICTIONARY_CSV))
        (staging / DICTIONARY_MD).write_text(
            dictionary_markdown(dictionary, catalogue, files, threshold, rounding),
            encoding="utf-8",
        )
        files.append(_described(staging / DICTIONARY_MD, rows=None))
        (staging / CHANGES_MD).write_text(changes.markdown(), encoding="utf-8")
        files.append(_described(staging / CHANGES_MD, rows=None))
        suppressed = {
            name: int(frame["is_suppressed"].sum())
            for name, frame in published.items()
            if "is_suppressed" in frame.columns
        }
        seconds = time.perf_counter() - started
        manifest = _manifest(
            published_at, seconds, build_info, inputs, files, threshold, rounding, suppressed,
            withheld_by_geography, warehouse,
        )
        (staging / MANIFEST).write_text(
            json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
        swap_directory(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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


# ---------------------------------------------------------------- reading the warehouse


def _check_destination(out: Path) -> None:
    """`out` must be new, empty, or an earlier publication (which is then replaced)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file; give a directory for the publication")
    if out.is_dir() and any(out.iterdir()) and not _is_publication(out):
        raise UsageError(
            f"{out} is not empty and holds no earlier publication; "
            "choose a new or empty directory"
        )


def _is_publication(directory: Path) -> bool:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("publisher") == PUBLISHER


def _locate_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Qualified names of the marts and seeds publish reads, found as every command finds
    them (metrics_cli.warehouse: marts, seeds and the build record only)."""
    wanted = (*SOURCES.values(), "metric_catalogue")
    located = locate(con)
    missing = [name for name in wanted if name not in located]
    if missing:
        raise DataError(
            f"the warehouse has no {', '.join(missing)}; rebuild it with `nbhd build`"
        )
    names = [*wanted, "geographies"]
    return {name: located[name] for name in names if name in located}


def _read(con: duckdb.DuckDBPyConnection, qualified: str) -> pl.DataFrame:
    """A table as a polars frame, decimals as doubles."""
    frame: pl.DataFrame = con.sql(f"select * from {qualified}").pl()
    return frame.with_columns(
        pl.col(name).cast(pl.Float64)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal)
    )


def _comments(
    con: duckdb.DuckDBPyConnection, tables: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """Descriptions dbt persisted (`persist_docs`): (table, column) -> text; column '' is
    the table's own description."""
    described: dict[tuple[str, str], str] = {}
    for name, qualified in tables.items():
        schema = qualified.split(".")[0].strip('"')
        table_comment = con.execute(
            "select comment from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, name],
        ).fetchone()
        if table_comment and table_comment[0]:
            described[(name, "")] = " ".join(str(table_comment[0]).split())
        for column, comment in con.execute(
            "select column_name, comment from duckdb_columns() "
            "where schema_name = ? and table_name = ?",
            [schema, name],
        ).fetchall():
            if comment:
                described[(name, str(column))] = " ".join(str(comment).split())
    return described


def _published_comments(
    comments: Mapping[tuple[str, str], str],
) -> dict[tuple[str, str], str]:
    """The descriptions under the published tables' names (a disclosed mart's docs describe
    the file published from it)."""
    renamed = {source: name for name, source in SOURCES.items()}
    return {(renamed.get(table, table), column): text for (table, column), text in comments.items()}


def _build_info(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    try:
        rows = con.execute('select key, value from "raw"."build_info"').fetchall()
    except duckdb.CatalogException as error:
        raise DataError("the warehouse has no raw.build_info; rebuild it with `nbhd build`") from (
            error
        )
    return {str(key): "" if value is None else str(value) for key, value in rows}


def disclosure_settings(build_info: Mapping[str, str]) -> tuple[int, int]:
    """The threshold and rounding the warehouse was built with (see settings_from_build_vars)."""
    return settings_from_build_vars(build_info.get("vars"))


# ---------------------------------------------------------------- the published layout


def _geography_names(geographies: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"geography_type": pl.Utf8, "geography_code": pl.Utf8, "geography_name": pl.Utf8}
    if geographies is None or "geography_name" not in geographies.columns:
        return pl.DataFrame(schema=schema)
    return geographies.select(list(schema)).cast(schema).unique(  # type: ignore[arg-type]
        ["geography_type", "geography_code"], keep="first"
    )


def _with_labels(
    frame: pl.DataFrame, catalogue: pl.DataFrame, names: pl.DataFrame
) -> pl.DataFrame:
    """Title and unit after metric_id, geography_name after geography_code."""
    labelled = frame.join(
        catalogue.select("metric_id", "title", "unit"), on="metric_id", how="left"
    ).join(names, on=["geography_type", "geography_code"], how="left")
    order: list[str] = []
    for column in frame.columns:
        order.append(column)
        if column == "metric_id":
            order += ["title", "unit"]
        if column == "geography_code":
            order.append("geography_name")
    return labelled.select(order).sort(
        [c for c in frame.columns if c in (*CELL_KEY, "period_label")], nulls_last=True
    )


def published_metric_values(
    protected: pl.DataFrame, catalogue: pl.DataFrame, names: pl.DataFrame
) -> pl.DataFrame:
    """Disclosure-controlled metric_values in the published layout, sorted by cell; the
    build's `suppression_rule` is left behind (see PUBLISHED_METRIC_VALUES)."""
    labelled = (
        protected.join(catalogue.select("metric_id", "title", "unit"), on="metric_id", how="left")
        .join(names, on=["geography_type", "geography_code"], how="left")
    )
    return labelled.select(PUBLISHED_METRIC_VALUES).sort(list(CELL_KEY))


def withheld_by_geography_level(metric_values: pl.DataFrame) -> dict[str, GeographyWithheld]:
    """Published metric_values cells and cells withheld per geography level, finest first."""
    counted = metric_values.group_by("geography_type").agg(
        pl.len().alias("cells"), pl.col("is_suppressed").sum().alias("withheld")
    )
    found = {
        str(row["geography_type"]): GeographyWithheld(int(row["cells"]), int(row["withheld"]))
        for row in counted.iter_rows(named=True)
    }
    order = [level for level in GEOGRAPHY_LEVELS if level in found]
    order += sorted(set(found) - set(GEOGRAPHY_LEVELS))
    return {level: found[level] for level in order}


def _maturity_levels(levels: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    neighbourhoods = names.filter(pl.col("geography_type") == "neighbourhood").select(
        pl.col("geography_code").alias("neighbourhood_code"),
        pl.col("geography_name").alias("neighbourhood_name"),
    )
    order = list(MATURITY_LEVELS_COLUMNS)
    order.insert(1, "neighbourhood_name")
    return (
        levels.select(MATURITY_LEVELS_COLUMNS)
        .join(neighbourhoods, on="neighbourhood_code", how="left")
        .select(order)
        .sort("neighbourhood_code", "assessment_period", "domain_id")
    )


def hidden_cells(name: str, frame: pl.DataFrame) -> dict[str, pl.Expr]:
    """For each column of a published table that can be withheld, when it was."""
    if name == "metric_values":
        return {c: pl.col("is_suppressed") for c in HIDDEN_COLUMNS if c in frame.columns}
    if "suppressed_columns" not in frame.columns:
        return {}
    listed = pl.col("suppressed_columns").fill_null("")
    return {
        c: pl.concat_str(pl.lit("|"), listed, pl.lit("|")).str.contains(f"|{c}|", literal=True)
        for c in frame.columns
        if c not in ("is_suppressed", "suppressed_columns")
    }


def csv_frame(frame: pl.DataFrame, hidden: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """Every column as text for CSV: `*` where withheld, whole numbers without a decimal
    point, dates ISO, booleans `true`/`false`, nulls empty."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_float():
            text = (
                pl.when(column.is_finite() & (column == column.round(0)) & (column.abs() < 1e15))
                .then(column.cast(pl.Int64).cast(pl.Utf8))
                .otherwise(column.cast(pl.Utf8))
            )
        elif dtype == pl.Boolean:
            text = pl.when(column).then(pl.lit("true")).when(~column).then(pl.lit("false"))
        else:
            text = column.cast(pl.Utf8)
        if name in hidden:
            text = pl.when(hidden[name]).then(pl.lit("*")).otherwise(text)
        columns.append(text.alias(name))
    return frame.select(columns)


# ---------------------------------------------------------------- writing


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _described(path: Path, rows: int | None) -> PublishedFile:
    return PublishedFile(name=path.name, rows=rows, sha256=_sha256(path))


def _write_csv(frame: pl.DataFrame, path: Path) -> PublishedFile:
    write_csv(csv_frame(frame, {}), path)
    return _described(path, frame.height)


def _write_tables(published: Mapping[str, pl.DataFrame], directory: Path) -> list[PublishedFile]:
    files = []
    for name, frame in published.items():
        csv_path = directory / f"{name}.csv"
        write_csv(csv_frame(frame, hidden_cells(name, frame)), csv_path)
        files.append(_described(csv_path, frame.height))
        parquet_path = directory / f"{name}.parquet"
        frame.write_parquet(parquet_path)
        files.append(_described(parquet_path, frame.height))
    return files


def _git_commit(project_dir: Path) -> tuple[str | None, bool | None]:
    """The commit the code was run from, and whether the tree had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty


def _manifest(
    published_at: datetime,
    seconds: float,
    build_info: Mapping[str, str],
    inputs: pl.DataFrame,
    files: Sequence[PublishedFile],
    threshold: int,
    rounding: int,
    suppressed: Mapping[str, int],
    withheld_by_geography: Mapping[str, GeographyWithheld],
    warehouse: Path,
) -> dict[str, Any]:
    commit, dirty = _git_commit(load_settings().project_dir)
    build = {key: value for key, value in build_info.items() if key not in ("vars", "data_dir")}
    return {
        "publisher": PUBLISHER,
        "published_at": published_at.isoformat(timespec="seconds"),
        "run_seconds": round(seconds, 3),
        "code": {"version": __version__, "git_commit": commit, "git_uncommitted_changes": dirty},
        "warehouse": {"file": warehouse.name, **build},
        "vars": json.loads(build_info.get("vars") or "{}"),
        "disclosure": {
            "threshold": threshold,
            "rounding": rounding,
            "minimum_patients_or_respondents": MIN_BASE,
            "rows_with_figures_withheld": dict(suppressed),
            "metric_values_withheld_by_geography": {
                level: {
                    "cells": counted.cells,
                    "withheld": counted.withheld,
                    "share": round(counted.share, 6),
                }
                for level, counted in withheld_by_geography.items()
            },
        },
        "inputs": inputs.to_dicts(),
        "files": [
            {"name": f.name, "rows": f.rows, "sha256": f.sha256}
            for f in sorted(files, key=lambda f: f.name)
        ],
    }


# ---------------------------------------------------------------- data dictionary


def _type_name(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype.is_numeric():
        return "decimal"
    if dtype == pl.Date:
        return "date"
    if dtype.is_temporal():
        return "timestamp"
    return "text"


def _publication_note(table: str, column: str, rounding: int) -> str:
    if table == "metric_values" and column == "numerator":
        return (
            f"Published: counts of people or events are rounded to the nearest {rounding}; "
            "FTE and money are not; empty for means (the sum of per-patient values is not "
            "published); `*` where withheld."
        )
    if table == "metric_values" and column in COUNT_COLUMNS:
        return (
            f"Published: counts of people or events are rounded to the nearest {rounding}; "
            "FTE and money are not; `*` where withheld."
        )
    if table == "metric_values" and column in DERIVED_COLUMNS and column.startswith(
        ("value", "lower", "upper")
    ):
        return (
            "Published: computed from the rounded counts, so it never gives the exact counts "
            "back (the warehouse keeps the exact figures); `*` where withheld."
        )
    if table == "metric_values" and column in DERIVED_COLUMNS:
        return "Published: made again from the published values; `*` where withheld."
    return ""


def data_dictionary(
    published: Mapping[str, pl.DataFrame],
    catalogue: pl.DataFrame,
    comments: Mapping[tuple[str, str], str],
    rounding: int,
    threshold: int,
) -> pl.DataFrame:
    """One row per published file and column: type and description. Descriptions come
    from the dbt docs persisted in the warehouse, with what publication changes added."""
    rows: list[dict[str, str]] = []
    sources = {"title": "metric_catalogue", "unit": "metric_catalogue"}
    tables = {**published, "metric_catalogue": catalogue}
    for table, frame in tables.items():
        file_name = f"{table}.csv" if table == "metric_catalogue" else f"{table}.csv / .parquet"
        for column, dtype in frame.schema.items():
            description = comments.get((table, column)) or comments.get(
                (sources.get(column, ""), column), ""
            )
            if column in ADDED_COLUMNS and not description:
                description = ADDED_COLUMNS[column]
            if table == "metric_values" and column == "is_suppressed":
                description = " ".join(
                    part for part in (description, withheld_description(threshold)) if part
                )
            if column == "geography_name" and ("geographies", column) in comments:
                description = comments[("geographies", column)]
            note = _publication_note(table, column, rounding)
            rows.append(
                {
                    "file": file_name,
                    "column": column,
                    "type": _type_name(dtype),
                    "description": " ".join(part for part in (description, note) if part),
                }
            )
    return pl.DataFrame(
        rows, schema={"file": pl.Utf8, "column": pl.Utf8, "type": pl.Utf8, "description": pl.Utf8}
    )


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _listed(items: Sequence[str]) -> str:
    return ", ".join(f"`{item}`" for item in items) if items else "none"


def dictionary_markdown(
    dictionary: pl.DataFrame,
    catalogue: pl.DataFrame,
    files: Sequence[PublishedFile],
    threshold: int,
    rounding: int,
) -> str:
    """The data dictionary as a Markdown page: files, columns, metrics, disclosure rules."""
    lines = [
        "# Data dictionary",
        "",
        f"Generated by `nbhd publish` (version {__version__}). Each table is published as "
        "CSV (UTF-8, comma separated, header row, ISO dates, `*` where a figure is withheld) "
        "and as Parquet (typed; withheld figures are null).",
        "",
        CSV_SAFETY_NOTE,
        "",
        "## Files",
        "",
        "| file | rows | holds |",
        "|---|---|---|",
    ]
    for published_file in sorted(files, key=lambda f: f.name):
        stem = published_file.name.rsplit(".", 1)[0]
        holds = TABLE_DESCRIPTIONS.get(stem, "")
        if published_file.name == DICTIONARY_CSV:
            holds = "This dictionary, one row per file and column."
        count = "" if published_file.rows is None else f"{published_file.rows:,}"
        lines.append(f"| `{published_file.name}` | {count} | {_md(holds)} |")
    lines += [
        f"| `{DICTIONARY_MD}` | | This page. |",
        f"| `{CHANGES_MD}` | | What changed since the previous publication. |",
        f"| `{MANIFEST}` | | Inputs with checksums and row counts, code version, vars, "
        "run time, and a checksum of every file. |",
    ]
    lines += [
        "",
        "## Disclosure control",
        "",
        f"Counts from 1 to {threshold} are withheld (`*`); other counts of people or events "
        f"are rounded to the nearest {rounding}, and each value and its limits are computed "
        "from the rounded counts, so no published figure gives the exact counts back. "
        "Values and limits whose counts are withheld are withheld. Means of continuity "
        f"indices from fewer than {MIN_BASE} patients and survey results from fewer than "
        f"{MIN_BASE} respondents are withheld; for means the sum of per-patient values is "
        "not published. Further cells are withheld where a withheld one could otherwise be "
        "worked out by subtraction from totals (quintiles from `all`, practices from their "
        "PCN, months from their year, and so on). The SPC charts and inequality gaps are "
        "computed from the published values, and what they would reveal of a withheld cell "
        "is withheld too. The unrounded figures stay inside the warehouse.",
        "",
        "A withheld figure is only marked as withheld (`*` in the CSV files, null with "
        "`is_suppressed` true in the Parquet files). " + withheld_description(threshold),
    ]
    for (file_name,), rows in dictionary.group_by(["file"], maintain_order=True):
        lines += ["", f"## `{file_name}`", "", "| column | type | description |", "|---|---|---|"]
        for row in rows.iter_rows(named=True):
            lines.append(f"| `{row['column']}` | {row['type']} | {_md(row['description'])} |")
    lines += [
        "",
        "## Metrics",
        "",
        "| metric_id | title | unit | method | polarity | periods | breakdowns | policy aim |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in catalogue.sort("family", "metric_id").iter_rows(named=True):
        cells = [
            f"`{row['metric_id']}`",
            _md(row["title"]),
            _md(row["unit"]),
            _md(row["method"]),
            _md(row["polarity"]),
            _md(str(row["period_grains"]).replace("|", ", ")),
            _md(str(row["breakdowns"]).replace("|", ", ")),
            _md(row["policy_aim"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "### Definitions", ""]
    for row in catalogue.sort("family", "metric_id").iter_rows(named=True):
        lines.append(f"- `{row['metric_id']}`: {' '.join(str(row['description']).split())}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- changes


def _previous_metric_values(out: Path) -> pl.DataFrame | None:
    path = out / "metric_values.parquet"
    if not _is_publication(out) or not path.is_file():
        return None
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError):
        return None


def _describe_value(value: float | None, lower: float | None, upper: float | None) -> str:
    if value is None:
        return "*"
    if lower is None or upper is None:
        return f"{value:.6g}"
    return f"{value:.6g} ({lower:.6g} to {upper:.6g})"


def compare_publications(previous: pl.DataFrame | None, current: pl.DataFrame) -> Changes:
    """What changed in published metric_values: metrics and rows added or removed, values
    now outside their previous 95% limits, and cells newly suppressed."""
    needed = {*CELL_KEY, "value", "lower_95", "upper_95", "is_suppressed"}
    if previous is None or not needed <= set(previous.columns):
        return Changes(first_publication=True)
    key = list(CELL_KEY)
    old_metrics = set(previous["metric_id"].to_list())
    new_metrics = set(current["metric_id"].to_list())
    old = previous.select(*key, "value", "lower_95", "upper_95", "is_suppressed").cast(
        {c: current.schema[c] for c in key}
    )
    both = old.join(
        current.select(*key, "value", "is_suppressed"), on=key, how="inner", suffix="_now"
    )
    moved = both.filter(
        ~pl.col("is_suppressed")
        & ~pl.col("is_suppressed_now")
        & pl.col("value_now").is_not_null()
        & (
            (pl.col("value_now") < pl.col("lower_95"))
            | (pl.col("value_now") > pl.col("upper_95"))
        )
    ).sort(key)
    newly = both.filter(~pl.col("is_suppressed") & pl.col("is_suppressed_now")).sort(key)
    released = both.filter(pl.col("is_suppressed") & ~pl.col("is_suppressed_now")).height

    def cell(row: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(row[c]) for c in key)

    return Changes(
        first_publication=False,
        metrics_added=tuple(sorted(new_metrics - old_metrics)),
        metrics_removed=tuple(sorted(old_metrics - new_metrics)),
        rows_added=current.join(old, on=key, how="anti").height,
        rows_removed=old.join(current, on=key, how="anti").height,
        moved=tuple(
            Change(
                cell(row),
                _describe_value(row["value"], row["lower_95"], row["upper_95"]),
                _describe_value(row["value_now"], None, None),
            )
            for row in moved.head(MAX_LISTED_CHANGES).iter_rows(named=True)
        ),
        moved_count=moved.height,
        newly_suppressed=tuple(
            Change(cell(row), _describe_value(row["value"], None, None), "*")
            for row in newly.head(MAX_LISTED_CHANGES).iter_rows(named=True)
        ),
        newly_suppressed_count=newly.height,
        no_longer_suppressed_count=released,
    )
