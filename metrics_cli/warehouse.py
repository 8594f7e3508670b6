"""Read-only access to a built warehouse: the one way commands open it and read a mart.

Everything outside dbt reads the warehouse through `open_warehouse` and reads the marts,
the seeds and the build record by name (`READABLE`); a staging or intermediate model is
not readable from here, so no command can come to depend on one. Relations are found in
the schema dbt built them in (`main`, or the first other schema holding them) and quoted
once, here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from metrics_cli.errors import DataError
from metrics_cli.files import check_warehouse_to_read

MARTS = (
    "metric_values",
    "disclosed_metric_values",
    "metric_spc",
    "disclosed_metric_spc",
    "inequality_gaps",
    "disclosed_inequality_gaps",
    "metric_judgements",
    "inequality_judgements",
    "geographies",
    "geography_snapshots",
    "assessment_periods",
    "maturity_levels",
    "maturity_criteria_results",
    "maturity_matrix",
    "practice_memberships",
    "data_quality",
)
"""The marts (models/marts)."""
SEEDS = ("metric_catalogue", "maturity_domains", "maturity_criteria", "spc_targets")
"""Seeds a reader may need to name and describe what the marts hold."""
BUILD_RECORD = ("build_info", "input_files", "validation_results")
"""What `nbhd build` records beside the dbt models, in schema `raw`."""
READABLE = frozenset((*MARTS, *SEEDS, *BUILD_RECORD))


@dataclass(frozen=True)
class Warehouse:
    """A warehouse opened read-only, with the quoted names of the relations it holds."""

    con: duckdb.DuckDBPyConnection
    relations: dict[str, str]

    def has(self, name: str) -> bool:
        """Whether the warehouse holds the readable relation `name`."""
        return _readable(name) in self.relations

    def relation(self, name: str) -> str:
        """`"main"."name"`: the quoted name of a readable relation; a missing one is a data
        error naming the command that makes it."""
        quoted = self.relations.get(_readable(name))
        if quoted is None:
            raise DataError(f"the warehouse has no {name} table; rebuild it with `nbhd build`")
        return quoted

    def frame(self, sql: str, params: Sequence[object] | None = None) -> pl.DataFrame:
        """A query's result as a polars frame; name relations with `relation`."""
        frame: pl.DataFrame = self.con.sql(sql, params=params).pl()
        return frame

    def rows(self, sql: str, params: Sequence[object] | None = None) -> list[tuple[Any, ...]]:
        """A query's rows, fully fetched."""
        return self.con.sql(sql, params=params).fetchall()

    def one(self, sql: str, params: Sequence[object] | None = None) -> tuple[Any, ...] | None:
        """A query's first row, or None."""
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def read(self, name: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """A whole mart (or the given columns of it) by name."""
        selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return self.frame(f"select {selected} from {self.relation(name)}")


def _readable(name: str) -> str:
    if name not in READABLE:
        raise ValueError(f"{name} is not a mart, seed or build record: commands do not read it")
    return name


def locate(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The quoted name of every readable relation: dbt's models and seeds in `main` first,
    then any other schema; the build record in `raw`."""
    rows = con.sql(
        "select table_schema, table_name from information_schema.tables "
        "order by table_schema <> 'main', table_schema, table_name"
    ).fetchall()
    found: dict[str, str] = {}
    for schema, name in rows:
        if name not in READABLE or name in found:
            continue
        if (name in BUILD_RECORD) != (schema == "raw"):
            continue
        found[str(name)] = f'"{schema}"."{name}"'
    return found


@contextmanager
def open_warehouse(path: Path) -> Iterator[Warehouse]:
    """The warehouse at `path`, read-only, closed on exit; a missing file, or one that is not
    a DuckDB warehouse, is a usage error."""
    check_warehouse_to_read(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield Warehouse(con, locate(con))
    finally:
        con.close()
