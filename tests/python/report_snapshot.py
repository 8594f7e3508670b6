"""The report tests' warehouse: mart snapshots of the tiny build (tests/data/report_marts),
loaded into a DuckDB file.

`load_snapshot(path)` writes every snapshot CSV into a new DuckDB file, typed by
`schema.csv` (relation, column, type, as the build's information_schema gave them), so the
reports read exactly the rows and types the build wrote. No statistic is computed here:
every value is the build's own (the dbt macros').

`python tests/python/report_snapshot.py WAREHOUSE` refreshes the snapshot from a tiny
build, trimmed by `TRIMS` (tests/data/report_marts/README.md says how and what was checked).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import duckdb

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "report_marts"

REPORT_GEOGRAPHIES = "geography_type in ('neighbourhood', 'place', 'provider', 'icb', 'all')"
FIGURE_ROWS = (
    "period_end between date '2024-10-01' and date '2025-03-31' "
    "and (period_grain <> 'month' or period_end >= date '2024-12-01') "
    f"and ({REPORT_GEOGRAPHIES} and breakdown_type = 'all' "
    "or geography_type in ('neighbourhood', 'icb') and period_grain <> 'month' "
    "and breakdown_type in ('imd_quintile', 'cohort') and period_end >= date '2024-12-31')"
)
GAP_ROWS = (
    f"{REPORT_GEOGRAPHIES} and period_grain <> 'month' and (metric_id, period_grain, "
    "period_label) in (select (metric_id, period_grain, period_label) "
    f"from main.disclosed_metric_values where {FIGURE_ROWS} and breakdown_type <> 'all')"
)
TRIMS = {
    "main.disclosed_metric_values": FIGURE_ROWS,
    "main.metric_judgements": FIGURE_ROWS,
    "main.disclosed_metric_spc": (
        "geography_type in ('neighbourhood', 'icb') and period_start >= date '2024-04-01'"
    ),
    "main.disclosed_inequality_gaps": GAP_ROWS,
    "main.inequality_judgements": GAP_ROWS,
    "main.geography_snapshots": "period_end between date '2024-04-01' and date '2025-03-31'",
    "main.assessment_periods": "true",
    "main.maturity_levels": "true",
    "main.maturity_criteria_results": "true",
    "main.data_quality": "true",
    "main.metric_catalogue": "true",
    "main.spc_targets": "true",
    "main.maturity_domains": "true",
    "main.maturity_criteria": "true",
    "raw.build_info": "key = 'vars'",
}
"""Each relation the reports read, and the rows of the tiny build kept in the snapshot."""
SEEDS = ("metric_catalogue", "spc_targets", "maturity_domains", "maturity_criteria")


def load_snapshot(path: Path, *statements: str, edits: bool = True) -> Path:
    """A new DuckDB file at `path` holding the snapshot, every column typed as built, with
    the hand edits of edits.sql (unless `edits` is false), then `statements` run on it (a
    test's own changes: hostile names, a dataset not loaded)."""
    columns: dict[str, list[str]] = {}
    with (SNAPSHOT / "schema.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            columns.setdefault(row["relation"], []).append(f"'{row['column']}': '{row['type']}'")
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        for relation, typed in columns.items():
            source = SNAPSHOT / f"{relation.split('.')[1]}.csv"
            con.execute(
                f"create table {relation} as select * from read_csv(?, header = true, "
                f"columns = {{{', '.join(typed)}}})",
                [str(source)],
            )
        if edits:
            con.execute((SNAPSHOT / "edits.sql").read_text(encoding="utf-8"))
        for statement in statements:
            con.execute(statement)
    return path


def export(warehouse: Path) -> None:
    """Write the snapshot (CSV per relation and schema.csv) from the tiny build `warehouse`,
    then check that loading it gives back exactly the rows exported."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema_rows = []
        for relation, kept in TRIMS.items():
            schema, name = relation.split(".")
            # seeds keep their file's order (the catalogue's order is the reports'); marts
            # are sorted, so a refresh from the same build writes the same files
            order = "" if name in SEEDS else " order by all"
            query = f"select * from {relation} where {kept}{order}"
            con.execute(f"copy ({query}) to '{SNAPSHOT / name}.csv' (header)")
            schema_rows += con.execute(
                "select ?, column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [relation, schema, name],
            ).fetchall()
    with (SNAPSHOT / "schema.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("relation", "column", "type"))
        writer.writerows(schema_rows)
    loaded = load_snapshot(SNAPSHOT / "check.duckdb", edits=False)
    try:
        with duckdb.connect(str(loaded)) as con:
            con.execute(f"attach '{warehouse}' as built (read_only)")
            for relation, kept in TRIMS.items():
                schema, name = relation.split(".")
                built = f"select * from built.{schema}.{name} where {kept}"
                for left, right in ((relation, f"({built})"), (f"({built})", relation)):
                    (extra,) = con.execute(
                        f"select count(*) from (select * from {left} except all "
                        f"select * from {right})"
                    ).fetchone() or (0,)
                    assert extra == 0, f"{relation} does not load back as exported"
    finally:
        loaded.unlink()


if __name__ == "__main__":
    export(Path(sys.argv[1]))
