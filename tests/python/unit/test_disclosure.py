"""Disclosure control (metrics_cli/disclosure.py, metrics_cli/secondary.py): hand-worked
examples of every rule.

The tables are built by summing practices: practices A1, A2, A3 in PCN N1 and B1, B2 in PCN
N2, both PCNs in ICB Q1, which is also `all`. Every geography has every breakdown cell, so
every relation the intruder knows holds exactly (a parent is the sum of its practices,
`all` the sum of each partition, a year the sum of its months).

The secondary cells expected below are worked out from the documented cost rules: a cell
costs level cost (practice 1, PCN 30, ICB 1e6, `all` 3e7) x (1 + its size) x 1000 for a
headline (`all` breakdown) cell, a cell already withheld costs nothing, and each small count
takes the cheapest cube of withheld cells (two practices x two categories x two periods)
that leaves it a range of at least 3. The size of a row is its unweighted count (here the
numerator unless said otherwise).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from metrics_cli.disclosure import (
    CELL_KEY,
    DEFAULT_ROUNDING,
    DEFAULT_THRESHOLD,
    MIN_BASE,
    MetricKind,
    disclosure_decisions,
    in_key_order,
    is_small,
    metric_kind,
    metric_kinds,
    protect_inequality_gaps,
    protect_spc,
    round_to_base,
    settings_from_build_vars,
)
from metrics_cli.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[3]
Period = tuple[str, date, date]
YEAR: Period = ("financial_year", date(2024, 4, 1), date(2025, 3, 31))
APRIL: Period = ("month", date(2024, 4, 1), date(2024, 4, 30))
MAY: Period = ("month", date(2024, 5, 1), date(2024, 5, 31))
JUNE: Period = ("month", date(2024, 6, 1), date(2024, 6, 30))
HIERARCHY = {"A1": "N1", "A2": "N1", "A3": "N1", "B1": "N2", "B2": "N2"}

CATALOGUE = pl.DataFrame(
    {
        "metric_id": [
            "events_rate",
            "index_mean",
            "survey_share",
            "fte_rate",
            "top_share",
            "continuity_slicc",
            "continuity_own_patient_ratio",
        ],
        "method": ["byars", "t_mean", "wilson", "none", "none", "wilson", "wilson"],
        "source_datasets": [
            "hospital_activity|registered_population",
            "gp_encounters",
            "prem_responses",
            "workforce|registered_population",
            "gp_encounters",
            "gp_encounters|patients",
            "gp_encounters|patients",
        ],
        "unit": ["per 1,000", "index", "%", "FTE per 10,000", "%", "%", "%"],
    }
)

Category = tuple[str, str]
Leaves = Mapping[str, Mapping[Category, int]]
"""Practice -> count of each category of each partition it is broken down by."""


def geographies(
    practices: Iterable[str] = HIERARCHY, ends: Sequence[date] = (YEAR[2],)
) -> pl.DataFrame:
    """Like int_practice_geographies: each practice and every geography holding it."""
    rows = [
        (end, practice, geography_type, code)
        for end in ends
        for practice in practices
        for geography_type, code in [
            ("practice", practice),
            ("pcn", HIERARCHY.get(practice, "N9")),
            ("icb", "Q1"),
            ("all", "all"),
        ]
    ]
    return pl.DataFrame(
        rows,
        schema=["period_end", "practice_code", "geography_type", "geography_code"],
        orient="row",
    )


def row(
    geography: tuple[str, str],
    numerator: float | None,
    denominator: float | None = None,
    unweighted_count: float | None = None,
    breakdown: Category = ("all", "all"),
    metric_id: str = "events_rate",
    period: Period = YEAR,
) -> dict[str, object]:
    grain, start, end = period
    return {
        "metric_id": metric_id,
        "period_grain": grain,
        "period_start": start,
        "period_end": end,
        "geography_type": geography[0],
        "geography_code": geography[1],
        "breakdown_type": breakdown[0],
        "breakdown_value": breakdown[1],
        "numerator": numerator,
        "denominator": denominator,
        "unweighted_count": numerator if unweighted_count is None else unweighted_count,
        "value": None,
    }


def frame(rows: Sequence[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "metric_id": pl.Utf8,
            "period_grain": pl.Utf8,
            "period_start": pl.Date,
            "period_end": pl.Date,
            "geography_type": pl.Utf8,
            "geography_code": pl.Utf8,
            "breakdown_type": pl.Utf8,
            "breakdown_value": pl.Utf8,
            "numerator": pl.Float64,
            "denominator": pl.Float64,
            "unweighted_count": pl.Float64,
            "value": pl.Float64,
        },
    )


def with_groups(counts: Mapping[Category, int], core20: bool = False) -> dict[Category, int]:
    """The categories plus `all` (the sum of each partition, which must agree), the
    age_75_plus cohort where there are age bands, and optionally Core20 (quintile 1) and
    the rest (quintiles 2 to 5)."""
    totals: dict[str, int] = {}
    for (kind, _), n in counts.items():
        totals[kind] = totals.get(kind, 0) + n
    assert len(set(totals.values())) == 1, totals
    full = dict(counts)
    full[("all", "all")] = next(iter(totals.values()))
    if "age_band" in totals:
        full[("cohort", "age_75_plus")] = sum(
            n for (kind, band), n in counts.items() if kind == "age_band" and band >= "75"
        )
    if core20:
        full[("core20", "core20")] = counts[("imd_quintile", "1")]
        full[("core20", "rest")] = full[("all", "all")] - counts[("imd_quintile", "1")]
    return full


def table(
    leaves: Leaves,
    metric_id: str = "events_rate",
    period: Period = YEAR,
    denominators: Leaves | None = None,
    core20: bool = False,
) -> list[dict[str, object]]:
    """Every geography x breakdown row, summed from the practices. Without denominators
    the rows have none and their size is the numerator; with them, the unweighted count is
    the denominator (as for the shares)."""
    sums: dict[tuple[tuple[str, str], Category], list[int]] = {}
    for practice, counts in leaves.items():
        numerators = with_groups(counts, core20)
        bases = with_groups(denominators[practice], core20) if denominators else {}
        for geography in [
            ("practice", practice),
            ("pcn", HIERARCHY.get(practice, "N9")),
            ("icb", "Q1"),
            ("all", "all"),
        ]:
            for breakdown, n in numerators.items():
                total = sums.setdefault((geography, breakdown), [0, 0])
                total[0] += n
                total[1] += bases.get(breakdown, 0)
    return [
        row(
            geography,
            n,
            d if denominators else None,
            d if denominators else n,
            breakdown,
            metric_id,
            period,
        )
        for (geography, breakdown), (n, d) in sorted(sums.items())
    ]


def quintiles(*counts: int) -> dict[Category, int]:
    return {("imd_quintile", str(q)): n for q, n in enumerate(counts, start=1)}


def sexes(female: int, male: int) -> dict[Category, int]:
    return {("sex", "F"): female, ("sex", "M"): male}


def age_bands(*counts: int) -> dict[Category, int]:
    bands = ("0-64", "65-74", "75-84", "85+")
    return {("age_band", band): n for band, n in zip(bands, counts, strict=True)}


def decide(
    rows: Sequence[dict[str, object]],
    hierarchy: pl.DataFrame | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> pl.DataFrame:
    return disclosure_decisions(
        frame(rows), CATALOGUE, geographies() if hierarchy is None else hierarchy, threshold
    )


def withheld(
    result: pl.DataFrame, metric_id: str | None = None
) -> dict[tuple[str, str, str], str]:
    """(geography code, breakdown type, value) -> rule of every withheld row (of one
    metric and period, which the caller makes sure of)."""
    hidden = result.filter(pl.col("is_suppressed"))
    if metric_id is not None:
        hidden = hidden.filter(pl.col("metric_id") == metric_id)
    found = {
        (str(r["geography_code"]), str(r["breakdown_type"]), str(r["breakdown_value"])): str(
            r["suppression_rule"]
        )
        for r in hidden.iter_rows(named=True)
    }
    assert len(found) == hidden.height, "one period and metric at a time"
    return found


def rule_of(result: pl.DataFrame, geography_code: str, breakdown: Category) -> object:
    rows = result.filter(
        (pl.col("geography_code") == geography_code)
        & (pl.col("breakdown_type") == breakdown[0])
        & (pl.col("breakdown_value") == breakdown[1])
    )
    assert rows.height == 1
    return rows["suppression_rule"][0]


# ---------------------------------------------------------------- building blocks


def test_metric_kinds_follow_method_and_sources() -> None:
    assert metric_kind("t_mean", "gp_encounters") is MetricKind.MEAN
    assert metric_kind("wilson", "prem_responses") is MetricKind.WEIGHTED_SURVEY
    assert metric_kind("t_mean", "prem_responses") is MetricKind.MEAN
    assert metric_kind("none", "spend") is MetricKind.NO_COUNTS
    assert metric_kind("t_mean", "workforce") is MetricKind.NO_COUNTS
    assert metric_kind("none", "workforce|registered_population") is MetricKind.NO_COUNTS
    assert metric_kind("none", "gp_encounters") is MetricKind.COUNTS
    assert metric_kind("wilson", "gp_appointments") is MetricKind.COUNTS
    assert metric_kind("byars", "hospital_activity|registered_population") is MetricKind.COUNTS
    assert metric_kinds(CATALOGUE)["kind"].to_list() == [
        "counts",
        "mean",
        "weighted_survey",
        "no_counts",
        "counts",
        "counts",
        "counts",
    ]


def test_shipped_catalogue_kinds() -> None:
    seed = REPO_ROOT / "seeds" / "metric_catalogue.csv"
    kinds = dict(metric_kinds(pl.read_csv(seed)).iter_rows())
    assert kinds["continuity_coc"] == "mean"
    assert kinds["continuity_slicc"] == "counts"
    assert kinds["prem_needs_met_positive"] == "weighted_survey"
    assert kinds["frequent_attender_concentration"] == "counts"
    assert kinds["acsc_emergency_admission_dsr"] == "counts"
    assert sorted(metric for metric, kind in kinds.items() if kind == "mean") == [
        "continuity_coc",
        "continuity_mmci",
        "continuity_secon",
        "continuity_upc",
    ]
    assert sorted(metric for metric, kind in kinds.items() if kind == "no_counts") == [
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
    assert project["vars"]["disclosure_threshold"] == DEFAULT_THRESHOLD == 7
    assert project["vars"]["disclosure_rounding"] == DEFAULT_ROUNDING == 5
    assert MIN_BASE == 10


def test_settings_from_build_vars() -> None:
    assert settings_from_build_vars(None) == (DEFAULT_THRESHOLD, DEFAULT_ROUNDING)
    assert settings_from_build_vars("{}") == (7, 5)
    assert settings_from_build_vars(json.dumps({"disclosure_threshold": 10})) == (10, 5)
    assert settings_from_build_vars(
        json.dumps({"disclosure_threshold": "3", "disclosure_rounding": 10, "other": "x"})
    ) == (3, 10)
    with pytest.raises(DataError, match="disclosure_rounding"):
        settings_from_build_vars(json.dumps({"disclosure_rounding": "five"}))
    with pytest.raises(DataError, match="disclosure_threshold"):
        settings_from_build_vars(json.dumps({"disclosure_threshold": None}))


def test_small_means_above_zero_and_rounding_to_at_most_the_threshold() -> None:
    values = pl.DataFrame({"n": [0.0, 0.3, 1.0, 7.0, 7.4, 7.5, 8.0, -2.0, None]})
    assert values.select(is_small("n", 7))["n"].to_list() == [
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        None,
    ]
    assert values.select(is_small("n", 10))["n"].to_list()[5:7] == [True, True]


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
    assert values.select(round_to_base("n", 10))["n"].to_list()[-2:] == [10.0, 220.0]


# ---------------------------------------------------------------- primary suppression

NO_HIERARCHY = geographies([])
"""For lone rows whose geographies add up to nothing: only their own rule is looked at."""


@pytest.mark.parametrize(
    ("numerator", "rule"),
    [(0, None), (1, "small_count"), (3, "small_count"), (7, "small_count"), (8, None)],
)
def test_small_counts_are_1_to_7_and_zero_is_published(
    numerator: int, rule: str | None
) -> None:
    result = decide([row(("all", "all"), numerator, 500.0)], NO_HIERARCHY)
    assert result["suppression_rule"].to_list() == [rule]
    assert result["is_suppressed"].to_list() == [rule is not None]


def test_any_small_count_of_a_row_withholds_it() -> None:
    rows = [
        row(("icb", "Q1"), 0, denominator=3),
        row(("pcn", "N1"), 50, denominator=900, unweighted_count=5),
        row(("all", "all"), 50, denominator=900),
    ]
    assert withheld(decide(rows, NO_HIERARCHY)) == {
        ("Q1", "all", "all"): "small_count",
        ("N1", "all", "all"): "small_count",
    }


def test_means_from_fewer_than_ten_patients() -> None:
    """A mean's numerator is a sum of indices, never tested; fewer than 10 patients (its
    base: the unweighted count, else the denominator) withhold it as `small_base`."""
    rows = [
        row(("all", "all"), 6.37, 9, 9, metric_id="index_mean"),
        row(("icb", "Q1"), 2.5, 10, 10, metric_id="index_mean"),
        row(("pcn", "N1"), 12.5, 3, None, metric_id="index_mean"),
        row(("pcn", "N2"), 12.5, 23, 23, metric_id="index_mean"),
    ]
    rows[2]["unweighted_count"] = None
    result = decide(rows, NO_HIERARCHY)
    assert withheld(result) == {
        ("all", "all", "all"): "small_base",
        ("N1", "all", "all"): "small_base",
    }


def test_survey_results_from_fewer_than_ten_respondents() -> None:
    """Weighted sums count weighted respondents (tested like counts, so 6.9 is small); the
    unweighted respondent count must reach 10 (`small_base` before `small_count`)."""
    rows = [
        row(("all", "all"), 8.6, 12.2, 9, metric_id="survey_share"),
        row(("icb", "Q1"), 11.4, 16.2, 14, metric_id="survey_share"),
        row(("pcn", "N1"), 6.9, 19.0, 18, metric_id="survey_share"),
        row(("pcn", "N2"), 3.0, 5.0, 6, metric_id="survey_share"),
    ]
    assert withheld(decide(rows, NO_HIERARCHY)) == {
        ("all", "all", "all"): "small_base",
        ("N1", "all", "all"): "small_count",
        ("N2", "all", "all"): "small_base",
    }


def test_money_and_fte_are_never_withheld() -> None:
    rows = [row(("all", "all"), 3.2, 4321.5, 2, metric_id="fte_rate")]
    result = decide(rows, NO_HIERARCHY)
    assert result["is_suppressed"].to_list() == [False]
    assert result["suppression_rule"].to_list() == [None]


def test_a_metric_missing_from_the_catalogue_counts() -> None:
    result = decide([row(("all", "all"), 4, 100, metric_id="not_catalogued")], NO_HIERARCHY)
    assert result["suppression_rule"].to_list() == ["small_count"]


def test_threshold_is_a_parameter() -> None:
    """A1's quintile 1 is 9: published under the default threshold of 7; with 10 it is
    small, and its cube is the one of the quintile example below (A3 at 11 is the cheaper
    partner: 21 + 12 + 12 = 45 against 21 + 13 + 14 = 48 for A2)."""
    leaves = {
        "A1": quintiles(9, 20, 20, 20, 20),
        "A2": quintiles(12, 13, 20, 20, 20),
        "A3": quintiles(11, 11, 20, 20, 20),
        "B1": quintiles(14, 12, 20, 20, 20),
        "B2": quintiles(15, 12, 20, 20, 20),
    }
    assert withheld(decide(table(leaves))) == {}
    assert withheld(decide(table(leaves), threshold=10)) == {
        ("A1", "imd_quintile", "1"): "small_count",
        ("A1", "imd_quintile", "2"): "secondary",
        ("A3", "imd_quintile", "1"): "secondary",
        ("A3", "imd_quintile", "2"): "secondary",
    }
    assert withheld(decide(table(leaves), threshold=0)) == {}


def test_rejects_a_negative_threshold() -> None:
    with pytest.raises(ValueError, match="threshold"):
        decide([row(("all", "all"), 10)], threshold=-1)


# ---------------------------------------------------------------- secondary suppression


def test_a_small_practice_quintile_takes_a_sibling_practice_and_a_second_quintile() -> None:
    """A1's quintile 1 is 3, the only small count (N1's quintile 1 is 20). A1's quintiles
    add up to A1's published total and N1's quintile 1 to A1 + A2 + A3, so the cube needs a
    second quintile and a second practice of N1: every cell at practice level, cost 1 + n.
    Second quintile: all of A1's others are 20 (cost 21 each), so q2 or q3 by key.
    Partner: A3 (quintile 1 of 8, cost 9) before A2 (9, cost 10); through N2 the cube
    would change the PCN cells (30 x ...).
    {A1, A3} x {q1, q2}: 21 + 9 + 12 = 42; {A1, A3} x {q1, q3}: 21 + 9 + 21 = 51;
    {A1, A2} x {q1, q2}: 21 + 10 + 14 = 45. A1's quintile 1 can then be 0 to 11."""
    leaves = {
        "A1": quintiles(3, 20, 20, 20, 20),
        "A2": quintiles(9, 13, 20, 20, 20),
        "A3": quintiles(8, 11, 20, 20, 20),
        "B1": quintiles(10, 12, 20, 20, 20),
        "B2": quintiles(10, 12, 20, 20, 20),
    }
    assert withheld(decide(table(leaves))) == {
        ("A1", "imd_quintile", "1"): "small_count",
        ("A1", "imd_quintile", "2"): "secondary",
        ("A3", "imd_quintile", "1"): "secondary",
        ("A3", "imd_quintile", "2"): "secondary",
    }


