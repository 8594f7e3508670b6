"""Where `nbhd build` runs the dbt project: DuckDB (the default) or a local Spark session.

Both targets build the same way (docs/architecture.md, "Engines"): dbt builds everything
up to the Python stage's inputs, the stage's first wave computes and writes its tables,
dbt builds what they feed, the second wave, then the rest. On DuckDB all of it happens in
the new warehouse file. On Spark, schema `raw` is copied from that file into the session,
dbt and the stage run there, and every table dbt built is copied back into the file's
schema `main` with its documentation, so reports, `publish` and `submit` read a Spark
build exactly as they read a DuckDB one.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from metrics_cli.dbt_vars import declared_vars
from metrics_cli.disclosure import key_order_sql
from metrics_cli.errors import UsageError
from metrics_cli.python_stage import STAGE_SCHEMA, WAVES, Engine, run_wave, wave_selectors

TARGETS = ("duckdb", "spark")
DEFAULT_TARGET = "duckdb"
SPARK_SCHEMA_ENV = "NBHD_SPARK_SCHEMA"
SPARK_MASTER_ENV = "NBHD_SPARK_MASTER"

RunDbt = Callable[[list[str]], list[str]]


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise UsageError(f"--target must be one of {', '.join(TARGETS)}, not '{target}'")
    return target


def stage_vars(dbt_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The vars the stage reads: dbt_project.yml's defaults with the build's --vars."""
    return {**declared_vars(), **dbt_vars}


# dbt unit tests check the SQL's logic against hand-worked rows: static inputs, the same
# whatever the data, so a build leaves them out on every engine, as dbt Labs recommends
# for production runs, and `make test` runs them on DuckDB against the tiny ICB's warehouse
# (tests/python/functional/test_dbt_unit_tests.py). They took 13 s of every build, about
# a tenth of an icb build's. On Spark their exact floating-point expectations would also
# compare maths libraries to the last bit (docs/architecture.md, "Engines").
WITHOUT_UNIT_TESTS = ("test_type:unit",)


def build_in_waves(
    run_dbt: RunDbt,
    open_engine: Callable[[], Iterator[Engine]],
    dbt_vars: Mapping[str, Any],
) -> list[str]:
    """dbt up to the stage, then each wave of the stage and what it feeds, leaving out the
    unit tests (`WITHOUT_UNIT_TESTS`); the failures of the first dbt invocation that fails
    (empty = success)."""
    values = stage_vars(dbt_vars)
    for index in range(-1, len(WAVES)):
        if index >= 0:
            with contextmanager(open_engine)() as engine:
                run_wave(WAVES[index], engine, values)
        select, exclude = wave_selectors(index)
        command = ["build"]
        if select:
            command += ["--select", *select]
        command += ["--exclude", *exclude, *WITHOUT_UNIT_TESTS]
        failures = run_dbt(command)
        if failures:
            return failures
    return []


