"""The data dictionary (CSV and Markdown), generated from the catalogue and the column docs
dbt persists into the warehouse."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from metrics_cli import __version__
from metrics_cli.disclosure import (
    COUNT_COLUMNS,
    DERIVED_COLUMNS,
    MIN_BASE,
    withheld_reasons,
)
from metrics_cli.files import CSV_SAFETY_NOTE
from metrics_cli.publish.manifest import CHANGES_MD, DICTIONARY_CSV, DICTIONARY_MD, MANIFEST
from metrics_cli.publish.tables import PublishedFile


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
    if (
        table == "metric_values"
        and column in DERIVED_COLUMNS
        and column.startswith(("value", "lower", "upper"))
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


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def listed(items: Sequence[str]) -> str:
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
        lines.append(f"| `{published_file.name}` | {count} | {md_cell(holds)} |")
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
            lines.append(f"| `{row['column']}` | {row['type']} | {md_cell(row['description'])} |")
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
            md_cell(row["title"]),
            md_cell(row["unit"]),
            md_cell(row["method"]),
            md_cell(row["polarity"]),
            md_cell(str(row["period_grains"]).replace("|", ", ")),
            md_cell(str(row["breakdowns"]).replace("|", ", ")),
            md_cell(row["policy_aim"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "### Definitions", ""]
    for row in catalogue.sort("family", "metric_id").iter_rows(named=True):
        lines.append(f"- `{row['metric_id']}`: {' '.join(str(row['description']).split())}")
    return "\n".join(lines) + "\n"
