"""Slope and relative index of inequality (metrics_cli/sii.py): PHE phe_sii method."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml  # type: ignore[import-untyped]

from metrics_cli.sii import (
    INEQUALITY_COLUMNS,
    PLAIN,
    PROPORTION,
    RATE,
    REASON_EDGE_OF_SCALE,
    REASON_GEOGRAPHY,
    REASON_MONTHLY,
    REASON_NO_LIMITS,
    REASON_NO_POPULATION,
    REASON_NO_QUINTILE_1_OR_5,
    REASON_QUINTILE_MISSING,
    REASON_RII_UNDEFINED,
    Z_95,
    inequality_frame,
    percentile_positions,
    relative_ranks,
    sii_point,
    slope_index,
)

VALUES = np.array([[20.0, 18.0, 15.0, 12.0, 10.0]])
POPULATIONS = np.array([[100.0, 200.0, 300.0, 200.0, 200.0]])


def test_sii_and_rii_by_hand() -> None:
    """Populations 100, 200, 300, 200, 200: shares a = .1, .2, .3, .2, .2; cumulative
    .1, .3, .6, .8, 1; ranks b (midpoints) = .05, .2, .45, .7, .9.
    Weighted means: mean rank m = sum a b = .005 + .04 + .135 + .14 + .18 = .5;
    sum a b^2 = .00025 + .008 + .06075 + .098 + .162 = .329, so var(b) = .329 - .25 = .079.
    Values y = 20, 18, 15, 12, 10: sum a y = 2 + 3.6 + 4.5 + 2.4 + 2 = 14.5;
    sum a b y = .1 + .72 + 2.025 + 1.68 + 1.8 = 6.325.
    Slope = (6.325 - .5 x 14.5) / .079 = -.925 / .079 = -925/79 = -11.7089;
    intercept = 14.5 + .5 x 925/79 = 1608/79 = 20.3544;
    RII = (1608/79 - 925/79) / (1608/79) = 683/1608 = 0.42475."""
    assert relative_ranks(POPULATIONS)[0] == pytest.approx([0.05, 0.2, 0.45, 0.7, 0.9])
    sii, rii = sii_point(VALUES, POPULATIONS)
    assert sii[0] == pytest.approx(-925 / 79, abs=1e-12)
    assert rii[0] == pytest.approx(683 / 1608, abs=1e-12)


def test_point_estimates_equal_phe_sii_square_root_weighted_regression() -> None:
    """phe_sii fits y sqrt(a) ~ sqrt(a) + b sqrt(a) without a constant."""
    rng = np.random.default_rng(3)
    values = rng.uniform(5, 50, (20, 5))
    populations = rng.uniform(1000, 9000, (20, 5))
    sii, rii = sii_point(values, populations)
    for g in range(20):
        root_a = np.sqrt(populations[g] / populations[g].sum())
        design = np.column_stack([root_a, relative_ranks(populations[g]) * root_a])
        (intercept, slope), *_ = np.linalg.lstsq(design, values[g] * root_a, rcond=None)
        assert sii[g] == pytest.approx(slope, abs=1e-9)
        assert rii[g] == pytest.approx((intercept + slope) / intercept, abs=1e-9)


def test_sign_convention() -> None:
    """Positive when the least deprived (quintile 5, rank near 1) have the higher value."""
    populations = np.full((1, 5), 100.0)
    rising, _ = sii_point([[10.0, 20.0, 30.0, 40.0, 50.0]], populations)
    falling, _ = sii_point([[50.0, 40.0, 30.0, 20.0, 10.0]], populations)
    assert rising[0] == pytest.approx(50.0)  # values 10 per 0.2 of rank
    assert falling[0] == pytest.approx(-50.0)


def test_equal_quintiles_give_sii_zero_and_rii_one() -> None:
    values = np.full((1, 5), 30.0)
    result = slope_index(
        values, values - 2, values + 2, POPULATIONS, PLAIN, repetitions=2000, seed=1
    )
    assert result.sii[0] == pytest.approx(0.0, abs=1e-12)
    assert result.rii[0] == pytest.approx(1.0, abs=1e-12)
    assert result.sii_lower_95[0] < 0 < result.sii_upper_95[0]
    assert result.rii_lower_95[0] < 1 < result.rii_upper_95[0]


def test_percentile_positions_follow_phe_sii() -> None:
    """phe_sii takes the round(n x 0.025)th and round(n x 0.975)th ordered draws (1-based)."""
    assert percentile_positions(10_000) == (249, 9749)
    assert percentile_positions(1_000) == (24, 974)


def test_limits_match_the_normal_spread_of_a_plain_indicator() -> None:
    """Plain values: the simulated SII is normal with sd sqrt(sum w_q^2 se_q^2), where
    se_q = (upper - lower) / (2 x 1.959964) = 1 and w_q = a_q (b_q - m) / var(b): with the
    populations above, w = (-.5696, -.7595, -.1899, .5063, 1.0127): squares .3244, .5768,
    .0361, .2564, 1.0255 sum to 2.2192, sd = 1.4897."""
    result = slope_index(VALUES, VALUES - Z_95, VALUES + Z_95, POPULATIONS, repetitions=100_000)
    sd = float(np.sqrt(np.sum((np.array([-0.045, -0.06, -0.015, 0.04, 0.08]) / 0.079) ** 2)))
    assert sd == pytest.approx(1.4897, abs=1e-4)
    assert result.sii_lower_95[0] == pytest.approx(-925 / 79 - 1.959964 * sd, abs=0.03)
    assert result.sii_upper_95[0] == pytest.approx(-925 / 79 + 1.959964 * sd, abs=0.03)


def test_limits_are_reproducible_and_contain_the_estimate() -> None:
    rng = np.random.default_rng(11)
    values = rng.uniform(0.1, 0.6, (30, 5))
    populations = rng.uniform(1000, 9000, (30, 5))
    types = np.array([PLAIN, RATE, PROPORTION] * 10)
    first = slope_index(values, values * 0.8, values * 1.2, populations, types, seed=7)
    again = slope_index(values, values * 0.8, values * 1.2, populations, types, seed=7, workers=1)
    other = slope_index(values, values * 0.8, values * 1.2, populations, types, seed=8)
    for name in ("sii_lower_95", "sii_upper_95", "rii_lower_95", "rii_upper_95"):
        assert np.array_equal(getattr(first, name), getattr(again, name))
        assert not np.array_equal(getattr(first, name), getattr(other, name))
    assert np.all(first.sii_lower_95 < first.sii) and np.all(first.sii < first.sii_upper_95)
    assert np.all(first.rii_lower_95 < first.rii) and np.all(first.rii < first.rii_upper_95)


def test_a_groups_limits_do_not_depend_on_the_other_groups() -> None:
    """Every group uses the same draws, so batching and neighbours change nothing."""
    alone = slope_index(VALUES, VALUES * 0.9, VALUES * 1.1, POPULATIONS, RATE, seed=5)
    stacked_values = np.vstack([VALUES[::-1] * 2, VALUES])
    crowd = slope_index(
        stacked_values, stacked_values * 0.9, stacked_values * 1.1,
        np.vstack([POPULATIONS, POPULATIONS]), [PLAIN, RATE], seed=5,
    )  # fmt: skip
    assert crowd.sii_lower_95[1] == alone.sii_lower_95[0]
    assert crowd.rii_upper_95[1] == alone.rii_upper_95[0]


def test_zero_width_limits_give_limits_equal_to_the_estimate() -> None:
    """No uncertainty in any quintile: every draw is the estimate (log and back for rates)."""
    plain = slope_index(VALUES, VALUES, VALUES, POPULATIONS, PLAIN, repetitions=1000)
    rate = slope_index(VALUES, VALUES, VALUES, POPULATIONS, RATE, repetitions=1000)
    for result in (plain, rate):
        assert result.sii_lower_95[0] == pytest.approx(-925 / 79, abs=1e-9)
        assert result.sii_upper_95[0] == pytest.approx(-925 / 79, abs=1e-9)
        assert result.rii_lower_95[0] == pytest.approx(683 / 1608, abs=1e-9)


def test_proportions_use_the_logit_scale_and_the_multiplier() -> None:
    """A proportion's SII is scaled to percentage points by the multiplier; its limits come
    from the logit scale, so they are not symmetric about the estimate."""
    p = VALUES / 100
    result = slope_index(p, p - 0.02, p + 0.02, POPULATIONS, PROPORTION, multipliers=100.0)
    assert result.sii[0] == pytest.approx(-925 / 79, abs=1e-9)
    assert result.rii[0] == pytest.approx(683 / 1608, abs=1e-12)
    assert result.sii_lower_95[0] < result.sii[0] < result.sii_upper_95[0]
    below = result.sii[0] - result.sii_lower_95[0]
    above = result.sii_upper_95[0] - result.sii[0]
    assert abs(below - above) > 1e-3


def test_values_without_a_logit_or_log_get_no_limits() -> None:
    p = np.array([[0.0, 0.1, 0.2, 0.3, 0.4]])
    result = slope_index(p, np.maximum(p - 0.05, 0), p + 0.05, POPULATIONS, PROPORTION)
    assert np.isfinite(result.sii[0])
    assert np.isnan(result.sii_lower_95[0]) and np.isnan(result.rii_upper_95[0])


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="repetitions"):
        slope_index(VALUES, VALUES, VALUES, POPULATIONS, repetitions=999)
    with pytest.raises(ValueError, match="population"):
        slope_index(VALUES, VALUES, VALUES, np.array([[0.0, 1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="value types"):
        slope_index(VALUES, VALUES, VALUES, POPULATIONS, 3)


# --------------------------------------------------------------------------- the mart

FY = ("financial_year", date(2024, 4, 1), date(2025, 3, 31), "2024/25")
MONTH = ("month", date(2025, 3, 1), date(2025, 3, 31), "2025-03")
WAVE = ("survey_wave", date(2024, 1, 1), date(2024, 12, 31), "2024")
CATALOGUE = pl.DataFrame(
    {
        "metric_id": ["dna_rate", "ae_attendance_rate", "payments_per_weighted_patient",
                      "prem_overall_experience_positive", "continuity_upc"],
        "method": ["wilson", "byars", "none", "wilson", "t_mean"],
        "multiplier": [100.0, 1000.0, 1.0, 100.0, 1.0],
    }
)  # fmt: skip


def _rows(
    metric_id: str,
    period: tuple[str, date, date, str],
    geography: tuple[str, str],
    values: Sequence[float | None],
    spread: float | None = 1.0,
    core20: tuple[float, float] | None = None,
) -> list[dict[str, object]]:
    grain, start, end, label = period
    base = {
        "metric_id": metric_id, "period_grain": grain, "period_start": start, "period_end": end,
        "period_label": label, "geography_type": geography[0], "geography_code": geography[1],
    }  # fmt: skip
    rows: list[dict[str, object]] = []
    for quintile, value in enumerate(values, start=1):
        has_limits = value is not None and spread is not None
        rows.append({
            **base, "breakdown_type": "imd_quintile", "breakdown_value": str(quintile),
            "value": value,
            "lower_95": value - spread if has_limits else None,  # type: ignore[operator]
            "upper_95": value + spread if has_limits else None,  # type: ignore[operator]
        })  # fmt: skip
    for name, value in zip(("core20", "rest"), core20 or (), strict=False):
        rows.append({**base, "breakdown_type": "core20", "breakdown_value": name,
                     "value": value, "lower_95": None, "upper_95": None})  # fmt: skip
    return rows


def _populations(
    period: tuple[str, date, date, str], geography: tuple[str, str], patients: list[float]
) -> list[dict[str, object]]:
    grain, start, end, _ = period
    return [
        {"period_grain": grain, "period_start": start, "period_end": end,
         "geography_type": geography[0], "geography_code": geography[1],
         "imd_quintile": quintile, "patients": count}
        for quintile, count in enumerate(patients, start=1)
    ]  # fmt: skip


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "metric_id": pl.String, "period_grain": pl.String, "period_start": pl.Date,
            "period_end": pl.Date, "period_label": pl.String, "geography_type": pl.String,
            "geography_code": pl.String, "breakdown_type": pl.String,
            "breakdown_value": pl.String, "value": pl.Float64, "lower_95": pl.Float64,
            "upper_95": pl.Float64,
        },
    )  # fmt: skip


PCN = ("pcn", "P1")
STEPPED = [8.0, 7.0, 6.0, 5.0, 4.0]
STEPPED_PATIENTS = [1000.0, 2000.0, 3000.0, 4000.0, 5000.0]


def _one_row(frame: pl.DataFrame, **keys: str) -> dict[str, object]:
    selected = frame.filter(*[pl.col(k) == v for k, v in keys.items()])
    assert selected.height == 1
    return selected.row(0, named=True)


def test_inequality_frame_gaps_and_sii_by_hand() -> None:
    """Populations 1..5 thousand: shares k/15, ranks .5/15, 2/15, 4.5/15, 8/15, 12.5/15,
    mean rank 112.5/225 = .5, var(rank) = 1106.25/3375 - .25 = 7/90. Values 8 .. 4 (%):
    sum a y = 80/15, sum a b y = 523/225, slope = (523 - 600)/225 x 90/7 = -4.4 points,
    intercept = 80/15 + 2.2 = 113/15, RII = (113 - 66)/113 = 47/113."""
    rows = _rows("dna_rate", FY, PCN, STEPPED, core20=(7.5, 5.5))
    populations = pl.DataFrame(_populations(FY, PCN, STEPPED_PATIENTS))
    frame = inequality_frame(_frame(rows), CATALOGUE, populations, repetitions=1000, seed=3)
    assert tuple(frame.columns) == INEQUALITY_COLUMNS
    row = frame.row(0, named=True)
    assert (row["quintile_1_value"], row["quintile_5_value"]) == (8.0, 4.0)
    assert (row["gap_absolute"], row["gap_relative"]) == (4.0, 2.0)
    assert (row["core20_value"], row["rest_value"], row["core20_gap"]) == (7.5, 5.5, 2.0)
    assert row["sii"] == pytest.approx(-4.4, abs=1e-12)
    assert row["rii"] == pytest.approx(47 / 113, abs=1e-12)
    assert row["not_calculated_reason"] is None
    # Wilson metrics go to the simulation as proportions (logit scale), SII back in points.
    v = np.array([STEPPED]) / 100
    direct = slope_index(v, v - 0.01, v + 0.01, np.array([STEPPED_PATIENTS]), PROPORTION,
                         multipliers=100.0, repetitions=1000, seed=3)  # fmt: skip
    assert row["sii_lower_95"] == pytest.approx(direct.sii_lower_95[0], abs=1e-12)
    assert row["rii_upper_95"] == pytest.approx(direct.rii_upper_95[0], abs=1e-12)


def test_inequality_frame_reasons() -> None:
    practice = ("practice", "A1")
    pcn2, pcn3, pcn4 = ("pcn", "P2"), ("pcn", "P3"), ("pcn", "P4")
    rows = [
        *_rows("dna_rate", FY, practice, STEPPED),
        *_rows("dna_rate", MONTH, PCN, STEPPED),
        *_rows("dna_rate", FY, pcn2, [8.0, 7.0, None, 5.0, 4.0]),
        *_rows("dna_rate", FY, pcn3, [8.0, 7.0, 6.0, 5.0, None], core20=(7.5, 5.0)),
        *_rows("dna_rate", FY, pcn4, STEPPED),
        *_rows("payments_per_weighted_patient", FY, PCN, [150.0, 140.0, 130.0, 120.0, 0.0],
               spread=None),
        *_rows("dna_rate", FY, PCN, [0.0, 7.0, 6.0, 5.0, 4.0]),
    ]  # fmt: skip
    populations = pl.DataFrame(
        [
            *_populations(FY, practice, STEPPED_PATIENTS),
            *_populations(MONTH, PCN, STEPPED_PATIENTS),
            *_populations(FY, PCN, STEPPED_PATIENTS),
            *_populations(FY, pcn2, STEPPED_PATIENTS),
            *_populations(FY, pcn3, STEPPED_PATIENTS),
            *_populations(FY, pcn4, [1000.0, 2000.0, 0.0, 4000.0, 5000.0]),
        ]
    )
    frame = inequality_frame(_frame(rows), CATALOGUE, populations, repetitions=1000)
    assert frame.height == 7

    def reason(metric_id: str, grain: str, code: str) -> object:
        row = _one_row(frame, metric_id=metric_id, period_grain=grain, geography_code=code)
        return row["not_calculated_reason"]

    assert reason("dna_rate", "financial_year", "A1") == REASON_GEOGRAPHY
    assert reason("dna_rate", "month", "P1") == REASON_MONTHLY
    assert reason("dna_rate", "financial_year", "P2") == REASON_QUINTILE_MISSING
    assert reason("dna_rate", "financial_year", "P3") == REASON_NO_QUINTILE_1_OR_5
    assert reason("dna_rate", "financial_year", "P4") == REASON_NO_POPULATION
    assert reason("payments_per_weighted_patient", "financial_year", "P1") == REASON_NO_LIMITS
    assert reason("dna_rate", "financial_year", "P1") == REASON_EDGE_OF_SCALE

    practice_row = _one_row(frame, geography_code="A1")
    assert practice_row["gap_absolute"] == 4.0 and practice_row["sii"] is None
    missing_middle = _one_row(frame, geography_code="P2")
    assert missing_middle["gap_absolute"] == 4.0 and missing_middle["sii"] is None
    missing_end = _one_row(frame, geography_code="P3")
    assert missing_end["gap_absolute"] is None and missing_end["gap_relative"] is None
    assert missing_end["quintile_1_value"] == 8.0 and missing_end["core20_gap"] == 2.5
    payments = _one_row(frame, metric_id="payments_per_weighted_patient")
    assert payments["gap_relative"] is None  # quintile 5 is 0
    assert payments["sii"] == pytest.approx(
        sii_point([[150.0, 140.0, 130.0, 120.0, 0.0]], [STEPPED_PATIENTS])[0][0], abs=1e-9
    )
    assert payments["sii_lower_95"] is None and payments["rii_lower_95"] is None
    edge = _one_row(frame, metric_id="dna_rate", period_grain="financial_year",
                    geography_code="P1")  # fmt: skip
    assert edge["sii"] is not None and edge["sii_upper_95"] is None


def test_survey_waves_average_the_monthly_populations_of_the_wave() -> None:
    """No survey-wave populations: the wave takes the mean of its 12 monthly values, 100 in
    the first half of 2024 and 300 in the second, so 200 in every quintile; a month outside
    the wave (2025-01, very unequal) is ignored. Equal shares: ranks .1 .. .9, and values
    50 .. 90 rise 10 per .2 of rank: SII 50, intercept 45, RII 95/45."""
    monthly = [
        *[
            {"period_grain": "month", "period_start": date(2024, m, 1),
             "period_end": date(2024, m, 28), "geography_type": "pcn", "geography_code": "P1",
             "imd_quintile": q, "patients": 100.0 if m <= 6 else 300.0}
            for m in range(1, 13) for q in range(1, 6)
        ],
        *[
            {"period_grain": "month", "period_start": date(2025, 1, 1),
             "period_end": date(2025, 1, 31), "geography_type": "pcn", "geography_code": "P1",
             "imd_quintile": q, "patients": 1000.0 * q ** 3}
            for q in range(1, 6)
        ],
    ]  # fmt: skip
    rows = _rows("prem_overall_experience_positive", WAVE, PCN, [50.0, 60.0, 70.0, 80.0, 90.0])
    frame = inequality_frame(_frame(rows), CATALOGUE, pl.DataFrame(monthly), repetitions=1000)
    row = frame.row(0, named=True)
    assert row["not_calculated_reason"] is None
    assert row["sii"] == pytest.approx(50.0, abs=1e-9)
    assert row["rii"] == pytest.approx(95 / 45, abs=1e-12)


def test_rii_is_undefined_when_the_line_starts_at_zero() -> None:
    """Equal populations, ranks .1 .. .9, values .1 .. .9: the line is y = rank, so the
    intercept (the fitted value at rank 0) is 0 and the RII has no value; SII is 1."""
    rows = _rows("continuity_upc", FY, PCN, [0.1, 0.3, 0.5, 0.7, 0.9], spread=0.05)
    populations = pl.DataFrame(_populations(FY, PCN, [500.0] * 5))
    frame = inequality_frame(_frame(rows), CATALOGUE, populations, repetitions=1000)
    row = frame.row(0, named=True)
    assert row["sii"] == pytest.approx(1.0, abs=1e-12)
    assert row["sii_lower_95"] < 1.0 < row["sii_upper_95"]
    assert row["rii"] is None and row["rii_lower_95"] is None and row["rii_upper_95"] is None
    assert row["not_calculated_reason"] == REASON_RII_UNDEFINED


def test_inequality_frame_is_reproducible_and_ignores_other_breakdowns() -> None:
    rows = _rows("ae_attendance_rate", FY, PCN, [30.0, 28.0, 25.0, 22.0, 20.0])
    sex = {**rows[0], "breakdown_type": "sex", "breakdown_value": "F", "value": 1.0}
    populations = pl.DataFrame(_populations(FY, PCN, STEPPED_PATIENTS))
    first = inequality_frame(_frame([*rows, sex]), CATALOGUE, populations, repetitions=1000)
    again = inequality_frame(_frame(rows), CATALOGUE, populations, repetitions=1000)
    assert first.equals(again)
    assert first.height == 1


def test_inequality_frame_refuses_metrics_missing_from_the_catalogue() -> None:
    rows = _rows("unknown_metric", FY, PCN, STEPPED)
    with pytest.raises(ValueError, match="unknown_metric"):
        inequality_frame(_frame(rows), CATALOGUE, pl.DataFrame(_populations(FY, PCN, STEPPED)))


def test_inequality_frame_of_no_rows_has_the_mart_columns() -> None:
    empty = _frame([])
    populations = pl.DataFrame(_populations(FY, PCN, STEPPED_PATIENTS)).clear()
    frame = inequality_frame(empty, CATALOGUE, populations)
    assert frame.height == 0
    assert tuple(frame.columns) == INEQUALITY_COLUMNS
    assert frame.schema["sii"] == pl.Float64
    assert frame.schema["not_calculated_reason"] == pl.String


def test_mart_documents_every_column_in_order() -> None:
    path = Path(__file__).resolve().parents[3] / "models" / "marts" / "_spc_inequality.yml"
    models = {m["name"]: m for m in yaml.safe_load(path.read_text())["models"]}
    assert [c["name"] for c in models["inequality_gaps"]["columns"]] == list(INEQUALITY_COLUMNS)
