"""`nbhd docs`: the dbt documentation site for a warehouse, and a check that it is complete."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metrics_cli.build import run_dbt
from metrics_cli.errors import DataError, UsageError


@dataclass(frozen=True)
class DocsOutcome:
    """Where the site is, and anything left undocumented."""

    site: Path
    undocumented: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.undocumented

    def summary(self) -> str:
        lines = [f"dbt docs written to {self.site} (open index.html in a browser)"]
        if self.undocumented:
            lines.append(f"{len(self.undocumented)} items lack a description:")
            lines.extend(f"  - {item}" for item in self.undocumented)
        return "\n".join(lines)


def generate_docs(warehouse: Path, out: Path) -> DocsOutcome:
    """Run `dbt docs generate` against a copy of `warehouse` (the original is only read)."""
    if not warehouse.is_file():
        raise UsageError(f"no warehouse at {warehouse}; run `nbhd build` first")
    # dbt runs in the project directory: a relative --out would be written there, and then
    # not found here
    out = out.absolute()
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    work.mkdir(exist_ok=True)
    copy = work / "warehouse.duckdb"
    shutil.copy2(warehouse, copy)
    try:
        failures = run_dbt(["docs", "generate"], copy, {}, work)
        if failures:
            raise DataError("dbt docs generate failed: " + "; ".join(failures))
        target = work / "target"
        for name in ("index.html", "manifest.json", "catalog.json"):
            shutil.copy2(target / name, out / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    manifest = json.loads((out / "manifest.json").read_text())
    catalog = json.loads((out / "catalog.json").read_text())
    return DocsOutcome(site=out / "index.html", undocumented=tuple(undocumented(manifest, catalog)))


def undocumented(manifest: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    """Every project model, seed, source and macro without a description, and every
    warehouse column of a model or seed without one."""
    missing: list[str] = []
    project = manifest["metadata"].get("project_name", "nbhd")
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in {"model", "seed"} or node["package_name"] != project:
            continue
        if not node.get("description", "").strip():
            missing.append(unique_id)
        documented = {
            name.lower() for name, column in node["columns"].items() if column.get("description")
        }
        for column in catalog["nodes"].get(unique_id, {}).get("columns", {}):
            if column.lower() not in documented:
                missing.append(f"{unique_id}.{column}")
    for unique_id, source in manifest["sources"].items():
        if not source.get("description", "").strip():
            missing.append(unique_id)
    for unique_id, macro in manifest["macros"].items():
        if macro["package_name"] == project and not macro.get("description", "").strip():
            missing.append(unique_id)
    return sorted(missing)