def test_a_small_quintile_takes_another_quintile_not_all() -> None:
    """Quintile 1 is 3 at A1 and 0 elsewhere, so it is 3 at A1, N1, Q1 and `all`: four
    small counts. Q1 and `all` hold every practice, so the only geography move is A1 alone
    (changing A1, N1, Q1 and `all` together), and since the quintiles add up to the
    published `all`, another quintile must move against quintile 1: q2, the smallest at
    every level (`all`: 55 against 100). Moving `all` instead would cost the headline
    factor. The practice's own count then finds its cube already withheld."""
    leaves = {
        "A1": quintiles(3, 10, 20, 20, 20),
        "A2": quintiles(0, 10, 20, 20, 20),
        "A3": quintiles(0, 11, 20, 20, 20),
        "B1": quintiles(0, 12, 20, 20, 20),
        "B2": quintiles(0, 12, 20, 20, 20),
    }
    expected = {}
    for code in ("A1", "N1", "Q1", "all"):
        expected[(code, "imd_quintile", "1")] = "small_count"
        expected[(code, "imd_quintile", "2")] = "secondary"
    assert withheld(decide(table(leaves))) == expected


def test_patients_of_unknown_lsoa_protect_a_small_quintile_at_no_cost() -> None:
    """The example above with 4 patients of unknown LSOA at A1: they are in `all` (so `all`
    is 4 more than the quintiles at A1, N1, Q1 and `all`) but in no quintile, and are never
    published. Quintile 1 can move against them: the cube is A1 alone x {q1, unknown},
    q1 from 0 to 3 + 4 = 7 at every level, as the intruder cannot tell 3 with 4 unknown
    from 7 with none. So no published cell is withheld beyond the four small counts."""
    unknown = ("imd_quintile", "unknown")
    leaves = {
        "A1": {**quintiles(3, 10, 20, 20, 20), unknown: 4},
        "A2": {**quintiles(0, 10, 20, 20, 20), unknown: 0},
        "A3": {**quintiles(0, 11, 20, 20, 20), unknown: 0},
        "B1": {**quintiles(0, 12, 20, 20, 20), unknown: 0},
        "B2": {**quintiles(0, 12, 20, 20, 20), unknown: 0},
    }
    published = [r for r in table(leaves) if r["breakdown_value"] != "unknown"]
    at_all = {
        r["breakdown_value"]: r["numerator"] for r in published if r["geography_code"] == "all"
    }
    assert at_all["all"] == 3 + 55 + 300 + 4
    assert withheld(decide(published)) == {
        (code, "imd_quintile", "1"): "small_count" for code in ("A1", "N1", "Q1", "all")
    }


