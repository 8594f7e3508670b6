"""`nbhd docs` generates the dbt site, and every model, column, seed, source and macro of
the project carries a description."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics_cli.dbt_docs import generate_docs

pytestmark = pytest.mark.slow


def test_docs_site_is_complete(tiny_warehouse: Path, tmp_path: Path) -> None:
    outcome = generate_docs(tiny_warehouse, tmp_path / "docs")
    assert (tmp_path / "docs" / "index.html").stat().st_size > 10_000
    assert outcome.undocumented == (), outcome.summary()
