"""No ordinary command imports PySpark (only `nbhd build --target spark` does): under
pandas 3 its import prints a FutureWarning on stderr, and pandera imports it when it can."""

from __future__ import annotations

import subprocess
import sys


def python(code: str, warnings: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a new interpreter (a fresh set of imported modules)."""
    done = subprocess.run(
        [sys.executable, "-W", warnings, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done


def test_every_module_imports_silently_without_pyspark() -> None:
    done = python(
        "import importlib, pkgutil, sys\n"
        "import metrics_cli\n"
        "for module in pkgutil.walk_packages(metrics_cli.__path__, 'metrics_cli.'):\n"
        "    importlib.import_module(module.name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark'))\n",
        warnings="always",
    )
    assert done.stderr == ""
    assert done.stdout == "[]\n"


def test_pyspark_still_imports_after_pandera() -> None:
    done = python(
        "import importlib.util\n"
        "import metrics_cli.validate\n"
        "if importlib.util.find_spec('pyspark') is not None:\n"
        "    from pyspark.sql import SparkSession\n"
        "    print(SparkSession.__name__)\n"
        "else:\n"
        "    print('no pyspark')\n",
        warnings="ignore",
    )
    assert done.stdout in ("SparkSession\n", "no pyspark\n")
