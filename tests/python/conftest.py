"""Shared fixtures: the tiny synthetic ICB, generated and built once per test session.

Building a warehouse runs dbt (about a minute on two cores), so every functional test that
needs the real marts shares the one session-scoped warehouse and opens it read-only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"
TINY_SEED = 2022


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The real NHS reference files beside the checkout (../shared/reference)."""
    if not SHARED_REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {SHARED_REFERENCE}")
    return SHARED_REFERENCE


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic ICB (3 practices, 24 months), generated once."""
    from metrics_cli.generate import generate

    out = tmp_path_factory.mktemp("tiny_data")
    generate(scale="tiny", seed=TINY_SEED, out=out)
    return out


@pytest.fixture(scope="session")
def tiny_warehouse(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A warehouse built by `nbhd build` from the tiny synthetic ICB, once per session."""
    from metrics_cli.build import build

    state = tmp_path_factory.mktemp("state")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NBHD_STATE_DIR", str(state))
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    result = build(tiny_data, warehouse, {})
    assert result.ok, result.summary()
    yield warehouse
    monkeypatch.undo()


StartBuild = Callable[..., "subprocess.Popen[bytes]"]
"""The type of the `start_build` fixture."""


@pytest.fixture
def start_build(tiny_data: Path, tmp_path: Path) -> StartBuild:
    """`start_build(warehouse, stdout=..., stderr=...)`: `nbhd build` of the tiny ICB into
    `warehouse` as a process of its own (for tests that signal it), its user state kept in
    the test's folder; output discarded unless asked for (`subprocess.PIPE`)."""

    def start(
        warehouse: Path, stdout: int = subprocess.DEVNULL, stderr: int = subprocess.DEVNULL
    ) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "metrics_cli.cli", "build", "--data", str(tiny_data)]
        return subprocess.Popen(
            [*command, "--warehouse", str(warehouse)],
            env={**os.environ, "NBHD_STATE_DIR": str(tmp_path / "state")},
            stdout=stdout,
            stderr=stderr,
        )

    return start