def test_core20_moves_with_quintile_1_and_rest_with_the_other_quintiles() -> None:
    """The quintile example with Core20 and the rest published: Core20 is quintile 1 (both
    3 at A1, both small) and the rest is quintiles 2-5, so moving quintile 1 against q2
    moves Core20 with it and the rest against it: 8 cells. A1's q2 and rest cost 21 + 81;
    A3's q1, Core20, q2 and rest 9 + 9 + 12 + 72 = 102 (total 204), A2's 10 + 10 + 14 + 74
    = 108 (total 210); a move of `all` would cost the headline factor."""
    leaves = {
        "A1": quintiles(3, 20, 20, 20, 20),
        "A2": quintiles(9, 13, 20, 20, 20),
        "A3": quintiles(8, 11, 20, 20, 20),
        "B1": quintiles(10, 12, 20, 20, 20),
        "B2": quintiles(10, 12, 20, 20, 20),
    }
    expected = {
        (code, *cell): "secondary"
        for code in ("A1", "A3")
        for cell in [
            ("imd_quintile", "1"),
            ("core20", "core20"),
            ("imd_quintile", "2"),
            ("core20", "rest"),
        ]
    }
    expected[("A1", "imd_quintile", "1")] = "small_count"
    expected[("A1", "core20", "core20")] = "small_count"
    assert withheld(decide(table(leaves, core20=True))) == expected


