"""Synthetic maturity self-assessments: spec columns, full coverage of the default matrix,
a mix of levels, one overstating neighbourhood, markup in one evidence text, determinism."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from metrics_cli.maturity import default_matrix_dir, read_matrix
from metrics_cli.synthetic_maturity import (
    COLUMNS,
    MARKUP_EVIDENCE,
    METRIC_DOMAINS,
    financial_quarter,
    maturity_assessments,
)


def organisations() -> pl.DataFrame:
    """Three neighbourhoods: N1 through provider P1; N2 split 1 P2 / 1 none (tie: P2);
    N3 with no provider (its ICB returns). Practice A2 moved from N3 to N1 in 2024."""
    return pl.DataFrame(
        {
            "practice_code": ["A1", "A2", "A2", "B1", "B2", "C1"],
            "neighbourhood_code": ["N1", "N3", "N1", "N2", "N2", "N3"],
            "provider_code": ["P1", None, "P1", "P2", None, None],
            "icb_code": ["Q99"] * 6,
            "valid_from": [
                dt.date(2020, 4, 1),
                dt.date(2020, 4, 1),
                dt.date(2024, 7, 1),
                dt.date(2020, 4, 1),
                dt.date(2020, 4, 1),
                dt.date(2020, 4, 1),
            ],
            "valid_to": [None, dt.date(2024, 6, 30), None, None, None, None],
        }
    )


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return maturity_assessments(organisations(), dt.date(2025, 3, 1), np.random.default_rng(7))


def test_financial_quarters() -> None:
    assert financial_quarter(dt.date(2025, 3, 1)) == (
        "2024/25 Q4",
        dt.date(2025, 1, 1),
        dt.date(2025, 3, 31),
    )
    assert financial_quarter(dt.date(2025, 4, 1)) == (
        "2025/26 Q1",
        dt.date(2025, 4, 1),
        dt.date(2025, 6, 30),
    )
    assert financial_quarter(dt.date(2025, 12, 1))[0] == "2025/26 Q3"


def test_columns_and_types_are_the_spec_s(frame: pl.DataFrame) -> None:
    assert tuple(frame.columns) == COLUMNS
    assert frame.schema["assessed_on"] == pl.Date
    assert set(frame["status"]) <= {"met", "partially_met", "not_met", "not_assessed"}
    assert frame["evidence"].null_count() == 0


def test_every_neighbourhood_assesses_every_criterion_in_the_last_two_quarters(
    frame: pl.DataFrame,
) -> None:
    criteria = {c.criterion_id for c in read_matrix(default_matrix_dir())[0].self_assessed()}
    assert len(criteria) == 56
    assert frame.height == 3 * 2 * 56
    for (period, code), rows in frame.group_by("assessment_period", "neighbourhood_code"):
        assert period in ("2024/25 Q3", "2024/25 Q4")
        assert code in ("N1", "N2", "N3")
        assert set(rows["criterion_id"]) == criteria
    assert frame.select("assessment_period", "neighbourhood_code", "criterion_id").is_unique().all()


def test_returns_come_from_the_provider_most_practices_report_through(
    frame: pl.DataFrame,
) -> None:
    submitted = dict(frame.select("neighbourhood_code", "submitted_by").unique().iter_rows())
    assert submitted == {"N1": "P1", "N2": "P2", "N3": "Q99"}


def test_assessments_fall_after_their_quarter(frame: pl.DataFrame) -> None:
    latest = frame.filter(pl.col("assessment_period") == "2024/25 Q4")["assessed_on"]
    assert latest.min() > dt.date(2025, 3, 31)
    assert latest.max() <= dt.date(2025, 4, 28)


def test_the_lowest_neighbourhood_claims_every_metric_domain_criterion(
    frame: pl.DataFrame,
) -> None:
    matrix = read_matrix(default_matrix_dir())[0]
    domains = {c.criterion_id: c.domain_id for c in matrix.criteria}
    in_metric_domains = [c for c in matrix.self_assessed() if c.domain_id in METRIC_DOMAINS]
    assert len(in_metric_domains) == 23
    n1 = frame.filter(pl.col("neighbourhood_code") == "N1").with_columns(
        pl.col("criterion_id").replace_strict(domains).alias("domain_id")
    )
    claimed = n1.filter(pl.col("domain_id").is_in(sorted(METRIC_DOMAINS)))
    assert claimed.height == 2 * 23
    assert set(claimed["status"]) == {"met"}


def test_levels_are_mixed_across_the_other_neighbourhoods(frame: pl.DataFrame) -> None:
    others = frame.filter(pl.col("neighbourhood_code") != "N1")
    counts = dict(others["status"].value_counts().iter_rows())
    assert set(counts) == {"met", "partially_met", "not_met", "not_assessed"}


def test_one_evidence_text_carries_markup(frame: pl.DataFrame) -> None:
    marked = frame.filter(pl.col("evidence") == MARKUP_EVIDENCE)
    assert marked.height == 1
    assert marked["neighbourhood_code"][0] == "N1"
    assert "<b>" in MARKUP_EVIDENCE
    assert "&" in MARKUP_EVIDENCE
    assert "</style>" in MARKUP_EVIDENCE


def test_evidence_links_only_for_met_criteria(frame: pl.DataFrame) -> None:
    linked = frame.filter(pl.col("evidence_url").is_not_null())
    assert linked.height > 0
    assert set(linked["status"]) == {"met"}
    assert linked["evidence_url"].str.starts_with("https://example.org/").all()


def test_the_same_seed_gives_the_same_rows() -> None:
    first = maturity_assessments(organisations(), dt.date(2025, 3, 1), np.random.default_rng(3))
    second = maturity_assessments(organisations(), dt.date(2025, 3, 1), np.random.default_rng(3))
    other = maturity_assessments(organisations(), dt.date(2025, 3, 1), np.random.default_rng(4))
    assert first.equals(second)
    assert not first.equals(other)


def test_text_dates_in_organisations_are_accepted() -> None:
    text = organisations().with_columns(pl.col("valid_from", "valid_to").cast(pl.Utf8))
    rows = maturity_assessments(text, dt.date(2025, 3, 1), np.random.default_rng(7))
    assert rows.equals(
        maturity_assessments(organisations(), dt.date(2025, 3, 1), np.random.default_rng(7))
    )
