"""The maturity matrix as data: read a matrix directory and check it before dbt uses it.

A matrix directory holds three CSV files (the shipped default is in `seeds/`):
`maturity_domains.csv`, `maturity_domain_levels.csv` and `maturity_criteria.csv`.
`validate_matrix` reports every problem at once, with the file, row and criterion.
docs/maturity.md describes the columns and the rules.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from metrics_cli.errors import DataError
from metrics_cli.settings import PROJECT_DIR

DOMAINS_FILE = "maturity_domains.csv"
LEVELS_FILE = "maturity_domain_levels.csv"
CRITERIA_FILE = "maturity_criteria.csv"

DOMAIN_COLUMNS = ("domain_id", "title", "description", "display_order", "source")
LEVEL_COLUMNS = ("domain_id", "level", "level_name", "description")
CRITERIA_COLUMNS = (
    "criterion_id",
    "domain_id",
    "level",
    "criterion_kind",
    "statement",
    "rule",
    "metric_id",
    "breakdown_type",
    "breakdown_value",
    "period_grain",
    "geography_level",
    "operator",
    "threshold",
    "depends_on",
    "source",
)
RULE_COLUMNS = (
    "rule",
    "metric_id",
    "breakdown_type",
    "breakdown_value",
    "period_grain",
    "geography_level",
    "operator",
    "threshold",
)

LEVELS = (1, 2, 3, 4)
CRITERION_KINDS = ("self_assessed", "metric")
RULES = ("threshold", "improving", "not_worse_than_icb", "gap_narrowing")
OPERATORS = (">=", ">", "<=", "<")
GEOGRAPHY_LEVELS = ("neighbourhood", "place", "icb")
AGE_BANDS = (*(f"{low}-{low + 4}" for low in range(0, 90, 5)), "90+")
BREAKDOWN_VALUES: Mapping[str, tuple[str, ...]] = {
    "all": ("all",),
    "imd_quintile": ("1", "2", "3", "4", "5"),
    "core20": ("core20", "rest"),
    "sex": ("F", "M"),
    "age_band": AGE_BANDS,
    "cohort": ("age_75_plus", "multimorbid", "frail"),
}
# Datasets that exist only for place and ICB: a neighbourhood reads its place's row.
PLACE_ONLY_DATASETS = frozenset({"spend"})
# int_maturity_criteria_prerequisites splits depends_on into at most this many ids.
MAX_PREREQUISITES = 20
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Domain:
    """One row of maturity_domains.csv."""

    domain_id: str
    title: str
    description: str
    display_order: int | None
    source: str


@dataclass(frozen=True)
class DomainLevel:
    """One row of maturity_domain_levels.csv: what a level looks like in a domain."""

    domain_id: str
    level: int
    level_name: str
    description: str


@dataclass(frozen=True)
class Criterion:
    """One row of maturity_criteria.csv; rule fields are None for self-assessed criteria."""

    row: int
    criterion_id: str
    domain_id: str
    level: int | None
    criterion_kind: str
    statement: str
    rule: str | None
    metric_id: str | None
    breakdown_type: str | None
    breakdown_value: str | None
    period_grain: str | None
    geography_level: str | None
    operator: str | None
    threshold: str | None
    depends_on: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Matrix:
    """A whole matrix as read from one directory."""

    directory: Path
    domains: tuple[Domain, ...]
    levels: tuple[DomainLevel, ...]
    criteria: tuple[Criterion, ...]

    def self_assessed(self) -> tuple[Criterion, ...]:
        """The criteria a neighbourhood attests in `maturity_assessments`."""
        return tuple(c for c in self.criteria if c.criterion_kind == "self_assessed")


@dataclass(frozen=True)
class CatalogueMetric:
    """What the matrix checks about a metric: its polarity, grains, breakdowns and sources."""

    metric_id: str
    polarity: str
    period_grains: tuple[str, ...]
    breakdowns: tuple[str, ...]
    source_datasets: tuple[str, ...]


def default_matrix_dir() -> Path:
    """The shipped default matrix: the seeds directory of the project."""
    return PROJECT_DIR / "seeds"


def default_catalogue_path() -> Path:
    return PROJECT_DIR / "seeds" / "metric_catalogue.csv"


def load_catalogue(path: Path) -> dict[str, CatalogueMetric]:
    """The metric catalogue seed, keyed by metric_id."""
    if not path.is_file():
        raise DataError(f"the metric catalogue {path} does not exist")
    rows, problems = _read_csv(path, ("metric_id", "polarity", "period_grains", "breakdowns"))
    if problems:
        raise DataError("; ".join(problems), where=str(path))
    return {
        row["metric_id"]: CatalogueMetric(
            metric_id=row["metric_id"],
            polarity=row["polarity"],
            period_grains=_split(row.get("period_grains", "")),
            breakdowns=_split(row.get("breakdowns", "")),
            source_datasets=_split(row.get("source_datasets", "")),
        )
        for _, row in rows
    }


def read_matrix(directory: Path) -> tuple[Matrix, list[str]]:
    """The matrix in `directory` and the problems found while reading it (files, columns)."""
    problems: list[str] = []
    domain_rows, found = _read_csv(directory / DOMAINS_FILE, DOMAIN_COLUMNS)
    problems.extend(found)
    level_rows, found = _read_csv(directory / LEVELS_FILE, LEVEL_COLUMNS)
    problems.extend(found)
    criteria_rows, found = _read_csv(directory / CRITERIA_FILE, CRITERIA_COLUMNS)
    problems.extend(found)
    domains = tuple(
        Domain(
            domain_id=row["domain_id"],
            title=row["title"],
            description=row["description"],
            display_order=_integer(row["display_order"]),
            source=row["source"],
        )
        for _, row in domain_rows
    )
    levels = tuple(
        DomainLevel(
            domain_id=row["domain_id"],
            level=_integer(row["level"]) or 0,
            level_name=row["level_name"],
            description=row["description"],
        )
        for _, row in level_rows
    )
    criteria = tuple(_criterion(number, row) for number, row in criteria_rows)
    return Matrix(directory, domains, levels, criteria), problems


def matrix_problems(matrix: Matrix, catalogue: Mapping[str, CatalogueMetric]) -> list[str]:
    """Every problem with the matrix's content, each one sentence naming file and row."""
    problems = _domain_problems(matrix)
    problems += _level_problems(matrix)
    problems += _criteria_problems(matrix, catalogue)
    problems += _dependency_problems(matrix)
    return problems


