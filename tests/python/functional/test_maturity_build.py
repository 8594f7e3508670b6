"""The maturity marts of the tiny synthetic ICB's real build: complete, consistent with the
scoring rules, and traceable to the disclosed marts and the returned evidence.

Shares the session-scoped build of tests/python/conftest.py and opens it read-only.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.maturity import default_matrix_dir, read_matrix
from metrics_cli.synthetic_maturity import MARKUP_EVIDENCE

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]


def frame(warehouse: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(query).pl()


@pytest.fixture(scope="module")
def assessed(tiny_data: Path) -> pl.DataFrame:
    files = sorted(tiny_data.glob("maturity_assessments.*"))
    assert files, "the synthetic data has no maturity_assessments (generate must write them)"
    path = files[0]
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    return pl.read_csv(path, infer_schema=False)


def test_every_criterion_and_domain_is_scored(tiny_warehouse: Path, assessed: pl.DataFrame) -> None:
    matrix = read_matrix(default_matrix_dir())[0]
    neighbourhoods = frame(
        tiny_warehouse,
        "select count(distinct geography_code) as n from int_practice_geographies "
        "where geography_type = 'neighbourhood'",
    )["n"][0]
    periods = assessed["assessment_period"].n_unique()
    results = frame(tiny_warehouse, "select * from maturity_criteria_results")
    levels = frame(tiny_warehouse, "select * from maturity_levels")
    assert results.height == neighbourhoods * periods * len(matrix.criteria)
    assert levels.height == neighbourhoods * periods * len(matrix.domains)


def test_the_achieved_level_is_the_lower_of_self_and_evidence(tiny_warehouse: Path) -> None:
    levels = frame(tiny_warehouse, "select * from maturity_levels")
    expected = levels.select(
        pl.min_horizontal(
            pl.col("self_assessed_level").fill_null(4), pl.col("evidenced_level").fill_null(4)
        )
    ).to_series()
    assert levels["level_achieved"].to_list() == expected.to_list()
    discrepant = levels.filter(pl.col("has_discrepancy"))
    assert discrepant.height > 0
    assert (discrepant["self_assessed_level"] != discrepant["evidenced_level"]).all()


def test_the_overstating_neighbourhood_is_flagged(
    tiny_warehouse: Path, assessed: pl.DataFrame
) -> None:
    overstating = assessed["neighbourhood_code"].min()
    flagged = frame(
        tiny_warehouse,
        f"select * from maturity_levels where neighbourhood_code = '{overstating}' "
        "and discrepancy_direction = 'self_assessment_higher'",
    )
    assert flagged.height > 0
    assert set(flagged["self_assessed_level"].to_list()) == {4}


def test_evidence_text_is_carried_literally(tiny_warehouse: Path) -> None:
    rows = frame(
        tiny_warehouse,
        "select evidence_summary from maturity_criteria_results "
        "where criterion_kind = 'self_assessed'",
    )
    assert any(text.startswith(MARKUP_EVIDENCE) for text in rows["evidence_summary"].to_list())


def test_a_threshold_criterion_matches_metric_values(tiny_warehouse: Path) -> None:
    """urgent_access_2_same_day by hand: the neighbourhood's latest same-day share ending by
    the end of the assessment period, against 40, as published (disclosed_metric_values:
    the value from the rounded counts, so the maturity evidence never quotes an exact one)."""
    results = frame(
        tiny_warehouse,
        "select r.neighbourhood_code, r.assessment_period, r.status, r.metric_value, "
        "s.period_end from maturity_criteria_results r "
        "join int_maturity_assessment_scope s using (neighbourhood_code, assessment_period) "
        "where r.criterion_id = 'urgent_access_2_same_day'",
    )
    assert results.height > 0
    values = frame(
        tiny_warehouse,
        "select geography_code, period_end, value from disclosed_metric_values "
        "where metric_id = 'same_day_share' and geography_type = 'neighbourhood' "
        "and breakdown_type = 'all'",
    )
    for row in results.iter_rows(named=True):
        series = values.filter(
            (pl.col("geography_code") == row["neighbourhood_code"])
            & (pl.col("period_end") <= row["period_end"])
        ).sort("period_end")
        latest = series["value"][-1]
        assert row["metric_value"] == pytest.approx(latest, rel=1e-12)
        assert row["status"] == ("met" if latest >= 40 else "not_met")


MATURITY_MODELS = sorted(
    [
        *(REPO_ROOT / "models" / "intermediate" / "maturity").glob("*.sql"),
        *(REPO_ROOT / "models" / "marts").glob("maturity_*.sql"),
    ]
)


def test_maturity_reads_only_disclosed_marts() -> None:
    """Maturity evidence and levels are shown in reports and published: no maturity model
    refers to a mart of exact figures, only to their disclosed copies."""
    exact = {"metric_values", "metric_spc", "inequality_gaps"}
    referenced: set[str] = set()
    for path in MATURITY_MODELS:
        refs = set(re.findall(r"ref\(\s*['\"]([a-z0-9_]+)['\"]\s*\)", path.read_text()))
        assert not refs & exact, f"{path.name} reads {sorted(refs & exact)}"
        referenced |= refs
    assert {
        "disclosed_metric_values", "disclosed_metric_spc", "disclosed_inequality_gaps",
    } <= referenced


def test_withheld_latest_values_are_not_assessed(tiny_warehouse: Path) -> None:
    """Every metric criterion whose latest reading is withheld is not assessed."""
    rows = frame(
        tiny_warehouse,
        "select r.status from int_maturity_metric_readings m "
        "join maturity_criteria_results r using (neighbourhood_code, assessment_period, "
        "criterion_id) where m.latest_not_calculated_reason = 'withheld by disclosure control'",
    )
    assert set(rows["status"].to_list()) <= {"not_assessed"}
