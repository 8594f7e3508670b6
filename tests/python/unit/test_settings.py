"""The DuckDB memory limit and spill directory a build runs with."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from metrics_cli.settings import PROJECT_DIR, default_memory_limit, load_settings


def test_memory_limit_defaults_to_65_percent_of_the_machine() -> None:
    assert default_memory_limit(16 * 1024**3) == "10649MB"
    assert default_memory_limit(24 * 1024**3) == "15974MB"


def test_memory_limit_falls_back_to_duckdbs_own_default_where_memory_is_unknown() -> None:
    assert default_memory_limit(0) == "80%"


def test_environment_overrides_the_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBHD_DUCKDB_MEMORY_LIMIT", "3GB")
    assert load_settings().duckdb_memory_limit == "3GB"


def test_duckdb_accepts_the_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NBHD_DUCKDB_MEMORY_LIMIT", "1GB")
    config = load_settings().duckdb_config(tmp_path / "spill")
    with duckdb.connect(config=config) as con:
        limit, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone() or (None, None)
    assert limit is not None and "953" in str(limit)  # 1 GB is 953.6 MiB
    assert spill == str(tmp_path / "spill")


def test_profile_gives_duckdb_its_memory_limit_but_not_a_temporary_directory() -> None:
    """dbt-duckdb re-applies `settings` to every cursor, and DuckDB refuses to switch the
    temporary directory once it has spilled there ("Cannot switch temporary directory"),
    so the profile sets only the memory limit; DuckDB spills beside the database file,
    inside the build's directory. No `config_options` either: a database opened with
    options cannot be opened again in the same process without them."""
    profile = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text())
    output = profile["nbhd"]["outputs"]["duckdb"]
    assert "NBHD_DUCKDB_MEMORY_LIMIT" in output["settings"]["memory_limit"]
    assert "temp_directory" not in output["settings"]
    assert not output.get("config_options")
