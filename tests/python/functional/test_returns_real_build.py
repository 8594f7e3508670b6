"""`nbhd submit` reads the tiny build's marts (practice_memberships, maturity_matrix), never
a staging or intermediate model: the marts hold what the organisations file and the matrix
say."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from metrics_cli.warehouse import open_warehouse

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_practice_memberships_are_the_organisations_rows(
    tiny_warehouse: Path, tiny_data: Path
) -> None:
    organisations = pl.read_csv(tiny_data / "organisations.csv", infer_schema=False)
    expected = sorted(
        (row["practice_code"], row["valid_from"], row["provider_code"] or None)
        for row in organisations.iter_rows(named=True)
    )
    with open_warehouse(tiny_warehouse) as opened:
        rows = opened.rows(
            "select practice_code, cast(valid_from as varchar), provider_code "
            f"from {opened.relation('practice_memberships')}"
        )
    assert sorted(rows) == expected


def test_maturity_matrix_is_the_shipped_seed(tiny_warehouse: Path) -> None:
    with (REPO_ROOT / "seeds" / "maturity_criteria.csv").open(newline="") as handle:
        seed = {row["criterion_id"]: row["criterion_kind"] for row in csv.DictReader(handle)}
    with open_warehouse(tiny_warehouse) as opened:
        rows = dict(
            opened.rows(
                f"select criterion_id, criterion_kind from {opened.relation('maturity_matrix')}"
            )
        )
    assert rows == seed
