"""The dbt invocations of a build on each engine (metrics_cli/engines.py), without dbt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from metrics_cli import engines
from metrics_cli.python_stage import Engine

FIRST_WAVE = [
    "source:nbhd_stage.int_disclosure_decisions+",
    "source:nbhd_stage.metric_spc+",
    "source:nbhd_stage.inequality_gaps+",
]
SECOND_WAVE = [
    "source:nbhd_stage.disclosed_metric_spc+",
    "source:nbhd_stage.disclosed_inequality_gaps+",
]


def _commands(monkeypatch: pytest.MonkeyPatch, on_spark: bool) -> list[list[str]]:
    """The dbt commands of one build, the stage's waves recorded instead of computed."""
    commands: list[list[str]] = []
    waves: list[Any] = []
    monkeypatch.setattr(engines, "run_wave", lambda wave, engine, values: waves.append(wave))

    def run_dbt(command: list[str]) -> list[str]:
        commands.append(command)
        return []

    def open_engine() -> Iterator[Engine]:
        yield engines.DuckDBEngine(None)  # type: ignore[arg-type]

    if on_spark:
        assert engines.build_with_session(object(), "nbhd", run_dbt, {}) == []
    else:
        assert engines.build_in_waves(run_dbt, open_engine, {}) == []
    assert len(waves) == 2
    return commands


@pytest.mark.parametrize("on_spark", [False, True], ids=["duckdb", "spark"])
def test_builds_leave_out_only_the_unit_tests(
    monkeypatch: pytest.MonkeyPatch, on_spark: bool
) -> None:
    assert _commands(monkeypatch, on_spark=on_spark) == [
        ["build", "--exclude", *FIRST_WAVE, *SECOND_WAVE, "test_type:unit"],
        ["build", "--select", *FIRST_WAVE, "--exclude", *SECOND_WAVE, "test_type:unit"],
        ["build", "--select", *SECOND_WAVE, "--exclude", "test_type:unit"],
    ]


def test_a_failing_dbt_invocation_stops_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "run_wave", lambda wave, engine, values: None)
    calls: list[list[str]] = []

    def run_dbt(command: list[str]) -> list[str]:
        calls.append(command)
        return ["model.nbhd.metric_values: error: boom"]

    failures = engines.build_with_session(object(), "nbhd", run_dbt, {})
    assert failures == ["model.nbhd.metric_values: error: boom"]
    assert len(calls) == 1


def test_a_read_takes_its_columns_in_the_order_asked_for() -> None:
    """`Engine.read` with columns and an order: the columns named, the rows sorted
    ascending with nulls first, as polars sorts (the decisions read metric_values so)."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        "create table t as select * from (values ('b', 2, 'x'), (null, 1, 'y'), "
        "('a', 3, 'z'), ('b', 1, 'w')) as v(k, n, other)"
    )
    read = engines.DuckDBEngine(con).read("t", "n > 0", columns=["k", "n"], order_by=["k", "n"])
    assert read.columns == ["k", "n"]
    assert read.rows() == [(None, 1), ("a", 3), ("b", 1), ("b", 2)]
    assert read.equals(read.sort(["k", "n"]))
