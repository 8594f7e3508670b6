"""One frozen settings object; environment variables override the defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Share of the machine's memory DuckDB may use before it spills to its temporary directory.
# The rest is left to Python (dbt, polars batches) and the operating system.
DUCKDB_MEMORY_SHARE = 0.65


@dataclass(frozen=True)
class Settings:
    """Where the engine keeps things and what DuckDB may use. Override with NBHD_* variables:
    NBHD_PROJECT_DIR, NBHD_STATE_DIR, NBHD_WAREHOUSE and NBHD_DUCKDB_MEMORY_LIMIT (DuckDB
    syntax, e.g. `12GB`)."""

    project_dir: Path
    warehouse: Path
    state_dir: Path
    duckdb_memory_limit: str

    @property
    def last_warehouse_file(self) -> Path:
        """Records the warehouse `nbhd build` wrote last."""
        return self.state_dir / "last_warehouse"

    def duckdb_config(
        self, temp_directory: Path
    ) -> dict[str, str | bool | int | float | list[str]]:
        """DuckDB connection settings for a build: bounded memory, spilling to `temp_directory`."""
        return {
            "memory_limit": self.duckdb_memory_limit,
            "temp_directory": str(temp_directory),
        }


def machine_memory_bytes() -> int | None:
    """Physical memory of the machine, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def default_memory_limit(memory: int | None = None) -> str:
    """65% of the machine's memory, in whole MB (DuckDB's own default, 80%, leaves too little
    for Python beside it); DuckDB's default where the memory is unknown."""
    memory = machine_memory_bytes() if memory is None else memory
    if not memory:
        return "80%"
    return f"{int(memory * DUCKDB_MEMORY_SHARE) // (1 << 20)}MB"


def load_settings() -> Settings:
    """Settings from the environment, with the documented defaults."""
    project_dir = Path(os.environ.get("NBHD_PROJECT_DIR", PROJECT_DIR))
    state_dir = Path(os.environ.get("NBHD_STATE_DIR", Path.home() / ".nbhd"))
    default_warehouse = project_dir / "target" / "warehouse.duckdb"
    warehouse_env = os.environ.get("NBHD_WAREHOUSE")
    if warehouse_env:
        warehouse = Path(warehouse_env)
    else:
        last = state_dir / "last_warehouse"
        warehouse = Path(last.read_text().strip()) if last.is_file() else default_warehouse
    return Settings(
        project_dir=project_dir,
        warehouse=warehouse,
        state_dir=state_dir,
        duckdb_memory_limit=os.environ.get("NBHD_DUCKDB_MEMORY_LIMIT") or default_memory_limit(),
    )