class _Reads(ABC):
    """`Engine.read` for every engine: one SELECT, which the engine names and runs."""

    @abstractmethod
    def _name(self, relation: str) -> str:
        """`relation`'s name in the engine's SQL."""

    @abstractmethod
    def _frame(self, query: str) -> pl.DataFrame:
        """The rows of SQL `query`, run by the engine."""

    def read(
        self,
        relation: str,
        where: str | None = None,
        columns: Sequence[str] | None = None,
        order_by: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        selected = ", ".join(columns) if columns else "*"
        query = f"select {selected} from {self._name(relation)}"
        if where:
            query += f" where {where}"
        if order_by:
            query += f" order by {key_order_sql(order_by)}"
        return self._frame(query)


class DuckDBEngine(_Reads):
    """The stage over the new DuckDB warehouse file (dbt's relations are in `main`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def _name(self, relation: str) -> str:
        return f'main."{relation}"'

    def _frame(self, query: str) -> pl.DataFrame:
        frame: pl.DataFrame = self.con.sql(query).pl()
        return frame

    def write(self, table: str, frame: pl.DataFrame) -> None:
        self.con.execute(f"create schema if not exists {STAGE_SCHEMA}")
        self.con.register("stage_frame", frame.to_arrow())
        try:
            self.con.execute(
                f'create or replace table {STAGE_SCHEMA}."{table}" as select * from stage_frame'
            )
        finally:
            self.con.unregister("stage_frame")


def duckdb_engine(warehouse: Path) -> Callable[[], Iterator[Engine]]:
    def open_engine() -> Iterator[Engine]:
        con = duckdb.connect(str(warehouse))
        try:
            yield DuckDBEngine(con)
            con.execute("checkpoint")
        finally:
            con.close()

    return open_engine


def spark_schema() -> str:
    """The Spark database dbt builds into (profiles.yml: NBHD_SPARK_SCHEMA, default nbhd)."""
    return os.environ.get(SPARK_SCHEMA_ENV, "nbhd")


class SparkEngine(_Reads):
    """The stage over the Spark session dbt-spark uses."""

    def __init__(self, session: Any, schema: str) -> None:
        self.session = session
        self.schema = schema

    def _name(self, relation: str) -> str:
        return f"{self.schema}.{relation}"

    def _frame(self, query: str) -> pl.DataFrame:
        return _polars(self.session.sql(query).toArrow())

    def write(self, table: str, frame: pl.DataFrame) -> None:
        arrow = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
        data = self.session.createDataFrame(arrow) if arrow.num_rows else None
        if data is None:  # an empty frame: keep its columns and types
            data = self.session.createDataFrame([], schema=_spark_schema(arrow.schema))
        data.write.mode("overwrite").saveAsTable(f"{STAGE_SCHEMA}.{table}")


def _polars(arrow: pa.Table) -> pl.DataFrame:
    """A Spark result as polars, timestamps without a time zone as DuckDB gives them."""
    columns = []
    for field in arrow.schema:
        column = arrow[field.name]
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            column = column.cast(pa.timestamp(field.type.unit))
        columns.append(column)
    frame = pl.from_arrow(pa.table(columns, names=arrow.column_names))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def spark_session(work: Path) -> Any:
    """The local Spark session of this process (started once; later builds reuse it):
    an in-memory catalogue, UTC, few shuffle partitions; NBHD_SPARK_MASTER picks the
    master (default local[2])."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise UsageError(
            "--target spark needs PySpark and dbt-spark: pip install 'nbhd-metrics[spark]'"
        ) from error
    session = (
        SparkSession.builder.master(os.environ.get(SPARK_MASTER_ENV, "local[2]"))
        .appName("nbhd")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def build_on_spark(
    run_dbt: RunDbt, warehouse: Path, work: Path, dbt_vars: Mapping[str, Any], manifest: Path
) -> list[str]:
    """Copy schema `raw` of DuckDB file `warehouse` into a local Spark session, build there,
    and copy every table dbt built back into `warehouse`'s schema `main`."""
    session = spark_session(work)
    schema = spark_schema()
    databases = ("raw", schema, STAGE_SCHEMA)
    for database in databases:  # a session reused from an earlier build starts empty
        session.sql(f"drop database if exists {database} cascade")
        location = (work / "spark" / f"{database}.db").as_uri()
        session.sql(f"create database {database} location '{location}'")
    try:
        with duckdb.connect(str(warehouse)) as con:
            for (table,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'raw' "
                "order by table_name"
            ).fetchall():
                arrow = con.sql(f'select * from raw."{table}"').to_arrow_table()
                if arrow.num_rows:
                    data = session.createDataFrame(arrow)
                else:
                    data = session.createDataFrame([], schema=_spark_schema(arrow.schema))
                data.write.saveAsTable(f"raw.{table}")

        failures = build_with_session(session, schema, run_dbt, dbt_vars)
        if not failures:
            export_to_duckdb(session, schema, warehouse, manifest)
        return failures
    finally:
        for database in databases:
            session.sql(f"drop database if exists {database} cascade")


def build_with_session(
    session: Any, schema: str, run_dbt: RunDbt, dbt_vars: Mapping[str, Any]
) -> list[str]:
    """The dbt invocations and the Python stage over any Spark session whose database
    `raw` holds the inputs: a local one (`build_on_spark`), or a cluster's, from a
    Databricks notebook or job (README, "Running on Spark or Databricks")."""

    def open_engine() -> Iterator[Engine]:
        yield SparkEngine(session, schema)

    return build_in_waves(run_dbt, open_engine, dbt_vars)


RAW_RECORDS = ("build_info", "input_files", "validation_results")


def export_to_duckdb(session: Any, schema: str, warehouse: Path, manifest: Path) -> None:
    """Every table of Spark database `schema` into `main` of DuckDB file `warehouse`, with
    the descriptions dbt would have persisted there (persist_docs). A file without schema
    `raw` (marts built on a cluster) also gets the build's records from Spark's `raw`
    (build information, input files, validation results), which reports and `publish`
    quote."""
    docs = _descriptions(manifest)
    with duckdb.connect(str(warehouse)) as con:
        has_raw = con.execute(
            "select count(*) from duckdb_schemas() where schema_name = 'raw'"
        ).fetchall() != [(0,)]
        if not has_raw:
            con.execute("create schema raw")
            for name in RAW_RECORDS:
                _copy_table(con, session.table(f"raw.{name}"), f'raw."{name}"')
        for table in sorted(session.catalog.listTables(schema), key=lambda t: t.name):
            if table.tableType == "VIEW":
                continue  # staging views: over raw, which the file already holds
            frame = _copy_table(
                con, session.table(f"{schema}.{table.name}"), f'main."{table.name}"'
            )
            description, columns = docs.get(table.name, ("", {}))
            if description:
                con.execute(f'comment on table main."{table.name}" is {_literal(description)}')
            for column, text in columns.items():
                if text and column in frame.columns:
                    con.execute(
                        f'comment on column main."{table.name}"."{column}" is {_literal(text)}'
                    )
        con.execute("checkpoint")


def _copy_table(con: duckdb.DuckDBPyConnection, data: Any, name: str) -> pl.DataFrame:
    """Spark DataFrame `data` as DuckDB table `name` (replaced); returns its rows."""
    frame = _polars(data.toArrow())
    con.register("exported", frame.to_arrow())
    try:
        con.execute(f"create or replace table {name} as select * from exported")
    finally:
        con.unregister("exported")
    return frame


def _descriptions(manifest: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """Each model's and seed's description and column descriptions, from dbt's manifest."""
    if not manifest.is_file():
        return {}
    nodes = json.loads(manifest.read_text(encoding="utf-8")).get("nodes", {})
    return {
        node["name"]: (
            node.get("description") or "",
            {name: col.get("description") or "" for name, col in node.get("columns", {}).items()},
        )
        for node in nodes.values()
        if node.get("resource_type") in ("model", "seed")
    }


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_marts(
    target: str,
    run_dbt: RunDbt,
    warehouse: Path,
    work: Path,
    dbt_vars: Mapping[str, Any],
    manifest: Path,
) -> list[str]:
    """Build every mart of `warehouse` (a DuckDB file holding schema `raw`) on `target`,
    `run_dbt` running one dbt command there; `manifest` is where dbt writes its manifest."""
    if check_target(target) == "spark":
        return build_on_spark(run_dbt, warehouse, work, dbt_vars, manifest)
    return build_in_waves(run_dbt, duckdb_engine(warehouse), dbt_vars)
