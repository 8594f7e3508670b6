"""No ordinary command imports PySpark (only `nbhd build --target spark` does): under
pandas 3 its import prints a FutureWarning on stderr, and pandera imports it when it can."""

from __future__ import annotations

import subprocess
import sys

COMMAND_MODULES = (
    "metrics_cli.cli",
    "metrics_cli.build",
    "metrics_cli.validate",
    "metrics_cli.importers",
    "metrics_cli.population_import",
    "metrics_cli.generate",
    "metrics_cli.demo",
    "metrics_cli.publish",
    "metrics_cli.submit",
    "metrics_cli.report.run",
)


def test_command_modules_import_silently_without_pyspark() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {COMMAND_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == "[]\n"


def test_pyspark_still_imports_after_pandera() -> None:
    code = (
        "import importlib.util, sys\n"
        "import metrics_cli.validate\n"
        "if importlib.util.find_spec('pyspark') is not None:\n"
        "    import pyspark.sql\n"
        "    print(type(pyspark.sql.SparkSession).__name__)\n"
        "else:\n"
        "    print('no pyspark')\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout in ("type\n", "no pyspark\n")