def test_a_small_practice_total_takes_the_smallest_sibling() -> None:
    """A1 has 2 women and 3 men: its total 5 and both are small. The cheapest cubes:
    for the total, {A1, A3} x {all, F} (A3's total 17 costs 18 x 1000, A2's 30 costs
    31 x 1000; with F, 9, before M, 10); for F and M, {A1, A3} x {F, M} (9 + 10 against
    16 + 16 for A2). A3, the smallest sibling, goes with the three; N1 (52), Q1 and `all`
    stay published."""
    leaves = {
        "A1": sexes(2, 3),
        "A2": sexes(15, 15),
        "A3": sexes(8, 9),
        "B1": sexes(50, 50),
        "B2": sexes(38, 38),
    }
    assert withheld(decide(table(leaves))) == {
        ("A1", "all", "all"): "small_count",
        ("A1", "sex", "F"): "small_count",
        ("A1", "sex", "M"): "small_count",
        ("A3", "all", "all"): "secondary",
        ("A3", "sex", "F"): "secondary",
        ("A3", "sex", "M"): "secondary",
    }


def test_without_breakdowns_a_small_practice_takes_its_smallest_sibling() -> None:
    """PCN N1 = 5 + 30 + 12, no breakdown but `all`: the 5 is small and the 12 (cost 13,
    against 31 for the 30 and 30 x 48 for N1) goes with it; N1, N2, Q1 and `all` are
    published. Most monthly metrics (appointments, DNAs, same-day share) are like this."""
    assert withheld(decide(table(SMALL_PRACTICE))) == {
        ("A1", "all", "all"): "small_count",
        ("A3", "all", "all"): "secondary",
    }


