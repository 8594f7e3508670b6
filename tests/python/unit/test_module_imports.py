"""Which module may import which (docs/architecture.md, "Python modules"), read from the
source: the output side reads the warehouse only through `metrics_cli.warehouse`, and each
module of `metrics_cli.report`, `metrics_cli.returns` and `metrics_cli.publish` imports
only the ones below it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "metrics_cli"

REPORT_LAYERS = {
    "metrics_cli.report.charts": set(),
    "metrics_cli.report.text": {"metrics_cli.report.charts"},
    "metrics_cli.report.views": {"metrics_cli.report.charts", "metrics_cli.report.text"},
    "metrics_cli.report.figures": {
        "metrics_cli.report.charts",
        "metrics_cli.report.text",
        "metrics_cli.report.views",
    },
    "metrics_cli.report.key_messages": {"metrics_cli.report.text", "metrics_cli.report.views"},
    "metrics_cli.report.sections": {
        "metrics_cli.report.figures",
        "metrics_cli.report.key_messages",
        "metrics_cli.report.text",
        "metrics_cli.report.views",
    },
    "metrics_cli.report.html": {
        "metrics_cli.report.charts",
        "metrics_cli.report.text",
        "metrics_cli.report.views",
    },
    "metrics_cli.report.pdf": {"metrics_cli.report.html"},
    "metrics_cli.report.run": {
        "metrics_cli.report.figures",
        "metrics_cli.report.html",
        "metrics_cli.report.pdf",
        "metrics_cli.report.sections",
        "metrics_cli.report.views",
    },
}
"""Each report module and the report modules it may import."""
REPORT_MAY_ALSO_IMPORT = {
    "metrics_cli.warehouse",
    "metrics_cli.errors",
    "metrics_cli.files",
    "metrics_cli.settings",
    "metrics_cli.marts",
    "metrics_cli.disclosure",
}
"""Outside the package: the access module, errors, files, settings, the mart columns and
disclosure control's words on withholding (never its decisions)."""
RETURNS_LAYERS = {
    "metrics_cli.returns.datasets": set(),
    "metrics_cli.returns.membership": set(),
    "metrics_cli.returns.bundle": {
        "metrics_cli.returns.datasets",
        "metrics_cli.returns.membership",
    },
    "metrics_cli.returns.ledger": {"metrics_cli.returns.datasets"},
    "metrics_cli.returns.submit": {
        "metrics_cli.returns.bundle",
        "metrics_cli.returns.datasets",
        "metrics_cli.returns.membership",
    },
    "metrics_cli.returns.consolidate": {
        "metrics_cli.returns.bundle",
        "metrics_cli.returns.datasets",
        "metrics_cli.returns.ledger",
        "metrics_cli.returns.membership",
    },
}
"""Each returns module and the returns modules it may import."""
RETURNS_MAY_ALSO_IMPORT = {
    "metrics_cli.__version__",
    "metrics_cli.errors",
    "metrics_cli.files",
    "metrics_cli.schemas",
    "metrics_cli.warehouse",
}
"""Outside the package: the input layer (`schemas`: the datasets and their columns), the
access module, errors and files."""
PUBLISH_LAYERS = {
    "metrics_cli.publish.reading": set(),
    "metrics_cli.publish.tables": set(),
    "metrics_cli.publish.manifest": {"metrics_cli.publish.tables"},
    "metrics_cli.publish.dictionary": {
        "metrics_cli.publish.manifest",
        "metrics_cli.publish.tables",
    },
    "metrics_cli.publish.changes": {
        "metrics_cli.publish.dictionary",
        "metrics_cli.publish.manifest",
    },
    "metrics_cli.publish.run": {
        "metrics_cli.publish.changes",
        "metrics_cli.publish.dictionary",
        "metrics_cli.publish.manifest",
        "metrics_cli.publish.reading",
        "metrics_cli.publish.tables",
    },
}
"""Each publish module and the publish modules it may import."""
PUBLISH_MAY_ALSO_IMPORT = {
    "metrics_cli.__version__",
    "metrics_cli.disclosure",
    "metrics_cli.errors",
    "metrics_cli.files",
    "metrics_cli.marts",
    "metrics_cli.settings",
    "metrics_cli.warehouse",
}
"""Outside the package: disclosure control's settings and words (never its decisions), the
mart columns, the access module, errors, files and settings."""
LAYERS = {
    "metrics_cli.report.": (REPORT_LAYERS, REPORT_MAY_ALSO_IMPORT),
    "metrics_cli.returns.": (RETURNS_LAYERS, RETURNS_MAY_ALSO_IMPORT),
    "metrics_cli.publish.": (PUBLISH_LAYERS, PUBLISH_MAY_ALSO_IMPORT),
}
OUTPUT_SIDE = ("metrics_cli.report", "metrics_cli.returns", "metrics_cli.publish")
WAREHOUSE_MAY_IMPORT = {"metrics_cli.errors", "metrics_cli.files"}
REPORT_USERS = {"metrics_cli.cli", "metrics_cli.demo"}
"""The only modules outside `metrics_cli.report` that import it (its command)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The metrics_cli modules `path` imports, wherever in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("metrics_cli"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("metrics_cli"):
            assert node.module is not None
            if node.module in ("metrics_cli", "metrics_cli.report"):
                found.update(f"{node.module}.{a.name}" for a in node.names)
            else:
                found.add(node.module)
    return found


def all_modules() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_every_module_of_a_package_is_in_its_layers(package: str) -> None:
    found = {m for m in all_modules() if m.startswith(package)}
    assert found == set(LAYERS[package][0])


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_modules_import_only_what_their_layer_allows(package: str) -> None:
    layers, also = LAYERS[package]
    modules = all_modules()
    for name, allowed in layers.items():
        extra = modules[name] - allowed - also - {"metrics_cli"}
        assert not extra, f"{name} imports {sorted(extra)}"


def _source(name: str) -> str:
    path = PACKAGE.parent.joinpath(*name.split("."))
    file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    return file.read_text(encoding="utf-8")


def test_the_output_side_opens_no_database_itself() -> None:
    """Only `metrics_cli.warehouse` connects: no report, returns or publish module imports
    the database driver."""
    for name in all_modules():
        if name.startswith(OUTPUT_SIDE):
            tree = ast.parse(_source(name))
            drivers = [
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
                if "duckdb" in (getattr(node, "module", None) or alias.name)
            ]
            assert not drivers, f"{name} imports {drivers}"


def test_no_reader_names_a_staging_or_intermediate_model() -> None:
    """Nothing outside dbt reads `stg_*` or `int_*`: the output side names marts only."""
    model = re.compile(r"\b(?:stg|int)_[a-z][a-z0-9_]*")
    for name in all_modules():
        if name.startswith(OUTPUT_SIDE) or name == "metrics_cli.warehouse":
            assert not model.findall(_source(name)), name


def test_the_access_module_stands_alone() -> None:
    assert all_modules()["metrics_cli.warehouse"] <= WAREHOUSE_MAY_IMPORT


def test_only_the_command_line_imports_the_reports() -> None:
    for name, imported in all_modules().items():
        if name.startswith("metrics_cli.report") or name in REPORT_USERS:
            continue
        assert not {m for m in imported if m.startswith("metrics_cli.report")}, name

