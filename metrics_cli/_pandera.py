"""pandera, imported without PySpark.

When PySpark is installed (for `nbhd build --target spark`), `import pandera` imports
`pyspark.pandas`, which under pandas 3 prints a FutureWarning on stderr and takes a
second. The tool uses only pandera's polars API, so pandera is imported here with PySpark
hidden: every ordinary command stays silent, and PySpark is imported only by a Spark build
(metrics_cli/engines.py). Import pandera through this module only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

_HIDDEN = ("pyspark", "pyspark.pandas")


@contextmanager
def _pyspark_hidden() -> Iterator[None]:
    """While the block runs, `import pyspark` fails as if PySpark were not installed (unless
    it is imported already); afterwards it imports as usual."""
    hidden = [name for name in _HIDDEN if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


with _pyspark_hidden():
    import pandera.api.polars.types as pa_types
    import pandera.errors as pandera_errors
    import pandera.polars as pa

__all__ = ["pa", "pa_types", "pandera_errors"]
