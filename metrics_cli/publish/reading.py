"""What publish reads from the warehouse, and the disclosure settings it was built with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics_cli.disclosure import (
    CELL_KEY,
    key_order_sql,
    settings_from_build_vars,
)
from metrics_cli.errors import DataError
from metrics_cli.warehouse import Warehouse, open_warehouse

SOURCES = {
    "metric_values": "disclosed_metric_values",
    "inequality_gaps": "disclosed_inequality_gaps",
    "metric_spc": "disclosed_metric_spc",
    "maturity_levels": "maturity_levels",
}
"""The mart each published table is read from: the disclosed marts only, never
metric_values, metric_spc or inequality_gaps (which hold exact figures)."""
JUDGEMENTS = {
    "metric_values": (
        "metric_judgements",
        CELL_KEY,
        ("year_before_period_label", "change_from_year_before", "comparison_to_icb"),
    ),
    "inequality_gaps": (
        "inequality_judgements",
        ("metric_id", "period_grain", "period_label", "geography_type", "geography_code"),
        ("gap_direction",),
    ),
}
"""For each published table that shows a comparison: the mart holding its judgements, the
key joining them row by row, and the judgement columns published. Every judgement is made
once in dbt (docs/judgements.md); publish carries the column, it never decides one."""


@dataclass(frozen=True)
class PublishInputs:
    """What publish reads from a warehouse: the disclosed marts and seeds by name, their
    persisted descriptions under the published names, the build record."""

    frames: dict[str, pl.DataFrame]
    comments: dict[tuple[str, str], str]
    build_info: dict[str, str]
    inputs: pl.DataFrame


def read_inputs(warehouse: Path) -> PublishInputs:
    """Everything publish reads, through `metrics_cli.warehouse` (marts, seeds and the build
    record only): only the disclosed marts, since what leaves the warehouse was decided in
    the build."""
    with open_warehouse(warehouse) as opened:
        judgements = tuple(mart for mart, _, _ in JUDGEMENTS.values())
        wanted = (*SOURCES.values(), *judgements, "metric_catalogue")
        missing = [name for name in wanted if not opened.has(name)]
        if missing:
            raise DataError(
                f"the warehouse has no {', '.join(missing)}; rebuild it with `nbhd build`"
            )
        names = [*wanted, *(["geographies"] if opened.has("geographies") else [])]
        # a judgement mart is read only joined to its disclosed mart (`_judged`)
        frames = {name: _doubles(_judged(opened, name)) for name in names if name not in judgements}
        comments = published_comments(persisted_comments(opened, names))
        build_info = {
            str(key): "" if value is None else str(value)
            for key, value in opened.rows(f"select key, value from {opened.relation('build_info')}")
        }
        inputs = opened.read("input_files").sort("dataset", "file_name")
    return PublishInputs(frames, comments, build_info, inputs)


def _doubles(frame: pl.DataFrame) -> pl.DataFrame:
    """Decimals as doubles."""
    return frame.with_columns(
        pl.col(name).cast(pl.Float64)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Decimal)
    )


def persisted_comments(opened: Warehouse, names: Sequence[str]) -> dict[tuple[str, str], str]:
    """Descriptions dbt persisted (`persist_docs`): (table, column) -> text; column '' is
    the table's own description."""
    described: dict[tuple[str, str], str] = {}
    for name in names:
        schema = opened.relation(name).split(".")[0].strip('"')
        table_comment = opened.one(
            "select comment from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, name],
        )
        if table_comment and table_comment[0]:
            described[(name, "")] = " ".join(str(table_comment[0]).split())
        for column, comment in opened.rows(
            "select column_name, comment from duckdb_columns() "
            "where schema_name = ? and table_name = ?",
            [schema, name],
        ):
            if comment:
                described[(name, str(column))] = " ".join(str(comment).split())
    return described


def published_comments(
    comments: Mapping[tuple[str, str], str],
) -> dict[tuple[str, str], str]:
    """The descriptions under the published tables' names (a disclosed mart's docs describe
    the file published from it; a judgement mart's the judgement columns it adds)."""
    renamed = {source: name for name, source in SOURCES.items()}
    published = {
        (renamed.get(table, table), column): text for (table, column), text in comments.items()
    }
    for name, (mart, _, columns) in JUDGEMENTS.items():
        for column in columns:
            if (mart, column) in comments:
                published[(name, column)] = comments[(mart, column)]
    return published


def _judged(opened: Warehouse, source: str) -> pl.DataFrame:
    """A mart as publish reads it: a disclosed mart whose published table shows a
    comparison with its judgement mart's published columns joined row by row (JUDGEMENTS,
    a missing key part matching a missing one) and in key order, any other mart whole.

    The join runs in the warehouse, within DuckDB's memory limit, and only its result
    reaches Python: joined in Python, the national metric_values (10.6 million rows) and their
    judgements took publish to 16.1 GB at its peak (docs/performance.md)."""
    published = {mart: name for name, mart in SOURCES.items()}.get(source)
    if published not in JUDGEMENTS:
        return opened.read(source)
    mart, key, columns = JUDGEMENTS[published]
    matched = " and ".join(f'shown."{c}" is not distinct from judged."{c}"' for c in key)
    judgement_columns = ", ".join(f'judged."{c}"' for c in columns)
    joined = opened.frame(
        f"select shown.*, {judgement_columns} from {opened.relation(source)} as shown "
        f"left join {opened.relation(mart)} as judged on {matched} "
        f"order by {key_order_sql(key, 'shown')}"
    )
    counted = opened.one(f"select count(*) from {opened.relation(source)}")
    if counted is None or joined.height != counted[0]:
        raise DataError(
            f"{mart} holds more than one row for a row of {published}; rebuild the warehouse"
        )
    return joined


def disclosure_settings(build_info: Mapping[str, str]) -> tuple[int, int]:
    """The threshold and rounding the warehouse was built with (see settings_from_build_vars)."""
    return settings_from_build_vars(build_info.get("vars"))