SMALL_PRACTICE = {
    "A1": {("all", "all"): 5},
    "A2": {("all", "all"): 30},
    "A3": {("all", "all"): 12},
    "B1": {("all", "all"): 100},
    "B2": {("all", "all"): 76},
}


def test_counts_published_rounded_protect_a_small_practice_at_no_cost() -> None:
    """The same PCN, N1 = 5 + 30 + 12, published at rounding 5: N1 shows 45, so it is 43 to
    47; A2 shows 30 (28 to 32) and A3 shows 10 (8 to 12). A1 = N1 - A2 - A3 is then
    anything from 43 - 32 - 12 = -1 to 47 - 28 - 8 = 11: not pinned, with nothing else
    withheld. (The cube A1 - A3 moves A3 by 0 to 4 and keeps it showing 10.)"""
    result = disclosure_decisions(
        frame(table(SMALL_PRACTICE)), CATALOGUE, geographies(), DEFAULT_THRESHOLD, 5
    )
    assert withheld(result) == {("A1", "all", "all"): "small_count"}


def test_a_standardised_rate_does_not_rely_on_rounding() -> None:
    """A directly standardised rate is computed from its age bands, not from its rounded
    counts alone, so a change hidden by rounding its count could still move its published
    value: its cells are protected as if published exactly, and A3 goes with A1."""
    standardised = CATALOGUE.with_columns(
        pl.when(pl.col("metric_id") == "events_rate")
        .then(pl.lit("dsr_dobson"))
        .otherwise(pl.col("method"))
        .alias("method")
    )
    result = disclosure_decisions(
        frame(table(SMALL_PRACTICE)), standardised, geographies(), DEFAULT_THRESHOLD, 5
    )
    assert withheld(result) == {
        ("A1", "all", "all"): "small_count",
        ("A3", "all", "all"): "secondary",
    }


