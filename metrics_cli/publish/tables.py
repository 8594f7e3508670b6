"""The published layout: each disclosed mart as a tidy table (metric title and unit beside
each id, geography names, suppression flags), withheld cells shown as `*` in CSV, and the
files written with their checksums."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics_cli.disclosure import (
    CELL_KEY,
    HIDDEN_COLUMNS,
    in_key_order,
)
from metrics_cli.files import file_sha256, write_csv
from metrics_cli.marts import (
    MATURITY_LEVELS_COLUMNS,
)

TABLES = ("metric_values", "inequality_gaps", "metric_spc", "maturity_levels")


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
    "year_before_period_label",
    "change_from_year_before",
    "comparison_to_icb",
    "not_calculated_reason",
    "is_suppressed",
)
"""The published metric_values columns. The build's `suppression_rule` is not among them:
which cells are small is itself disclosive (a small year whose six months were each marked
"fewer than 8" would be 6 or 7), so a withheld row says only that it is withheld.
`year_before_period_label`, `change_from_year_before` and `comparison_to_icb` are
metric_judgements' columns (publish joins them, never decides them)."""


@dataclass(frozen=True)
class PublishedFile:
    """One file of a publication."""

    name: str
    rows: int | None
    sha256: str


@dataclass(frozen=True)
class GeographyWithheld:
    """Published metric_values cells of one geography level, and how many are withheld."""

    cells: int
    withheld: int

    @property
    def share(self) -> float:
        """The share of cells withheld (0 without cells)."""
        return self.withheld / self.cells if self.cells else 0.0


def geography_names(geographies: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"geography_type": pl.Utf8, "geography_code": pl.Utf8, "geography_name": pl.Utf8}
    if geographies is None or "geography_name" not in geographies.columns:
        return pl.DataFrame(schema=schema)
    selected = geographies.select(list(schema))
    return selected.cast(schema).unique(  # type: ignore[arg-type]
        ["geography_type", "geography_code"], keep="first"
    )


def with_labels(frame: pl.DataFrame, catalogue: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
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
    labelled = protected.join(
        catalogue.select("metric_id", "title", "unit"),
        on="metric_id",
        how="left",
        maintain_order="left",
    ).join(names, on=["geography_type", "geography_code"], how="left", maintain_order="left")
    # read in key order (`_judged`): checked, and sorted only if it is not
    return in_key_order(labelled.select(PUBLISHED_METRIC_VALUES), CELL_KEY)


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


def published_maturity_levels(levels: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
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


def described(path: Path, rows: int | None) -> PublishedFile:
    return PublishedFile(name=path.name, rows=rows, sha256=file_sha256(path))


def write_published_csv(frame: pl.DataFrame, path: Path) -> PublishedFile:
    write_csv(csv_frame(frame, {}), path)
    return described(path, frame.height)


def write_tables(published: Mapping[str, pl.DataFrame], directory: Path) -> list[PublishedFile]:
    files = []
    for name, frame in published.items():
        csv_path = directory / f"{name}.csv"
        write_csv(csv_frame(frame, hidden_cells(name, frame)), csv_path)
        files.append(described(csv_path, frame.height))
        parquet_path = directory / f"{name}.parquet"
        frame.write_parquet(parquet_path)
        files.append(described(parquet_path, frame.height))
    return files
