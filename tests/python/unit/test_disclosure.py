"""Disclosure control (metrics_cli/disclosure.py): hand-worked examples of every rule.

Cells are built at one period (2024/25) under a small hierarchy: practices A1, A2, A3 in
PCN N1 and B1, B2 in PCN N2, both PCNs in ICB Q1, which is also `all`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from metrics_cli.disclosure import (
    DEFAULT_ROUNDING,
    DEFAULT_THRESHOLD,
    MetricKind,
    apply_disclosure,
    determined_cells,
    is_small,
    metric_kind,
    metric_kinds,
    nesting_edges,
    protect_inequality_gaps,
    protect_spc,
    round_to_base,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
PERIOD_START = date(2024, 4, 1)
PERIOD_END = date(2025, 3, 31)
HIERARCHY = {"A1": "N1", "A2": "N1", "A3": "N1", "B1": "N2", "B2": "N2"}

CATALOGUE = pl.DataFrame(
    {
        "metric_id": ["events_rate", "index_mean", "survey_share", "fte_rate", "top_share"],
        "method": ["byars", "t_mean", "wilson", "none", "none"],
        "source_datasets": [
            "hospital_activity|registered_population",
            "gp_encounters",
            "prem_responses",
            "workforce|registered_population",
            "gp_encounters",
        ],
    }
)


def geographies(practices: Iterable[str] = HIERARCHY) -> pl.DataFrame:
    rows = []
    for practice in practices:
        pcn = HIERARCHY.get(practice, "N9")
        for geography_type, code in [
            ("practice", practice),
            ("pcn", pcn),
            ("icb", "Q1"),
            ("all", "all"),
        ]:
            rows.append((PERIOD_END, practice, geography_type, code))
    return pl.DataFrame(
        rows,
        schema=["period_end", "practice_code", "geography_type", "geography_code"],
        orient="row",
    )


NO_HIERARCHY = geographies([])
"""For rows whose geographies are unrelated: no parent adds up from them."""


def cell(
    geography_type: str,
    geography_code: str,
    numerator: float,
    denominator: float = 1000.0,
    unweighted_count: float | None = None,
    breakdown: tuple[str, str] = ("all", "all"),
    metric_id: str = "events_rate",
) -> dict[str, object]:
    value = numerator / denominator * 1000 if denominator else None
    return {
        "metric_id": metric_id,
        "period_grain": "financial_year",
        "period_start": PERIOD_START,
        "period_end": PERIOD_END,
        "period_label": "2024/25",
        "geography_type": geography_type,
        "geography_code": geography_code,
        "breakdown_type": breakdown[0],
        "breakdown_value": breakdown[1],
        "numerator": float(numerator),
        "denominator": float(denominator),
        "unweighted_count": float(numerator if unweighted_count is None else unweighted_count),
        "value": value,
        "lower_95": None if value is None else value * 0.9,
        "upper_95": None if value is None else value * 1.1,
        "lower_998": None if value is None else value * 0.8,
        "upper_998": None if value is None else value * 1.2,
        "method": "byars",
        "comparison_to_parent": "similar",
        "not_calculated_reason": None,
    }


def frame(rows: Sequence[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema_overrides={
            "value": pl.Float64,
            "lower_95": pl.Float64,
            "upper_95": pl.Float64,
            "lower_998": pl.Float64,
            "upper_998": pl.Float64,
            "not_calculated_reason": pl.Utf8,
        },
    )


def by_cell(result: pl.DataFrame) -> dict[tuple[str, str, str], dict[str, object]]:
    return {
        (row["geography_code"], row["breakdown_type"], row["breakdown_value"]): row
        for row in result.iter_rows(named=True)
    }


def quintile_rows(counts: Sequence[int], total: int) -> list[dict[str, object]]:
    rows = [
        cell("all", "all", n, breakdown=("imd_quintile", str(q)))
        for q, n in enumerate(counts, start=1)
    ]
    return [*rows, cell("all", "all", total)]


# ---------------------------------------------------------------- building blocks


def test_metric_kinds_follow_method_and_sources() -> None:
    assert metric_kind("t_mean", "gp_encounters") is MetricKind.MEAN
    assert metric_kind("wilson", "prem_responses") is MetricKind.WEIGHTED_SURVEY
    assert metric_kind("none", "spend") is MetricKind.NO_COUNTS
    assert metric_kind("none", "workforce|registered_population") is MetricKind.NO_COUNTS
    assert metric_kind("none", "gp_encounters") is MetricKind.COUNTS
    assert metric_kind("wilson", "gp_appointments") is MetricKind.COUNTS
    assert metric_kinds(CATALOGUE)["kind"].to_list() == [
        "counts",
        "mean",
        "weighted_survey",
        "no_counts",
        "counts",
    ]


def test_shipped_catalogue_kinds() -> None:
    seed = REPO_ROOT / "seeds" / "metric_catalogue.csv"
    kinds = dict(metric_kinds(pl.read_csv(seed)).iter_rows())
    assert kinds["continuity_coc"] == "mean"
    assert kinds["prem_needs_met_positive"] == "weighted_survey"
    assert kinds["frequent_attender_concentration"] == "counts"
    assert kinds["acsc_emergency_admission_dsr"] == "counts"
    no_counts = sorted(metric for metric, kind in kinds.items() if kind == "no_counts")
    assert no_counts == [
        "arrs_fte_per_10k",
        "clinical_fte_per_10k",
        "funding_rebalancing_total",
        "gp_fte_per_10k",
        "needs_based_funding_gap",
        "needs_based_funding_gap_pct",
        "payments_per_weighted_patient",
        "primary_community_spend_share",
        "primary_community_spend_shift_pp",
    ]


def test_defaults_are_the_dbt_vars() -> None:
    project = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["disclosure_threshold"] == DEFAULT_THRESHOLD
    assert project["vars"]["disclosure_rounding"] == DEFAULT_ROUNDING


def test_small_means_above_zero_and_rounding_to_at_most_the_threshold() -> None:
    values = pl.DataFrame({"n": [0.0, 0.3, 1.0, 7.0, 7.4, 7.5, 8.0, None]})
    assert values.select(is_small("n", 7))["n"].to_list() == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        None,
    ]


def test_rounding_is_half_up_to_the_base() -> None:
    values = pl.DataFrame({"n": [0.0, 2.4, 2.5, 7.5, 12.0, 12.5, 13.0, 223.0]})
    assert values.select(round_to_base("n", 5))["n"].to_list() == [
        0.0,
        0.0,
        5.0,
        10.0,
        10.0,
        15.0,
        15.0,
        225.0,
    ]


# ---------------------------------------------------------------- primary suppression


def test_golden_quintiles_against_all() -> None:
    """3, 40, 50, 60, 70 with all = 223: the 3 is small, and the 40 (next smallest) goes
    too, or 223 - 50 - 60 - 70 - 40 would give it back."""
    result = by_cell(
        apply_disclosure(frame(quintile_rows([3, 40, 50, 60, 70], 223)), CATALOGUE, geographies())
    )
    rules = {key[2]: row["suppression_rule"] for key, row in result.items()}
    assert rules == {
        "1": "small_count",
        "2": "secondary",
        "3": None,
        "4": None,
        "5": None,
        "all": None,
    }
    numerators = {key[2]: row["numerator"] for key, row in result.items()}
    assert numerators == {"1": None, "2": None, "3": 50.0, "4": 60.0, "5": 70.0, "all": 225.0}
    q1 = result[("all", "imd_quintile", "1")]
    assert q1["is_suppressed"] is True
    assert [q1[c] for c in ("denominator", "unweighted_count", "value", "upper_998")] == [
        None
    ] * 4
    assert q1["comparison_to_parent"] is None


def test_quintile_gap_is_not_relied_on() -> None:
    """Quintiles need not add up to `all` (unknown LSOAs count only in `all`); the gap is
    treated as known, so one small quintile still takes a second one with it."""
    result = by_cell(
        apply_disclosure(frame(quintile_rows([30, 40, 5, 60, 70], 260)), CATALOGUE, geographies())
    )
    assert result[("all", "imd_quintile", "3")]["suppression_rule"] == "small_count"
    assert result[("all", "imd_quintile", "1")]["suppression_rule"] == "secondary"
    assert result[("all", "all", "all")]["is_suppressed"] is False


def test_golden_practices_against_their_pcn() -> None:
    """PCN N1 = 5 + 30 + 12: the 5 goes, and the 12 as the smallest sibling; N2, Q1 and
    `all` are published and N1 is published as 45."""
    rows = [
        cell("practice", "A1", 5),
        cell("practice", "A2", 30),
        cell("practice", "A3", 12),
        cell("practice", "B1", 100),
        cell("practice", "B2", 76),
        cell("pcn", "N1", 47),
        cell("pcn", "N2", 176),
        cell("icb", "Q1", 223),
        cell("all", "all", 223),
    ]
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, geographies()))
    rules = {key[0]: row["suppression_rule"] for key, row in result.items()}
    assert rules == {
        "A1": "small_count",
        "A2": None,
        "A3": "secondary",
        "B1": None,
        "B2": None,
        "N1": None,
        "N2": None,
        "Q1": None,
        "all": None,
    }
    assert result[("N1", "all", "all")]["numerator"] == 45.0
    assert result[("B2", "all", "all")]["numerator"] == 75.0


def test_a_zero_sibling_is_chosen_only_when_nothing_else_is_left() -> None:
    rows = [
        cell("practice", "A1", 4),
        cell("practice", "A2", 0),
        cell("practice", "A3", 25),
        cell("pcn", "N1", 29),
    ]
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, geographies(["A1", "A2", "A3"])))
    assert result[("A3", "all", "all")]["suppression_rule"] == "secondary"
    assert result[("A2", "all", "all")]["is_suppressed"] is False
    assert result[("A2", "all", "all")]["numerator"] == 0.0


def test_an_only_child_takes_its_parent_with_it() -> None:
    """A PCN with one practice: the practice's small count is the PCN's."""
    rows = [cell("practice", "C1", 6), cell("pcn", "N9", 6)]
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, geographies(["C1"])))
    assert result[("C1", "all", "all")]["suppression_rule"] == "small_count"
    assert result[("N9", "all", "all")]["suppression_rule"] == "small_count"


def test_a_small_denominator_suppresses_the_row() -> None:
    rows = [cell("all", "all", 0, denominator=3)]
    result = apply_disclosure(frame(rows), CATALOGUE, geographies())
    assert result["suppression_rule"].to_list() == ["small_count"]


def test_zero_counts_are_not_suppressed() -> None:
    rows = [cell("all", "all", 0, denominator=500)]
    result = apply_disclosure(frame(rows), CATALOGUE, geographies())
    assert result["is_suppressed"].to_list() == [False]
    assert result["numerator"].to_list() == [0.0]
    assert result["denominator"].to_list() == [500.0]


def test_means_from_fewer_than_ten_patients_and_their_numerators() -> None:
    """A mean's numerator is a sum of indices: never tested or rounded; its patient count
    is a count, and fewer than 10 patients suppress the mean."""
    rows = [
        cell("all", "all", 6.37, denominator=9, unweighted_count=9, metric_id="index_mean"),
        cell("icb", "Q1", 12.5, denominator=23, unweighted_count=23, metric_id="index_mean"),
    ]
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, NO_HIERARCHY))
    assert result[("all", "all", "all")]["suppression_rule"] == "small_base"
    published = result[("Q1", "all", "all")]
    assert published["numerator"] == 12.5
    assert published["denominator"] == 25.0
    assert published["unweighted_count"] == 25.0


def test_survey_results_from_fewer_than_ten_respondents() -> None:
    """Weighted sums count weighted respondents: tested and rounded like counts; the
    unweighted respondent count must reach 10."""
    rows = [
        cell("all", "all", 8.6, denominator=12.2, unweighted_count=9, metric_id="survey_share"),
        cell("icb", "Q1", 11.4, denominator=16.2, unweighted_count=14, metric_id="survey_share"),
        cell("pcn", "N1", 6.9, denominator=19.0, unweighted_count=18, metric_id="survey_share"),
    ]
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, NO_HIERARCHY))
    assert result[("all", "all", "all")]["suppression_rule"] == "small_base"
    assert result[("N1", "all", "all")]["suppression_rule"] == "small_count"
    published = result[("Q1", "all", "all")]
    assert (published["numerator"], published["denominator"]) == (10.0, 15.0)
    assert published["unweighted_count"] == 15.0


def test_money_and_fte_are_never_suppressed_or_rounded() -> None:
    rows = [cell("all", "all", 3.2, denominator=4321.5, unweighted_count=2, metric_id="fte_rate")]
    result = apply_disclosure(frame(rows), CATALOGUE, geographies())
    row = result.row(0, named=True)
    assert row["is_suppressed"] is False
    assert (row["numerator"], row["denominator"], row["unweighted_count"]) == (3.2, 4321.5, 2.0)


def test_rounding_none_leaves_counts_unrounded() -> None:
    rows = quintile_rows([3, 41, 52, 63, 74], 233)
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, geographies(), rounding=None))
    assert result[("all", "imd_quintile", "3")]["numerator"] == 52.0
    assert result[("all", "imd_quintile", "1")]["numerator"] is None


def test_threshold_is_a_parameter() -> None:
    rows = quintile_rows([9, 40, 50, 60, 70], 229)
    assert not apply_disclosure(frame(rows), CATALOGUE, geographies())["is_suppressed"].any()
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, geographies(), threshold=10))
    assert result[("all", "imd_quintile", "1")]["suppression_rule"] == "small_count"
    assert result[("all", "imd_quintile", "2")]["suppression_rule"] == "secondary"


def test_rejects_nonsense_settings() -> None:
    rows = frame([cell("all", "all", 10)])
    with pytest.raises(ValueError, match="threshold"):
        apply_disclosure(rows, CATALOGUE, geographies(), threshold=-1)
    with pytest.raises(ValueError, match="rounding"):
        apply_disclosure(rows, CATALOGUE, geographies(), rounding=0)


def test_output_keeps_the_input_columns_and_order() -> None:
    rows = frame(quintile_rows([3, 40, 50, 60, 70], 223)).reverse()
    result = apply_disclosure(rows, CATALOGUE, geographies())
    assert result.columns == [*rows.columns, "is_suppressed", "suppression_rule"]
    assert result["breakdown_value"].to_list() == rows["breakdown_value"].to_list()
    assert result.schema["numerator"] == pl.Float64


def test_months_add_up_to_the_financial_year() -> None:
    """Monthly events 20, 21, .., with 4 in June; the year is their sum. June is small, and
    the smallest other month (April, 20) goes too, or the year minus 11 months gives it."""
    months = [date(2024 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 16)]
    counts = [4 if start.month == 6 else 20 + number for number, start in enumerate(months)]
    rows = []
    for start, n in zip(months, counts, strict=True):
        row = cell("all", "all", n)
        row.update(period_grain="month", period_start=start, period_label=str(start)[:7])
        rows.append(row)
    rows.append(cell("all", "all", sum(counts)))
    result = apply_disclosure(frame(rows), CATALOGUE, geographies())
    rules = dict(zip(result["period_label"], result["suppression_rule"], strict=True))
    assert rules.pop("2024-06") == "small_count"
    assert rules.pop("2024-04") == "secondary"
    assert set(rules.values()) == {None}


def test_nesting_edges_take_the_coarsest_level_that_adds_up() -> None:
    """PCN N2 straddles neighbourhoods H1 and H2, so each neighbourhood adds up from its
    practices; `all` adds up from the neighbourhoods, the PCNs from their practices."""
    membership = {
        "A1": ("N1", "H1"),
        "A2": ("N1", "H1"),
        "A3": ("N2", "H1"),
        "B1": ("N2", "H2"),
    }
    rows = [
        (PERIOD_END, practice, geography_type, code)
        for practice, (pcn, neighbourhood) in membership.items()
        for geography_type, code in [
            ("practice", practice),
            ("pcn", pcn),
            ("neighbourhood", neighbourhood),
            ("all", "all"),
        ]
    ]
    hierarchy = pl.DataFrame(
        rows,
        schema=["period_end", "practice_code", "geography_type", "geography_code"],
        orient="row",
    )
    edges = nesting_edges(hierarchy).sort("parent_type", "parent_code", "child_code")
    assert edges.drop("period_end").rows() == [
        ("all", "all", "neighbourhood", "H1"),
        ("all", "all", "neighbourhood", "H2"),
        ("neighbourhood", "H1", "practice", "A1"),
        ("neighbourhood", "H1", "practice", "A2"),
        ("neighbourhood", "H1", "practice", "A3"),
        ("neighbourhood", "H2", "practice", "B1"),
        ("pcn", "N1", "practice", "A1"),
        ("pcn", "N1", "practice", "A2"),
        ("pcn", "N2", "practice", "A3"),
        ("pcn", "N2", "practice", "B1"),
    ]


# ---------------------------------------------------------------- core20 and quintile 1


def test_core20_is_quintile_1() -> None:
    """Core20 LSOAs are IMD deciles 1-2, that is quintile 1: a small quintile 1 hides the
    Core20 row, and with it one of core20/rest against `all`."""
    rows = [
        *quintile_rows([4, 40, 50, 60, 70], 224),
        cell("all", "all", 4, breakdown=("core20", "core20")),
        cell("all", "all", 220, breakdown=("core20", "rest")),
    ]
    result = by_cell(apply_disclosure(frame(rows), CATALOGUE, geographies()))
    assert result[("all", "core20", "core20")]["suppression_rule"] == "small_count"
    assert result[("all", "imd_quintile", "1")]["suppression_rule"] == "small_count"
    assert result[("all", "core20", "rest")]["suppression_rule"] == "secondary"
    assert result[("all", "imd_quintile", "2")]["suppression_rule"] == "secondary"
    assert result[("all", "all", "all")]["is_suppressed"] is False


# ---------------------------------------------------------------- the linear audit


def test_determined_cells_finds_a_bridge() -> None:
    """Rows A (1, 2), B (3, 4, 5) and columns (1, 3), (2, 4): every equation holds two or
    more unknowns, yet A + B - col1 - col2 leaves cell 5 alone."""
    equations = [
        {1: 1, 2: 1},
        {3: 1, 4: 1, 5: 1},
        {1: 1, 3: 1},
        {2: 1, 4: 1},
    ]
    assert determined_cells(equations) == [5]
    assert determined_cells([{1: 1, 2: -1}, {2: 1, 3: -1}]) == []
    assert determined_cells([{1: 1, 2: 1}, {1: 1, 2: -1}]) == [1, 2]


def test_two_dimensional_bridge_is_protected() -> None:
    """Practices A1..B2 by quintile, in one PCN, with these small cells:
    A1: q1, q2; A2: q1, q2, q3; A3: q3, q4; B1: q3, q4. Every row and column holds two or
    more, but rows A1 + A2 minus columns q1 + q2 give A2's q3. The audit adds cells until
    nothing can be worked out."""
    small = {
        ("A1", "1"): 2,
        ("A1", "2"): 3,
        ("A2", "1"): 2,
        ("A2", "2"): 3,
        ("A2", "3"): 4,
        ("A3", "3"): 5,
        ("A3", "4"): 6,
        ("B1", "3"): 2,
        ("B1", "4"): 3,
    }
    practices = ["A1", "A2", "A3", "B1", "B2"]
    hierarchy = pl.DataFrame(
        [(PERIOD_END, p, t, c) for p in practices for t, c in [("practice", p), ("pcn", "N1")]],
        schema=["period_end", "practice_code", "geography_type", "geography_code"],
        orient="row",
    )
    rows = []
    totals = {q: 0 for q in "12345"}
    for number, practice in enumerate(practices):
        counts = {q: small.get((practice, q), 20 + 3 * number + int(q)) for q in "12345"}
        for q, n in counts.items():
            rows.append(cell("practice", practice, n, breakdown=("imd_quintile", q)))
            totals[q] += n
        rows.append(cell("practice", practice, sum(counts.values())))
    for q, n in totals.items():
        rows.append(cell("pcn", "N1", n, breakdown=("imd_quintile", q)))
    rows.append(cell("pcn", "N1", sum(totals.values())))
    result = apply_disclosure(frame(rows), CATALOGUE, hierarchy)
    rules = by_cell(result)
    assert all(rules[(p, "imd_quintile", q)]["suppression_rule"] == "small_count" for p, q in small)
    hidden = {
        (row["geography_code"], row["breakdown_value"])
        for row in result.filter(pl.col("is_suppressed")).iter_rows(named=True)
    }
    assert len(hidden) > len(small)

    # Independent check: equations over the hidden cells, published cells known.
    equations: list[dict[int, int]] = []
    index = {key: i for i, key in enumerate(sorted(hidden))}
    for practice in practices:
        equations.append(
            {index[(practice, q)]: 1 for q in "12345" if (practice, q) in hidden}
            | ({index[(practice, "all")]: -1} if (practice, "all") in hidden else {})
        )
    for q in "12345":
        equations.append(
            {index[(p, q)]: 1 for p in practices if (p, q) in hidden}
            | ({index[("N1", q)]: -1} if ("N1", q) in hidden else {})
        )
    assert determined_cells([e for e in equations if e]) == []


# ---------------------------------------------------------------- derived marts


def protected_row(
    breakdown: tuple[str, str], suppressed: bool, grain: str = "financial_year"
) -> dict[str, object]:
    return {
        "metric_id": "events_rate",
        "period_grain": grain,
        "period_start": PERIOD_START,
        "period_label": "2024/25",
        "geography_type": "pcn",
        "geography_code": "N1",
        "breakdown_type": breakdown[0],
        "breakdown_value": breakdown[1],
        "is_suppressed": suppressed,
    }


def gap_row() -> dict[str, object]:
    return {
        "metric_id": "events_rate",
        "period_grain": "financial_year",
        "period_label": "2024/25",
        "geography_type": "pcn",
        "geography_code": "N1",
        "quintile_1_value": 30.0,
        "quintile_5_value": 20.0,
        "gap_absolute": 10.0,
        "gap_relative": 1.5,
        "core20_value": 30.0,
        "rest_value": 22.0,
        "core20_gap": 8.0,
        "sii": -12.0,
        "sii_lower_95": -15.0,
        "sii_upper_95": -9.0,
        "rii": -0.5,
        "rii_lower_95": -0.6,
        "rii_upper_95": -0.4,
        "not_calculated_reason": None,
    }


def test_inequality_gaps_hide_what_suppressed_quintiles_feed() -> None:
    protected = pl.DataFrame(
        [
            protected_row(("imd_quintile", "1"), False),
            protected_row(("imd_quintile", "3"), True),
            protected_row(("imd_quintile", "5"), True),
            protected_row(("core20", "core20"), False),
            protected_row(("core20", "rest"), False),
        ]
    )
    gaps = pl.DataFrame([gap_row()], schema_overrides={"not_calculated_reason": pl.Utf8})
    row = protect_inequality_gaps(gaps, protected).row(0, named=True)
    assert row["quintile_1_value"] == 30.0
    assert row["quintile_5_value"] is None
    assert (row["gap_absolute"], row["gap_relative"]) == (None, None)
    assert (row["core20_value"], row["rest_value"], row["core20_gap"]) == (30.0, 22.0, 8.0)
    assert row["sii"] is None and row["rii_upper_95"] is None
    assert row["is_suppressed"] is True
    assert row["suppressed_columns"] == (
        "quintile_5_value|gap_absolute|gap_relative|sii|sii_lower_95|sii_upper_95|"
        "rii|rii_lower_95|rii_upper_95"
    )


def test_inequality_gaps_untouched_when_nothing_is_suppressed() -> None:
    protected = pl.DataFrame([protected_row(("imd_quintile", str(q)), False) for q in range(1, 6)])
    gaps = pl.DataFrame([gap_row()], schema_overrides={"not_calculated_reason": pl.Utf8})
    result = protect_inequality_gaps(gaps, protected)
    assert result.drop("is_suppressed", "suppressed_columns").equals(gaps)
    assert result["is_suppressed"].to_list() == [False]
    assert result["suppressed_columns"].to_list() == [None]


def spc_rows(code: str, values: Sequence[float]) -> list[dict[str, object]]:
    return [
        {
            "metric_id": "events_rate",
            "geography_type": "practice",
            "geography_code": code,
            "breakdown_type": "all",
            "breakdown_value": "all",
            "period_start": date(2024, month, 1),
            "value": value,
            "mean": 11.0,
            "lower_process_limit": 5.68,
            "upper_process_limit": 16.32,
            "lower_near_limit": 7.45,
            "upper_near_limit": 14.55,
            "point_type": "common_cause",
            "is_last_point": month == len(values),
            "variation_icon": "common_cause" if month == len(values) else None,
            "assurance_icon": "inconsistent" if month == len(values) else None,
            "target": 12.0,
        }
        for month, value in enumerate(values, start=1)
    ]


def monthly(code: str, suppressed_months: Iterable[int]) -> list[dict[str, object]]:
    hidden = set(suppressed_months)
    return [
        {
            "metric_id": "events_rate",
            "period_grain": "month",
            "period_start": date(2024, month, 1),
            "geography_type": "practice",
            "geography_code": code,
            "breakdown_type": "all",
            "breakdown_value": "all",
            "is_suppressed": month in hidden,
        }
        for month in range(1, 4)
    ]


def test_spc_hides_the_variation_icon_when_the_last_point_is_suppressed() -> None:
    rows = spc_rows("A1", [10, 12, 11])
    for row in rows:
        row["variation_icon"] = "common_cause"
    result = protect_spc(pl.DataFrame(rows), pl.DataFrame(monthly("A1", [3])))
    assert result["variation_icon"].to_list() == [None, None, None]
    earlier = protect_spc(pl.DataFrame(rows), pl.DataFrame(monthly("A1", [2])))
    assert earlier["variation_icon"].to_list() == ["common_cause"] * 3
    assert earlier["value"].to_list() == [10, None, 11]


def test_spc_hides_a_suppressed_point_and_its_series_limits() -> None:
    spc = pl.DataFrame([*spc_rows("A1", [10, 12, 11]), *spc_rows("A2", [9, 13, 10])])
    protected = pl.DataFrame([*monthly("A1", [3]), *monthly("A2", [])])
    result = protect_spc(spc, protected)
    a1 = result.filter(pl.col("geography_code") == "A1")
    assert a1["value"].to_list() == [10, 12, None]
    assert a1["point_type"].to_list() == ["common_cause", "common_cause", None]
    assert a1["mean"].to_list() == [None, None, None]
    assert a1["upper_near_limit"].to_list() == [None, None, None]
    assert a1["variation_icon"].to_list() == [None, None, None]
    assert a1["assurance_icon"].to_list() == [None, None, None]
    assert a1["target"].to_list() == [12.0, 12.0, 12.0]
    assert a1["suppressed_columns"].to_list() == [
        "mean|lower_process_limit|upper_process_limit|lower_near_limit|upper_near_limit|"
        "variation_icon|assurance_icon",
    ] * 2 + [
        "value|mean|lower_process_limit|upper_process_limit|lower_near_limit|"
        "upper_near_limit|point_type|variation_icon|assurance_icon"
    ]
    a2 = result.filter(pl.col("geography_code") == "A2")
    assert a2.drop("is_suppressed", "suppressed_columns").equals(
        spc.filter(pl.col("geography_code") == "A2")
    )
    assert not a2["is_suppressed"].any()