def monthly(
    counts: Mapping[str, Mapping[Period, tuple[int, int]]],
) -> list[dict[str, object]]:
    """Rows of each month (women, men by practice) and of the year, their sum."""
    rows = []
    months = sorted({period for by_month in counts.values() for period in by_month})
    for period in months:
        rows += table(
            {practice: sexes(*by_month[period]) for practice, by_month in counts.items()},
            period=period,
        )
    year = {
        practice: sexes(
            sum(f for f, _ in by_month.values()), sum(m for _, m in by_month.values())
        )
        for practice, by_month in counts.items()
    }
    return rows + table(year, period=YEAR)


MONTHLY_COUNTS = {
    "A1": {APRIL: (10, 12), MAY: (14, 15), JUNE: (3, 20)},
    "A2": {APRIL: (11, 13), MAY: (16, 17), JUNE: (12, 18)},
}


def test_a_small_month_takes_a_sibling_month_not_the_year() -> None:
    """PCN N1 of A1 and A2 (also Q1 and `all`), by sex, April to June and the year. A1's
    women in June are 3, the only small count. The cube: A1 and A2 (the only sibling),
    women and men, June and another month of the same year, or June alone with the year:
    8 cells of 1 + n each, A1's June women free:
    April: 21 + 13 + 19 + (11 + 13 + 12 + 14) = 103; May: 53 + (15 + 16 + 17 + 18) = 119;
    the year: 53 + (28 + 48 + 40 + 49) = 218. April it is, and the year is published."""
    result = decide(
        monthly(MONTHLY_COUNTS),
        geographies(["A1", "A2"], ends=[APRIL[2], MAY[2], JUNE[2], YEAR[2]]),
    )
    hidden = {
        (str(r["period_start"]), str(r["geography_code"]), str(r["breakdown_value"])): str(
            r["suppression_rule"]
        )
        for r in result.filter(pl.col("is_suppressed")).iter_rows(named=True)
    }
    expected = {
        (str(month[1]), code, sex): "secondary"
        for month in (APRIL, JUNE)
        for code in ("A1", "A2")
        for sex in ("F", "M")
    }
    expected[(str(JUNE[1]), "A1", "F")] = "small_count"
    assert hidden == expected


def test_the_decision_is_sorted_and_does_not_depend_on_row_order() -> None:
    rows = monthly(MONTHLY_COUNTS)
    hierarchy = geographies(["A1", "A2"], ends=[APRIL[2], MAY[2], JUNE[2], YEAR[2]])
    expected = decide(rows, hierarchy)
    assert expected.columns == [*CELL_KEY, "is_suppressed", "suppression_rule"]
    assert expected.height == len(rows)
    assert expected.equals(expected.sort(CELL_KEY))
    assert expected["is_suppressed"].sum() == 8
    for seed in range(5):
        shuffled = list(rows)
        random.Random(seed).shuffle(shuffled)
        assert decide(shuffled, hierarchy.sample(fraction=1.0, shuffle=True, seed=seed)).equals(
            expected
        )


def test_metrics_sharing_a_count_withhold_the_same_cells() -> None:
    """SLICC and the own-patient ratio publish the same numerator (encounters with the
    patient's named GP) over different denominators. Both are shares, so a row's size is
    its denominator (its unweighted count): SLICC's numerator + 10 per sex, the ratio's
    + 40. A1's 2 women and 3 men are small in both metrics. As for one metric (above),
    A3 is the cheapest sibling (totals 17 + 20 and 17 + 80, against 30 + 20 and 30 + 80
    for A2), and the numerator withheld in one metric is withheld in the other, or the
    other would publish it."""
    numerators = {
        "A1": sexes(2, 3),
        "A2": sexes(15, 15),
        "A3": sexes(8, 9),
        "B1": sexes(50, 50),
        "B2": sexes(38, 38),
    }

    def plus(extra: int) -> dict[str, dict[Category, int]]:
        return {p: {c: n + extra for c, n in counts.items()} for p, counts in numerators.items()}

    rows = table(numerators, "continuity_slicc", denominators=plus(10)) + table(
        numerators, "continuity_own_patient_ratio", denominators=plus(40)
    )
    result = decide(rows)
    expected = {
        ("A1", "all", "all"): "small_count",
        ("A1", "sex", "F"): "small_count",
        ("A1", "sex", "M"): "small_count",
        ("A3", "all", "all"): "secondary",
        ("A3", "sex", "F"): "secondary",
        ("A3", "sex", "M"): "secondary",
    }
    assert withheld(result, "continuity_slicc") == expected
    assert withheld(result, "continuity_own_patient_ratio") == expected


