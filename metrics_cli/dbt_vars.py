"""`nbhd build --vars`: every value checked against the vars `dbt_project.yml` declares,
before any work is done, so a bad value is one sentence (exit 2) instead of a dbt failure
after validation and loading have run."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from metrics_cli.errors import UsageError
from metrics_cli.settings import load_settings

Check = Callable[[str, str], Any]


def _whole(low: int) -> Check:
    def check(name: str, text: str) -> int:
        if not re.fullmatch(r"[+-]?\d+", text) or int(text) < low:
            raise UsageError(
                f"--vars {name} must be a whole number of at least {low}, not '{text}'"
            )
        return int(text)

    return check


def _number(low: float | None = None, high: float | None = None) -> Check:
    def check(name: str, text: str) -> float | int:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = None
        inside = isinstance(value, int | float) and not isinstance(value, bool)
        if inside and low is not None:
            inside = value >= low
        if inside and high is not None:
            inside = value <= high
        if not inside:
            bounds = f" from {low:g} to {high:g}" if low is not None and high is not None else ""
            raise UsageError(f"--vars {name} must be a number{bounds}, not '{text}'")
        return value  # type: ignore[no-any-return]

    return check


def _boolean(name: str, text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise UsageError(f"--vars {name} must be true or false, not '{text}'")
    return lowered == "true"


def _financial_year(name: str, text: str) -> str | None:
    if text.lower() in ("", "null", "none"):
        return None
    match = re.fullmatch(r"(\d{4})/(\d{2})", text)
    if match is None or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
        raise UsageError(
            f"--vars {name} must be a financial year written like 2024/25, not '{text}'"
        )
    return text


def _directory(name: str, text: str) -> str | None:
    if text.lower() in ("", "null", "none"):
        return None
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise UsageError(f"--vars {name}: there is no directory at {text}")
    return str(path)


# The rule for each var the project declares; a var declared later without a rule here is
# checked against the type of its default.
RULES: dict[str, Check] = {
    "baseline_financial_year": _financial_year,
    "continuity_min_encounters": _whole(1),
    "disclosure_threshold": _whole(0),
    "disclosure_rounding": _whole(1),
    "sii_repetitions": _whole(1),
    "sii_seed": _whole(0),
    "funding_need_weight": _number(0, 1),
    "funding_core20_weight": _number(0, 1),
    "spc_screen_outliers": _boolean,
    "maturity_matrix_dir": _directory,
}


def declared_vars(project_dir: Path | None = None) -> dict[str, Any]:
    """The vars `dbt_project.yml` declares, with their defaults."""
    project = (project_dir or load_settings().project_dir) / "dbt_project.yml"
    try:
        declared = yaml.safe_load(project.read_text(encoding="utf-8")).get("vars") or {}
    except (OSError, yaml.YAMLError, AttributeError) as error:
        raise UsageError(f"cannot read the vars of {project} ({error})") from error
    return dict(declared)


def _by_default(default: Any) -> Check:
    if isinstance(default, bool):
        return _boolean
    if isinstance(default, int):
        return _whole(-(2**63))
    if isinstance(default, float):
        return _number()

    def text(_: str, value: str) -> Any:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value

    return text


def checked_vars(raw: Mapping[str, str], project_dir: Path | None = None) -> dict[str, Any]:
    """`--vars` given as text, each checked and read as its type; UsageError on the first
    that is not a declared var or not a valid value."""
    declared = declared_vars(project_dir)
    checked: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise UsageError(f"--vars {name} is not a var of this project (they are: {known})")
        check = RULES.get(name) or _by_default(declared[name])
        checked[name] = check(name, text.strip())
    return checked
