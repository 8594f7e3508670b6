"""The maturity matrix as data: the shipped default is valid and shaped as the spec says,
and a replacement matrix is refused with one clear sentence per problem."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from metrics_cli.errors import DataError
from metrics_cli.maturity import (
    CRITERIA_COLUMNS,
    CRITERIA_FILE,
    DOMAIN_COLUMNS,
    DOMAINS_FILE,
    LEVEL_COLUMNS,
    LEVELS_FILE,
    default_matrix_dir,
    load_catalogue,
    read_matrix,
    validate_matrix,
)

SPEC_DOMAINS = {
    "leadership": "Leadership, governance and partnership",
    "population_health": "Population health management and data",
    "urgent_access": "Integrated same-day urgent access",
    "proactive_care": "Proactive, personalised care and continuity",
    "prevention_inequalities": "Prevention and health inequalities",
    "workforce": "Workforce and teams of teams",
    "infrastructure": "Estates and digital infrastructure",
    "communities": "Working with people and communities",
    "care_closer_to_home": "Resources and the shift to community",
}
METRIC_DOMAINS = (
    "urgent_access",
    "proactive_care",
    "prevention_inequalities",
    "workforce",
    "care_closer_to_home",
)
CATALOGUE = [
    "metric_id,title,polarity,period_grains,breakdowns,source_datasets",
    "same_day_share,Same day,higher_is_better,month,all,gp_appointments",
    "dna_rate,DNA,lower_is_better,month,all,gp_appointments",
    "face_to_face_share,F2F,neutral,month,all,gp_appointments",
    "continuity_coc,COC,higher_is_better,financial_year|rolling_12m,all|imd_quintile|cohort,"
    "gp_encounters",
    "spend_share,Spend,higher_is_better,financial_year,all,spend",
]


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in columns})


def self_row(criterion_id: str, level: int, **fields: str) -> dict[str, str]:
    row = {
        "criterion_id": criterion_id,
        "domain_id": "alpha",
        "level": str(level),
        "criterion_kind": "self_assessed",
        "statement": f"Statement {criterion_id}",
    }
    return row | fields


def metric_row(criterion_id: str, level: int, **fields: str) -> dict[str, str]:
    row = self_row(criterion_id, level, criterion_kind="metric")
    row |= {"rule": "threshold", "metric_id": "same_day_share", "period_grain": "month"}
    row |= {"operator": ">=", "threshold": "40"}
    return row | fields


def build_matrix(
    directory: Path,
    criteria: list[dict[str, str]] | None = None,
    levels: list[dict[str, str]] | None = None,
    domains: list[dict[str, str]] | None = None,
) -> Path:
    """A valid one-domain matrix (one self-assessed and one metric criterion per level),
    with any of its three files replaced by the rows given."""
    directory.mkdir(parents=True, exist_ok=True)
    names = ["Foundation", "Developing", "Maturing", "Thriving"]
    write_csv(
        directory / DOMAINS_FILE,
        DOMAIN_COLUMNS,
        domains or [{"domain_id": "alpha", "title": "Alpha", "display_order": "1"}],
    )
    write_csv(
        directory / LEVELS_FILE,
        LEVEL_COLUMNS,
        levels
        or [
            {"domain_id": "alpha", "level": str(level), "level_name": names[level - 1]}
            for level in range(1, 5)
        ],
    )
    default_criteria = [self_row(f"alpha_{level}_self", level) for level in range(1, 5)]
    default_criteria += [metric_row(f"alpha_{level}_metric", level) for level in range(1, 5)]
    write_csv(directory / CRITERIA_FILE, CRITERIA_COLUMNS, criteria or default_criteria)
    return directory


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "metric_catalogue.csv"
    path.write_text("\n".join(CATALOGUE) + "\n", encoding="utf-8")
    return path


def problems_of(directory: Path, catalogue: Path) -> list[str]:
    """The problem lines of the DataError validate_matrix raises."""
    with pytest.raises(DataError) as raised:
        validate_matrix(directory, catalogue)
    lines = raised.value.message.splitlines()
    assert lines[0].endswith("problem(s):")
    return [line.removeprefix("  - ") for line in lines[1:]]


def with_criteria(tmp_path: Path, *changed: dict[str, str]) -> Path:
    """The valid matrix with some criteria rows replaced (matched by criterion_id) or added."""
    rows = [self_row(f"alpha_{level}_self", level) for level in range(1, 5)]
    rows += [metric_row(f"alpha_{level}_metric", level) for level in range(1, 5)]
    by_id = {row["criterion_id"]: row for row in rows}
    for row in changed:
        by_id[row["criterion_id"]] = row
    return build_matrix(tmp_path / "matrix", criteria=list(by_id.values()))


# ---------------------------------------------------------------- the shipped default


def test_the_shipped_default_matrix_is_valid() -> None:
    matrix = validate_matrix(default_matrix_dir())
    assert len(matrix.criteria) == 85


def test_the_default_has_the_nine_spec_domains_with_their_titles() -> None:
    matrix, problems = read_matrix(default_matrix_dir())
    assert problems == []
    assert {d.domain_id: d.title for d in matrix.domains} == SPEC_DOMAINS
    assert sorted(d.display_order or 0 for d in matrix.domains) == list(range(1, 10))


def test_every_default_domain_has_four_named_cumulative_levels() -> None:
    matrix, _ = read_matrix(default_matrix_dir())
    names = {(level.domain_id, level.level): level.level_name for level in matrix.levels}
    for domain in SPEC_DOMAINS:
        assert [names[(domain, level)] for level in range(1, 5)] == [
            "Foundation",
            "Developing",
            "Maturing",
            "Thriving",
        ]


def test_every_default_level_has_two_to_four_criteria() -> None:
    matrix, _ = read_matrix(default_matrix_dir())
    counts = Counter((c.domain_id, c.level) for c in matrix.criteria)
    assert len(counts) == 36
    assert min(counts.values()) == 2
    assert max(counts.values()) == 3


def test_metric_domains_have_a_metric_criterion_at_every_level() -> None:
    matrix, _ = read_matrix(default_matrix_dir())
    metric_levels = {
        (c.domain_id, c.level) for c in matrix.criteria if c.criterion_kind == "metric"
    }
    for domain in METRIC_DOMAINS:
        assert {level for d, level in metric_levels if d == domain} == {1, 2, 3, 4}


def test_the_default_uses_every_rule_kind_named_in_the_spec() -> None:
    matrix, _ = read_matrix(default_matrix_dir())
    by_id = {c.criterion_id: c for c in matrix.criteria}
    frail = by_id["proactive_care_2_slicc_frail"]
    assert (frail.rule, frail.metric_id, frail.breakdown_value) == (
        "threshold",
        "continuity_slicc",
        "frail",
    )
    coc = by_id["proactive_care_3_coc_multimorbid"]
    assert (coc.rule, coc.breakdown_value) == ("not_worse_than_icb", "multimorbid")
    gap = by_id["proactive_care_4_continuity_gap_narrowing"]
    assert (gap.rule, gap.metric_id, gap.level) == ("gap_narrowing", "continuity_coc", 4)
    acsc = by_id["prevention_inequalities_4_acsc_improving"]
    assert (acsc.rule, acsc.metric_id) == ("improving", "acsc_emergency_admission_dsr")
    spend = by_id["care_closer_to_home_3_spend_share_rising"]
    assert (spend.rule, spend.metric_id, spend.geography_level) == (
        "improving",
        "primary_community_spend_share",
        "place",
    )


def test_every_default_row_cites_a_policy_document() -> None:
    matrix, _ = read_matrix(default_matrix_dir())
    titles = (
        "Fuller Stocktake report (NHS England, 2022)",
        "(NHS Confederation, 2023)",
        "(NHS Confederation, 2022)",
        "(NHS Confederation Primary Care Network, 2025)",
    )
    for row in [*matrix.domains, *matrix.criteria]:
        assert any(title in row.source for title in titles), row


def test_default_metric_criteria_name_catalogue_metrics() -> None:
    catalogue = load_catalogue(default_matrix_dir() / "metric_catalogue.csv")
    matrix, _ = read_matrix(default_matrix_dir())
    used = {c.metric_id for c in matrix.criteria if c.criterion_kind == "metric"}
    assert used <= set(catalogue)


# ---------------------------------------------------------------- replacement matrices


def test_a_valid_replacement_is_returned(tmp_path: Path, catalogue: Path) -> None:
    matrix = validate_matrix(build_matrix(tmp_path / "matrix"), catalogue)
    assert [c.criterion_id for c in matrix.self_assessed()] == [
        "alpha_1_self",
        "alpha_2_self",
        "alpha_3_self",
        "alpha_4_self",
    ]


def test_a_missing_directory_is_a_data_error(tmp_path: Path, catalogue: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        validate_matrix(tmp_path / "nowhere", catalogue)


def test_missing_files_and_columns_are_each_named(tmp_path: Path, catalogue: Path) -> None:
    directory = build_matrix(tmp_path / "matrix")
    (directory / LEVELS_FILE).unlink()
    (directory / DOMAINS_FILE).write_text("domain_id,title\nalpha,Alpha\n", encoding="utf-8")
    assert problems_of(directory, catalogue) == [
        "maturity_domains.csv lacks column(s) description, display_order, source",
        f"maturity_domain_levels.csv is missing from {directory}",
    ]


def test_duplicate_ids_are_refused(tmp_path: Path, catalogue: Path) -> None:
    directory = build_matrix(
        tmp_path / "matrix",
        domains=[
            {"domain_id": "alpha", "title": "Alpha"},
            {"domain_id": "alpha", "title": "Alpha again"},
        ],
        criteria=[
            *(self_row(f"alpha_{level}_self", level) for level in range(1, 5)),
            self_row("alpha_1_self", 2),
        ],
    )
    assert problems_of(directory, catalogue) == [
        "maturity_domains.csv row 2: duplicate domain_id 'alpha'",
        "maturity_criteria.csv row 5 (alpha_1_self): duplicate criterion_id 'alpha_1_self'",
    ]


def test_a_domain_without_all_four_levels_is_refused(tmp_path: Path, catalogue: Path) -> None:
    directory = build_matrix(
        tmp_path / "matrix",
        levels=[
            {"domain_id": "alpha", "level": "1", "level_name": "Foundation"},
            {"domain_id": "alpha", "level": "2", "level_name": "Developing"},
        ],
        criteria=[self_row("alpha_1_self", 1), self_row("alpha_2_self", 2)],
    )
    assert problems_of(directory, catalogue) == [
        "domain 'alpha' does not have all 4 levels in maturity_domain_levels.csv: "
        "level(s) 3, 4 missing"
    ]


def test_a_level_without_criteria_is_refused(tmp_path: Path, catalogue: Path) -> None:
    directory = build_matrix(
        tmp_path / "matrix",
        criteria=[self_row(f"alpha_{level}_self", level) for level in (1, 2, 4)],
    )
    assert problems_of(directory, catalogue) == [
        "level 3 (Maturing) of domain 'alpha' has no criteria"
    ]


def test_unknown_metric_ids_are_refused(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(tmp_path, metric_row("alpha_2_metric", 2, metric_id="same_day_shar"))
    assert problems_of(directory, catalogue) == [
        "maturity_criteria.csv row 6 (alpha_2_metric): "
        "metric_id 'same_day_shar' is not in the metric catalogue"
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"rule": "better"},
            "rule 'better' must be one of threshold, improving, not_worse_than_icb, gap_narrowing",
        ),
        ({"operator": "=>"}, "a threshold rule needs operator one of >= > <= <, not '=>'"),
        ({"operator": ""}, "a threshold rule needs operator one of >= > <= <, not ''"),
        ({"threshold": "forty"}, "threshold 'forty' is not a number"),
        ({"threshold": "nan"}, "threshold 'nan' is not a number"),
        (
            {"rule": "improving"},
            "the improving rule takes no operator or threshold",
        ),
        ({"breakdown_type": "ethnicity"}, "breakdown_type 'ethnicity' is not a breakdown"),
        (
            {
                "breakdown_type": "cohort",
                "breakdown_value": "frial",
                "metric_id": "continuity_coc",
                "period_grain": "financial_year",
            },
            "breakdown_value 'frial' is not a value of breakdown 'cohort'",
        ),
        (
            {"breakdown_type": "imd_quintile", "breakdown_value": "1"},
            "same_day_share has no 'imd_quintile' breakdown",
        ),
        (
            {"period_grain": "financial_year"},
            "period_grain 'financial_year' is not a grain of same_day_share (month)",
        ),
        (
            {"geography_level": "region"},
            "geography_level 'region' must be one of neighbourhood, place, icb",
        ),
        (
            {"metric_id": "spend_share", "period_grain": "financial_year"},
            "spend_share exists only for place and ICB: set geography_level to place",
        ),
    ],
)
def test_bad_rule_syntax_is_refused(
    tmp_path: Path, catalogue: Path, fields: dict[str, str], problem: str
) -> None:
    directory = with_criteria(tmp_path, metric_row("alpha_2_metric", 2, **fields))
    assert problems_of(directory, catalogue) == [
        f"maturity_criteria.csv row 6 (alpha_2_metric): {problem}"
    ]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {
                "rule": "improving",
                "metric_id": "face_to_face_share",
                "operator": "",
                "threshold": "",
            },
            "face_to_face_share is neutral (neither higher nor lower is better): no improving",
        ),
        (
            {
                "rule": "not_worse_than_icb",
                "operator": "",
                "threshold": "",
                "geography_level": "icb",
            },
            "not_worse_than_icb compares with the ICB, so geography_level cannot be icb",
        ),
        (
            {"rule": "gap_narrowing", "operator": "", "threshold": ""},
            "same_day_share has no imd_quintile breakdown, so it has no inequality gap",
        ),
        (
            {
                "rule": "gap_narrowing",
                "operator": "",
                "threshold": "",
                "metric_id": "continuity_coc",
                "period_grain": "financial_year",
                "breakdown_type": "cohort",
                "breakdown_value": "frail",
            },
            "a gap_narrowing rule reads the whole gap: breakdown must be all",
        ),
    ],
)
def test_rules_that_cannot_apply_to_their_metric_are_refused(
    tmp_path: Path, catalogue: Path, fields: dict[str, str], problem: str
) -> None:
    directory = with_criteria(tmp_path, metric_row("alpha_3_metric", 3, **fields))
    assert problems_of(directory, catalogue) == [
        f"maturity_criteria.csv row 7 (alpha_3_metric): {problem}"
    ]


def test_self_assessed_criteria_take_no_rule(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(
        tmp_path, self_row("alpha_1_self", 1, rule="threshold", metric_id="dna_rate")
    )
    assert problems_of(directory, catalogue) == [
        "maturity_criteria.csv row 1 (alpha_1_self): "
        "a self_assessed criterion takes no rule, but has rule, metric_id"
    ]


def test_bad_kinds_levels_and_ids_are_refused(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(
        tmp_path,
        self_row("alpha_1_self", 1, criterion_kind="opinion"),
        self_row("alpha_2_self", 5),
        self_row("Alpha 9", 1),
    )
    assert problems_of(directory, catalogue) == [
        "maturity_criteria.csv row 1 (alpha_1_self): "
        "criterion_kind 'opinion' must be self_assessed or metric",
        "maturity_criteria.csv row 2 (alpha_2_self): level must be 1, 2, 3 or 4",
        "maturity_criteria.csv row 9 (Alpha 9): "
        "criterion_id must be lower-case letters, digits and underscores",
    ]


def test_dependencies_must_name_criteria_of_the_same_kind(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(
        tmp_path,
        self_row("alpha_2_self", 2, depends_on="alpha_1_self|alpha_9_self"),
        self_row("alpha_3_self", 3, depends_on="alpha_3_metric"),
        self_row("alpha_4_self", 4, depends_on="alpha_4_self"),
    )
    assert problems_of(directory, catalogue) == [
        "maturity_criteria.csv row 2 (alpha_2_self): depends_on 'alpha_9_self' is not a criterion",
        "maturity_criteria.csv row 3 (alpha_3_self): depends_on 'alpha_3_metric' is "
        "metric, but a self_assessed criterion may only depend on its own kind",
        "maturity_criteria.csv row 4 (alpha_4_self): a criterion cannot depend on itself",
    ]


def test_dependency_cycles_are_refused(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(
        tmp_path,
        self_row("alpha_1_self", 1, depends_on="alpha_3_self"),
        self_row("alpha_2_self", 2, depends_on="alpha_1_self"),
        self_row("alpha_3_self", 3, depends_on="alpha_2_self"),
        metric_row("alpha_1_metric", 1, depends_on="alpha_2_metric"),
        metric_row("alpha_2_metric", 2, depends_on="alpha_1_metric"),
    )
    assert problems_of(directory, catalogue) == [
        "maturity_criteria.csv: depends_on forms a cycle: "
        "alpha_1_metric -> alpha_2_metric -> alpha_1_metric",
        "maturity_criteria.csv: depends_on forms a cycle: "
        "alpha_1_self -> alpha_3_self -> alpha_2_self -> alpha_1_self",
    ]


def test_an_acyclic_chain_of_dependencies_is_accepted(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(
        tmp_path,
        self_row("alpha_3_self", 3, depends_on="alpha_2_self"),
        self_row("alpha_4_self", 4, depends_on="alpha_3_self|alpha_1_self"),
    )
    matrix = validate_matrix(directory, catalogue)
    by_id = {c.criterion_id: c for c in matrix.criteria}
    assert by_id["alpha_4_self"].depends_on == ("alpha_3_self", "alpha_1_self")


def test_too_many_prerequisites_are_refused(tmp_path: Path, catalogue: Path) -> None:
    extra = [self_row(f"alpha_extra_{n}", 1) for n in range(21)]
    many = "|".join(row["criterion_id"] for row in extra)
    directory = with_criteria(tmp_path, *extra, self_row("alpha_4_self", 4, depends_on=many))
    assert problems_of(directory, catalogue) == [
        "maturity_criteria.csv row 4 (alpha_4_self): depends_on lists 21 criteria; at most 20"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path, catalogue: Path) -> None:
    directory = with_criteria(
        tmp_path,
        metric_row("alpha_1_metric", 1, metric_id="nope"),
        metric_row("alpha_2_metric", 2, threshold="x"),
        self_row("alpha_3_self", 3, depends_on="ghost"),
    )
    problems = problems_of(directory, catalogue)
    assert len(problems) == 3
    with pytest.raises(DataError) as raised:
        validate_matrix(directory, catalogue)
    assert raised.value.where == str(directory)
    assert raised.value.exit_code == 1