def validate_matrix(directory: Path, catalogue: Path | None = None) -> Matrix:
    """The matrix in `directory`, or DataError listing every problem found in it."""
    if not directory.is_dir():
        raise DataError(f"the maturity matrix directory {directory} does not exist")
    matrix, problems = read_matrix(directory)
    if not problems:
        problems = matrix_problems(matrix, load_catalogue(catalogue or default_catalogue_path()))
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise DataError(
            f"the maturity matrix in {directory} has {len(problems)} problem(s):\n{listed}",
            where=str(directory),
        )
    return matrix


def _read_csv(
    path: Path, required: Iterable[str]
) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    """Rows of a CSV as (1-based data row number, stripped text); problems if unusable."""
    if not path.is_file():
        return [], [f"{path.name} is missing from {path.parent}"]
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [column for column in required if column not in header]
            if missing:
                return [], [f"{path.name} lacks column(s) {', '.join(missing)}"]
            rows = [
                (number, {key.strip(): (value or "").strip() for key, value in raw.items() if key})
                for number, raw in enumerate(reader, start=1)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        return [], [f"{path.name} cannot be read: {error}"]
    return rows, []


def _criterion(number: int, row: Mapping[str, str]) -> Criterion:
    def optional(column: str) -> str | None:
        return row[column] or None

    return Criterion(
        row=number,
        criterion_id=row["criterion_id"],
        domain_id=row["domain_id"],
        level=_integer(row["level"]),
        criterion_kind=row["criterion_kind"],
        statement=row["statement"],
        rule=optional("rule"),
        metric_id=optional("metric_id"),
        breakdown_type=optional("breakdown_type"),
        breakdown_value=optional("breakdown_value"),
        period_grain=optional("period_grain"),
        geography_level=optional("geography_level"),
        operator=optional("operator"),
        threshold=optional("threshold"),
        depends_on=_split(row["depends_on"]),
        source=row["source"],
    )


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|") if part.strip())


def _integer(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _domain_problems(matrix: Matrix) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for number, domain in enumerate(matrix.domains, start=1):
        where = f"{DOMAINS_FILE} row {number}"
        if not IDENTIFIER.match(domain.domain_id):
            problems.append(
                f"{where}: domain_id '{domain.domain_id}' must be lower-case letters, "
                "digits and underscores"
            )
        elif domain.domain_id in seen:
            problems.append(f"{where}: duplicate domain_id '{domain.domain_id}'")
        seen.add(domain.domain_id)
        if not domain.title:
            problems.append(f"{where}: domain '{domain.domain_id}' has no title")
    if not matrix.domains:
        problems.append(f"{DOMAINS_FILE} defines no domains")
    return problems


def _level_problems(matrix: Matrix) -> list[str]:
    problems: list[str] = []
    domain_ids = {domain.domain_id for domain in matrix.domains}
    seen: set[tuple[str, int]] = set()
    for number, level in enumerate(matrix.levels, start=1):
        where = f"{LEVELS_FILE} row {number}"
        if level.domain_id not in domain_ids:
            problems.append(f"{where}: domain_id '{level.domain_id}' is not in {DOMAINS_FILE}")
        if level.level not in LEVELS:
            problems.append(f"{where}: level must be 1, 2, 3 or 4")
            continue
        if (level.domain_id, level.level) in seen:
            problems.append(
                f"{where}: duplicate level {level.level} for domain '{level.domain_id}'"
            )
        seen.add((level.domain_id, level.level))
        if not level.level_name:
            problems.append(f"{where}: level {level.level} of '{level.domain_id}' has no name")
    for domain in matrix.domains:
        missing = [str(level) for level in LEVELS if (domain.domain_id, level) not in seen]
        if missing:
            problems.append(
                f"domain '{domain.domain_id}' does not have all 4 levels in {LEVELS_FILE}: "
                f"level(s) {', '.join(missing)} missing"
            )
    return problems


def _criteria_problems(matrix: Matrix, catalogue: Mapping[str, CatalogueMetric]) -> list[str]:
    problems: list[str] = []
    domain_ids = {domain.domain_id for domain in matrix.domains}
    defined_levels = {(level.domain_id, level.level) for level in matrix.levels}
    seen: set[str] = set()
    for criterion in matrix.criteria:
        where = f"{CRITERIA_FILE} row {criterion.row} ({criterion.criterion_id or 'no id'})"
        if not IDENTIFIER.match(criterion.criterion_id):
            problems.append(
                f"{where}: criterion_id must be lower-case letters, digits and underscores"
            )
        elif criterion.criterion_id in seen:
            problems.append(f"{where}: duplicate criterion_id '{criterion.criterion_id}'")
        seen.add(criterion.criterion_id)
        if criterion.domain_id not in domain_ids:
            problems.append(f"{where}: domain_id '{criterion.domain_id}' is not in {DOMAINS_FILE}")
        if criterion.level not in LEVELS:
            problems.append(f"{where}: level must be 1, 2, 3 or 4")
        elif criterion.domain_id in domain_ids and (
            (criterion.domain_id, criterion.level) not in defined_levels
        ):
            problems.append(
                f"{where}: level {criterion.level} of '{criterion.domain_id}' "
                f"is not in {LEVELS_FILE}"
            )
        if not criterion.statement:
            problems.append(f"{where}: the statement is empty")
        if criterion.criterion_kind == "self_assessed":
            given = [column for column in RULE_COLUMNS if getattr(criterion, column) is not None]
            if given:
                problems.append(
                    f"{where}: a self_assessed criterion takes no rule, but has {', '.join(given)}"
                )
        elif criterion.criterion_kind == "metric":
            problems.extend(
                f"{where}: {problem}" for problem in _rule_problems(criterion, catalogue)
            )
        else:
            problems.append(
                f"{where}: criterion_kind '{criterion.criterion_kind}' "
                "must be self_assessed or metric"
            )
    covered = {(c.domain_id, c.level) for c in matrix.criteria}
    for level in matrix.levels:
        if level.level in LEVELS and (level.domain_id, level.level) not in covered:
            problems.append(
                f"level {level.level} ({level.level_name}) of domain '{level.domain_id}' "
                "has no criteria"
            )
    return problems


def _rule_problems(criterion: Criterion, catalogue: Mapping[str, CatalogueMetric]) -> list[str]:
    """What is wrong with a metric criterion's rule; empty when it is well formed."""
    problems: list[str] = []
    if criterion.rule not in RULES:
        problems.append(f"rule '{criterion.rule or ''}' must be one of {', '.join(RULES)}")
    metric = catalogue.get(criterion.metric_id or "")
    if metric is None:
        problems.append(f"metric_id '{criterion.metric_id or ''}' is not in the metric catalogue")
    geography = criterion.geography_level or "neighbourhood"
    if geography not in GEOGRAPHY_LEVELS:
        problems.append(
            f"geography_level '{geography}' must be one of {', '.join(GEOGRAPHY_LEVELS)}"
        )
    breakdown_type = criterion.breakdown_type or "all"
    breakdown_value = criterion.breakdown_value or "all"
    allowed_values = BREAKDOWN_VALUES.get(breakdown_type)
    if allowed_values is None:
        problems.append(f"breakdown_type '{breakdown_type}' is not a breakdown")
    elif breakdown_value not in allowed_values:
        problems.append(
            f"breakdown_value '{breakdown_value}' is not a value of breakdown '{breakdown_type}'"
        )
    if criterion.rule == "threshold":
        if criterion.operator not in OPERATORS:
            problems.append(
                f"a threshold rule needs operator one of {' '.join(OPERATORS)}, "
                f"not '{criterion.operator or ''}'"
            )
        if not _is_number(criterion.threshold):
            problems.append(f"threshold '{criterion.threshold or ''}' is not a number")
    elif criterion.rule in RULES and (criterion.operator or criterion.threshold):
        problems.append(f"the {criterion.rule} rule takes no operator or threshold")
    if criterion.rule == "not_worse_than_icb" and geography == "icb":
        problems.append(
            "not_worse_than_icb compares with the ICB, so geography_level cannot be icb"
        )
    if criterion.rule == "gap_narrowing" and breakdown_type != "all":
        problems.append("a gap_narrowing rule reads the whole gap: breakdown must be all")
    if metric is not None:
        problems.extend(_metric_fit_problems(criterion, metric, breakdown_type, geography))
    return problems


def _metric_fit_problems(
    criterion: Criterion, metric: CatalogueMetric, breakdown_type: str, geography: str
) -> list[str]:
    """Whether the rule asks for something the catalogue says the metric has."""
    problems: list[str] = []
    name = metric.metric_id
    if criterion.period_grain not in metric.period_grains:
        problems.append(
            f"period_grain '{criterion.period_grain or ''}' is not a grain of {name} "
            f"({', '.join(metric.period_grains)})"
        )
    if breakdown_type in BREAKDOWN_VALUES and breakdown_type not in metric.breakdowns:
        problems.append(f"{name} has no '{breakdown_type}' breakdown")
    if criterion.rule in ("improving", "not_worse_than_icb") and metric.polarity == "neutral":
        problems.append(
            f"{name} is neutral (neither higher nor lower is better): no {criterion.rule}"
        )
    if criterion.rule == "gap_narrowing" and "imd_quintile" not in metric.breakdowns:
        problems.append(f"{name} has no imd_quintile breakdown, so it has no inequality gap")
    if (
        geography == "neighbourhood"
        and metric.source_datasets
        and set(metric.source_datasets) <= PLACE_ONLY_DATASETS
    ):
        problems.append(f"{name} exists only for place and ICB: set geography_level to place")
    return problems


def _is_number(text: str | None) -> bool:
    if text is None:
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _dependency_problems(matrix: Matrix) -> list[str]:
    """depends_on must name criteria of the same kind, and never lead back to itself."""
    problems: list[str] = []
    by_id = {c.criterion_id: c for c in matrix.criteria}
    for criterion in matrix.criteria:
        where = f"{CRITERIA_FILE} row {criterion.row} ({criterion.criterion_id})"
        if len(criterion.depends_on) > MAX_PREREQUISITES:
            problems.append(
                f"{where}: depends_on lists {len(criterion.depends_on)} criteria; "
                f"at most {MAX_PREREQUISITES}"
            )
        for required in criterion.depends_on:
            other = by_id.get(required)
            if other is None:
                problems.append(f"{where}: depends_on '{required}' is not a criterion")
            elif required == criterion.criterion_id:
                problems.append(f"{where}: a criterion cannot depend on itself")
            elif other.criterion_kind != criterion.criterion_kind:
                problems.append(
                    f"{where}: depends_on '{required}' is {other.criterion_kind}, but a "
                    f"{criterion.criterion_kind} criterion may only depend on its own kind"
                )
    problems.extend(
        f"{CRITERIA_FILE}: depends_on forms a cycle: {' -> '.join(cycle)}"
        for cycle in _cycles({c.criterion_id: c.depends_on for c in matrix.criteria})
    )
    return problems


def _cycles(graph: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Each cycle of the graph once, as a path that starts and ends at its smallest id."""
    found: dict[tuple[str, ...], list[str]] = {}
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for following in graph.get(node, ()):
            if following == node or following not in graph:
                continue
            if state.get(following) == "open":
                cycle = path[path.index(following) :]
                start = cycle.index(min(cycle))
                ordered = cycle[start:] + cycle[:start]
                found.setdefault(tuple(ordered), [*ordered, ordered[0]])
            elif following not in state:
                visit(following)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return [found[key] for key in sorted(found)]
