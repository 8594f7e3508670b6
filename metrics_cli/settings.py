"""One frozen settings object; environment variables override the defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Where the engine keeps things. Override with NBHD_* environment variables."""

    project_dir: Path
    warehouse: Path
    state_dir: Path

    @property
    def last_warehouse_file(self) -> Path:
        """Records the warehouse `nbhd build` wrote last."""
        return self.state_dir / "last_warehouse"


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
    return Settings(project_dir=project_dir, warehouse=warehouse, state_dir=state_dir)
