"""Which module may import which (docs/architecture.md, "Python modules"), read from the
source: the output side reads the warehouse only through `metrics_cli.warehouse`, and each
module of `metrics_cli.report` imports only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

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


def test_every_report_module_is_in_the_layers() -> None:
    report = {m for m in all_modules() if m.startswith("metrics_cli.report.")}
    assert report == set(REPORT_LAYERS)


def test_report_modules_import_only_what_their_layer_allows() -> None:
    modules = all_modules()
    for name, allowed in REPORT_LAYERS.items():
        extra = modules[name] - allowed - REPORT_MAY_ALSO_IMPORT - {"metrics_cli"}
        assert not extra, f"{name} imports {sorted(extra)}"


def test_the_access_module_stands_alone() -> None:
    assert all_modules()["metrics_cli.warehouse"] <= WAREHOUSE_MAY_IMPORT


def test_only_the_command_line_imports_the_reports() -> None:
    for name, imported in all_modules().items():
        if name.startswith("metrics_cli.report") or name in REPORT_USERS:
            continue
        assert not {m for m in imported if m.startswith("metrics_cli.report")}, name

