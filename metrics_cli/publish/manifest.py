"""The publication's file names and its manifest: inputs with checksums, code version,
vars, run time, cells withheld per geography level."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from metrics_cli import __version__
from metrics_cli.disclosure import (
    MIN_BASE,
)
from metrics_cli.publish.tables import GeographyWithheld, PublishedFile
from metrics_cli.settings import load_settings

PUBLISHER = "nbhd"


MANIFEST = "manifest.json"
DICTIONARY_CSV = "data_dictionary.csv"
DICTIONARY_MD = "data_dictionary.md"
CATALOGUE_CSV = "metric_catalogue.csv"
CHANGES_MD = "changes.md"


def git_commit(project_dir: Path) -> tuple[str | None, bool | None]:
    """The commit the code was run from, and whether the tree had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return head.stdout.strip(), dirty


def publication_manifest(
    published_at: datetime,
    seconds: float,
    build_info: Mapping[str, str],
    inputs: pl.DataFrame,
    files: Sequence[PublishedFile],
    threshold: int,
    rounding: int,
    suppressed: Mapping[str, int],
    withheld_by_geography: Mapping[str, GeographyWithheld],
    warehouse: Path,
) -> dict[str, Any]:
    commit, dirty = git_commit(load_settings().project_dir)
    build = {key: value for key, value in build_info.items() if key not in ("vars", "data_dir")}
    return {
        "publisher": PUBLISHER,
        "published_at": published_at.isoformat(timespec="seconds"),
        "run_seconds": round(seconds, 3),
        "code": {"version": __version__, "git_commit": commit, "git_uncommitted_changes": dirty},
        "warehouse": {"file": warehouse.name, **build},
        "vars": json.loads(build_info.get("vars") or "{}"),
        "disclosure": {
            "threshold": threshold,
            "rounding": rounding,
            "minimum_patients_or_respondents": MIN_BASE,
            "rows_with_figures_withheld": dict(suppressed),
            "metric_values_withheld_by_geography": {
                level: {
                    "cells": counted.cells,
                    "withheld": counted.withheld,
                    "share": round(counted.share, 6),
                }
                for level, counted in withheld_by_geography.items()
            },
        },
        "inputs": inputs.to_dicts(),
        "files": [
            {"name": f.name, "rows": f.rows, "sha256": f.sha256}
            for f in sorted(files, key=lambda f: f.name)
        ],
    }


def is_publication(directory: Path) -> bool:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("publisher") == PUBLISHER