def test_a_small_band_of_the_75_plus_cohort_moves_against_the_cohorts_other_band() -> None:
    """A1's 85+ band is 3, in a cohort age_75_plus of 15 + 3 = 18 (published rows: the four
    bands, the cohort and `all`). Against 75-84 the move leaves the cohort unchanged (it
    holds both bands): cost 16 at A1; against 65-74 or 0-64 it changes the cohort too
    (19 + 21, 19 + 41). Partner practice: A3 (85+ of 9 and 75-84 of 9: 10 + 10 = 20)
    before A2 (10 and 12: 11 + 13 = 24). The cohort stays published everywhere."""
    leaves = {
        "A1": age_bands(40, 20, 15, 3),
        "A2": age_bands(40, 20, 12, 10),
        "A3": age_bands(40, 20, 9, 9),
        "B1": age_bands(40, 20, 20, 20),
        "B2": age_bands(40, 20, 20, 20),
    }
    assert withheld(decide(table(leaves))) == {
        ("A1", "age_band", "85+"): "small_count",
        ("A1", "age_band", "75-84"): "secondary",
        ("A3", "age_band", "85+"): "secondary",
        ("A3", "age_band", "75-84"): "secondary",
    }


def test_a_small_75_plus_cohort_is_withheld_with_its_bands() -> None:
    """A1's bands from 75 are 2 and 3, so its cohort (5) is small as well as both bands.
    Whatever the cubes, the cohort may not be left to give the bands' sum, nor a band be
    worked out as the cohort minus the other: all three are withheld at A1 and none of the
    cells of A1's published total stays the only one withheld of a relation."""
    leaves = {
        "A1": age_bands(40, 20, 2, 3),
        "A2": age_bands(40, 20, 12, 10),
        "A3": age_bands(40, 20, 9, 9),
        "B1": age_bands(40, 20, 20, 20),
        "B2": age_bands(40, 20, 20, 20),
    }
    hidden = withheld(decide(table(leaves)))
    assert {key: rule for key, rule in hidden.items() if rule != "secondary"} == {
        ("A1", "age_band", "75-84"): "small_count",
        ("A1", "age_band", "85+"): "small_count",
        ("A1", "cohort", "age_75_plus"): "small_count",
    }
    # every relation holding a withheld cell holds at least two
    cohort = [("cohort", "age_75_plus"), ("age_band", "75-84"), ("age_band", "85+")]
    bands = [("all", "all")] + [("age_band", b) for b in ("0-64", "65-74", "75-84", "85+")]
    for code in ("A1", "A2", "A3", "B1", "B2", "N1", "N2", "Q1", "all"):
        for relation in (cohort, bands):
            held = sum((code, *cell) in hidden for cell in relation)
            assert held != 1, (code, relation)
    for cell in cohort + bands:
        for parent, members in (("N1", ("A1", "A2", "A3")), ("N2", ("B1", "B2"))):
            held = sum((code, *cell) in hidden for code in (parent, *members))
            assert held != 1, (parent, cell)


def test_a_practice_alone_in_its_pcn_takes_its_pcn_with_it() -> None:
    """C1 is the only practice of N9: its small counts are N9's too, all primary."""
    leaves = {"A1": sexes(20, 30), "A2": sexes(25, 25), "C1": sexes(2, 4)}
    result = decide(table(leaves), geographies(["A1", "A2", "C1"]))
    for code in ("C1", "N9"):
        for breakdown in [("all", "all"), ("sex", "F"), ("sex", "M")]:
            assert rule_of(result, code, breakdown) == "small_count"


def test_a_small_mean_base_is_protected_like_a_count() -> None:
    """Continuity means from 4 and 5 patients at A1 (base 9 in all): `small_base`, and the
    patient counts are protected like counts (the cube of the sex example, on patients)."""
    patients = {
        "A1": sexes(4, 5),
        "A2": sexes(15, 15),
        "A3": sexes(10, 11),
        "B1": sexes(50, 50),
        "B2": sexes(38, 38),
    }
    rows = table(patients, "index_mean", denominators=patients)
    for r in rows:
        r["numerator"] = 0.8 * float(r["denominator"])  # type: ignore[arg-type]
    assert withheld(decide(rows)) == {
        ("A1", "all", "all"): "small_base",
        ("A1", "sex", "F"): "small_base",
        ("A1", "sex", "M"): "small_base",
        ("A3", "all", "all"): "secondary",
        ("A3", "sex", "F"): "secondary",
        ("A3", "sex", "M"): "secondary",
    }


