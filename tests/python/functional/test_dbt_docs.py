"""`nbhd docs` generates the dbt site, and every model, column, seed, source and macro of
the project carries a description."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics_cli.dbt_docs import generate_docs

pytestmark = pytest.mark.slow


def test_docs_site_is_complete(
    tiny_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out is relative to where the user is
    outcome = generate_docs(tiny_warehouse, Path("docs"))
    assert (tmp_path / "docs" / "index.html").stat().st_size > 10_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]
    assert outcome.undocumented == (), outcome.summary()