# ---------------------------------------------------------------- derived marts


def protected_row(
    breakdown: tuple[str, str], suppressed: bool, grain: str = "financial_year"
) -> dict[str, object]:
    return {
        "metric_id": "events_rate",
        "period_grain": grain,
        "period_start": YEAR[1],
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
    result = protect_inequality_gaps(gaps, protected).row(0, named=True)
    assert result["quintile_1_value"] == 30.0
    assert result["quintile_5_value"] is None
    assert (result["gap_absolute"], result["gap_relative"]) == (None, None)
    assert (result["core20_value"], result["rest_value"], result["core20_gap"]) == (
        30.0,
        22.0,
        8.0,
    )
    assert result["sii"] is None and result["rii_upper_95"] is None
    assert result["is_suppressed"] is True
    assert result["suppressed_columns"] == (
        "quintile_5_value|gap_absolute|gap_relative|sii|sii_lower_95|sii_upper_95|"
        "rii|rii_lower_95|rii_upper_95"
    )


def test_inequality_gaps_hide_the_core20_gap_with_core20_or_rest() -> None:
    protected = pl.DataFrame(
        [
            *[protected_row(("imd_quintile", str(q)), False) for q in range(1, 6)],
            protected_row(("core20", "core20"), False),
            protected_row(("core20", "rest"), True),
        ]
    )
    gaps = pl.DataFrame([gap_row()], schema_overrides={"not_calculated_reason": pl.Utf8})
    result = protect_inequality_gaps(gaps, protected).row(0, named=True)
    assert (result["core20_value"], result["rest_value"], result["core20_gap"]) == (
        30.0,
        None,
        None,
    )
    assert result["sii"] == -12.0
    assert result["suppressed_columns"] == "rest_value|core20_gap"


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


def monthly_protected(code: str, suppressed_months: Iterable[int]) -> list[dict[str, object]]:
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
    for spc_row in rows:
        spc_row["variation_icon"] = "common_cause"
    result = protect_spc(pl.DataFrame(rows), pl.DataFrame(monthly_protected("A1", [3])))
    assert result["variation_icon"].to_list() == [None, None, None]
    earlier = protect_spc(pl.DataFrame(rows), pl.DataFrame(monthly_protected("A1", [2])))
    assert earlier["variation_icon"].to_list() == ["common_cause"] * 3
    assert earlier["value"].to_list() == [10, None, 11]


def test_spc_hides_a_suppressed_point_and_its_series_limits() -> None:
    spc = pl.DataFrame([*spc_rows("A1", [10, 12, 11]), *spc_rows("A2", [9, 13, 10])])
    protected = pl.DataFrame([*monthly_protected("A1", [3]), *monthly_protected("A2", [])])
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


def test_spc_ignores_suppressed_years() -> None:
    """Only monthly cells feed the SPC charts: a withheld year hides nothing there."""
    spc = pl.DataFrame(spc_rows("A1", [10, 12, 11]))
    protected = pl.DataFrame(
        [
            *monthly_protected("A1", []),
            {**monthly_protected("A1", [1])[0], "period_grain": "financial_year"},
        ]
    )
    result = protect_spc(spc, protected)
    assert not result["is_suppressed"].any()
    assert result["value"].to_list() == [10, 12, 11]


# ---------------------------------------------------------------- rows in key order


def _keyed(rows: Sequence[tuple[str | None, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"a": [a for a, _ in rows], "b": [b for _, b in rows], "n": range(len(rows))},
        schema={"a": pl.Utf8, "b": pl.Int64, "n": pl.Int64},
    )


@pytest.mark.parametrize(
    "rows",
    [
        [("x", 1), ("x", 2), ("y", 0)],  # in order
        [("x", 2), ("x", 1), ("y", 0)],  # the second part out of order
        [("y", 0), ("x", 1), ("x", 2)],  # the first part out of order
        [("x", 1), ("x", 1), ("y", 0)],  # a key held twice
        [("x", 1), (None, 0), ("y", 0)],  # a null part: nulls sort first
        [("Z", 1), ("a", 1), ("é", 1), ("e", 1)],  # byte order, as polars sorts text
        [("only", 1)],
    ],
)
def test_rows_come_out_in_key_order_sorted_only_when_they_are_not(
    rows: Sequence[tuple[str | None, int]],
) -> None:
    """The decisions go through metric_values in key order: rows the database already
    sorted are checked and kept as they are, any others sorted as polars sorts them."""
    frame = _keyed(rows)
    ordered = in_key_order(frame, ["a", "b"])
    assert ordered.equals(frame.sort(["a", "b"]))
    already = frame.sort(["a", "b"])
    if already.select(pl.struct("a", "b").is_unique().all()).item() and not any(
        a is None for a, _ in rows
    ):
        assert in_key_order(already, ["a", "b"]) is already
