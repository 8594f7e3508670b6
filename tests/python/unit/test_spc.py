"""XmR charts (metrics_cli/spc.py): limits, special-cause rules, precedence, icons, assurance.

Most series start from a 12-point baseline alternating 10, 12: mean 11, every moving range
2, so process limits 11 +/- 5.32 = 5.68 / 16.32 and near limits 11 +/- 3.5467 =
7.4533 / 14.5467. Rule tests hold those limits with fix_after_n_points=12 where the points
after the baseline would otherwise move them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml  # type: ignore[import-untyped]

from metrics_cli.spc import (
    ASSURANCE_ICONS,
    POINT_TYPES,
    SPC_COLUMNS,
    VARIATION_ICONS,
    spc_frame,
    spc_points,
    xmr_chart,
)

MDC_EXAMPLE = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
BASELINE = [10.0, 12.0] * 6
UPPER_NEAR = 11 + 2.66 * 2 * 2 / 3  # 14.5467
LOWER_NEAR = 11 - 2.66 * 2 * 2 / 3  # 7.4533


def point_types(chart: pl.DataFrame) -> list[str]:
    return chart["point_type"].to_list()


def flagged(chart: pl.DataFrame) -> list[int]:
    """Positions of the points typed special cause."""
    return [i for i, kind in enumerate(point_types(chart)) if kind.startswith("special_cause")]


# --------------------------------------------------------------------------- limits


def test_making_data_count_example_with_screening() -> None:
    """Sum 35 over 18 points: mean 35/18 = 1.9444. Moving ranges: 1, 1, 1, 8, 9 and twelve
    1s, AMR 32/17 = 1.8824; 8 and 9 are >= 3.267 x 1.8824 = 6.1498 and are screened out,
    leaving fifteen 1s: AMR 1. Limits 35/18 -/+ 2.66 = -0.7156 / 4.6044; near limits
    35/18 -/+ 1.7733 = 0.1711 / 3.7178."""
    chart = xmr_chart(MDC_EXAMPLE)
    first = chart.row(0, named=True)
    assert round(first["mean"], 2) == 1.94
    assert round(first["lower_process_limit"], 2) == -0.72
    assert round(first["upper_process_limit"], 2) == 4.6
    assert first["mean"] == pytest.approx(35 / 18, abs=1e-9)
    assert first["lower_process_limit"] == pytest.approx(35 / 18 - 2.66, abs=1e-9)
    assert first["upper_process_limit"] == pytest.approx(35 / 18 + 2.66, abs=1e-9)
    assert first["lower_near_limit"] == pytest.approx(35 / 18 - 2.66 * 2 / 3, abs=1e-9)
    assert first["upper_near_limit"] == pytest.approx(35 / 18 + 2.66 * 2 / 3, abs=1e-9)
    assert chart["mean"].n_unique() == 1 and chart["upper_process_limit"].n_unique() == 1
    assert flagged(chart) == [4]  # 10 is above 4.6044


def test_making_data_count_example_without_screening() -> None:
    """Unscreened AMR 32/17: limits 35/18 -/+ 2.66 x 32/17 = -3.0626 / 6.9515."""
    first = xmr_chart(MDC_EXAMPLE, screen_outliers=False).row(0, named=True)
    assert round(first["lower_process_limit"], 2) == -3.06
    assert round(first["upper_process_limit"], 2) == 6.95
    assert first["lower_process_limit"] == pytest.approx(35 / 18 - 2.66 * 32 / 17, abs=1e-9)
    assert first["upper_process_limit"] == pytest.approx(35 / 18 + 2.66 * 32 / 17, abs=1e-9)
    assert first["upper_near_limit"] == pytest.approx(35 / 18 + 2.66 * 32 / 17 * 2 / 3, abs=1e-9)


def test_baseline_limits() -> None:
    first = xmr_chart(BASELINE).row(0, named=True)
    assert first["mean"] == pytest.approx(11, abs=1e-12)
    assert first["lower_process_limit"] == pytest.approx(5.68, abs=1e-12)
    assert first["upper_process_limit"] == pytest.approx(16.32, abs=1e-12)
    assert first["lower_near_limit"] == pytest.approx(LOWER_NEAR, abs=1e-12)
    assert first["upper_near_limit"] == pytest.approx(UPPER_NEAR, abs=1e-12)


def test_constant_series_has_limits_on_the_mean_and_no_special_cause() -> None:
    """Every moving range is 0: none is screened out (the screen needs AMR > 0), the limits
    equal the mean, and points on a limit are not outside it."""
    chart = xmr_chart([5.0] * 12)
    assert chart["lower_process_limit"].to_list() == [5.0] * 12
    assert chart["upper_process_limit"].to_list() == [5.0] * 12
    assert set(point_types(chart)) == {"common_cause"}


# --------------------------------------------------------------------------- outside the limits


def test_point_exactly_on_a_limit_is_not_outside_but_just_beyond_is() -> None:
    upper = xmr_chart(BASELINE)["upper_process_limit"][0]
    on_limit = xmr_chart([*BASELINE, upper], fix_after_n_points=12)
    assert on_limit["upper_process_limit"][12] == upper
    assert point_types(on_limit)[12] == "common_cause"
    beyond = xmr_chart([*BASELINE, math.nextafter(upper, math.inf)], fix_after_n_points=12)
    assert point_types(beyond)[12] == "special_cause_neutral_high"
    below = xmr_chart([*BASELINE, 5.0], fix_after_n_points=12)
    assert point_types(below)[12] == "special_cause_neutral_low"


# --------------------------------------------------------------------------- trend of 7

TREND_SERIES = [10, 12, 10, 12, 10, 12, 9, 9.5, 10, 10.5, 11, 11.5, 12, 10, 12, 10, 12]


def test_trend_of_seven_flags_all_seven_points() -> None:
    """9 .. 12 rises 6 times in a row: 7 points. Mean 183.5 / 17 = 10.794, moving ranges
    2 x 5, 3, 0.5 x 6, 2 x 4: AMR 24/16 = 1.5, near limits 8.134 / 13.454: no point is
    beyond one, outside a limit, or in a run of 7 on one side of the mean."""
    chart = xmr_chart(TREND_SERIES, polarity="higher_is_better")
    assert chart["mean"][0] == pytest.approx(183.5 / 17, abs=1e-12)
    assert chart["upper_near_limit"][0] == pytest.approx(183.5 / 17 + 2.66 * 1.5 * 2 / 3)
    assert flagged(chart) == [6, 7, 8, 9, 10, 11, 12]
    assert set(point_types(chart)[6:13]) == {"special_cause_improvement"}


def test_trend_of_six_is_not_special_cause() -> None:
    values = [10, 12, 10, 12, 10, 12, 9, 9.5, 10, 10.5, 11, 11.5, 10, 12, 10, 12, 10]
    assert flagged(xmr_chart(values)) == []


def test_seven_points_with_a_tie_are_not_a_trend() -> None:
    values = [10, 12, 10, 12, 10, 12, 9, 9.5, 10, 10, 10.5, 11, 11.5, 10, 12, 10, 12]
    assert flagged(xmr_chart(values)) == []


def test_falling_trend_is_low() -> None:
    values = [12, 10, 12, 10, 12, 10, 13, 12.5, 12, 11.5, 11, 10.5, 10, 12, 10, 12, 10]
    chart = xmr_chart(values, polarity="higher_is_better")
    assert flagged(chart) == [6, 7, 8, 9, 10, 11, 12]
    assert set(point_types(chart)[6:13]) == {"special_cause_concern"}


def test_point_between_a_rising_and_a_falling_trend_takes_the_trend_leading_into_it() -> None:
    """8 .. 11 rises for 7 points, then 11 .. 8 falls for 7: the peak (11) ends the rising
    trend, so it is high; limits held by the baseline keep every point inside them."""
    rise = [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0]
    fall = [10.5, 10.0, 9.5, 9.0, 8.5, 8.0]
    chart = xmr_chart([*BASELINE, *rise, *fall], polarity="neutral", fix_after_n_points=12)
    types = point_types(chart)
    assert types[12:19] == ["special_cause_neutral_high"] * 7
    assert types[19:25] == ["special_cause_neutral_low"] * 6


# --------------------------------------------------------------------------- 2 of 3


def test_two_of_three_beyond_the_upper_near_limit() -> None:
    """15 and 15.5 lie between the upper near limit (14.5467) and the upper limit (16.32),
    one point apart: both are flagged, the point between them is not."""
    chart = xmr_chart([*BASELINE, 15.0, 11.0, 15.5, 11.0], fix_after_n_points=12)
    assert UPPER_NEAR < 15.0 < 16.32
    assert flagged(chart) == [12, 14]
    assert point_types(chart)[12] == "special_cause_neutral_high"


def test_two_adjacent_points_beyond_the_lower_near_limit() -> None:
    chart = xmr_chart(
        [*BASELINE, 11.0, 7.0, 6.5, 11.0], polarity="lower_is_better", fix_after_n_points=12
    )
    assert 5.68 < 6.5 < 7.0 < LOWER_NEAR
    assert flagged(chart) == [13, 14]
    assert set(point_types(chart)[13:15]) == {"special_cause_improvement"}


def test_one_of_three_beyond_the_near_limit_is_not_special_cause() -> None:
    chart = xmr_chart([*BASELINE, 15.0, 11.0, 11.0, 15.0], fix_after_n_points=12)
    assert flagged(chart) == []  # 15s three points apart: each is 1 of its 3


def test_two_of_three_on_opposite_sides_is_not_special_cause() -> None:
    chart = xmr_chart([*BASELINE, 15.0, 7.0, 11.0], fix_after_n_points=12)
    assert flagged(chart) == []


# --------------------------------------------------------------------------- run of 7


def test_run_of_eight_above_the_mean_flags_every_point() -> None:
    """Mean 202/18 = 11.222; the 12 before the run and the seven 11.5/12 points after it are
    above it: a run of 8. Moving ranges 2 x 7, 0.5 x 7, 1.5, 2, 2: AMR 23/17, near limits
    11.222 -/+ 2.399: nothing beyond them, and no trend."""
    values = [10, 12, 10, 12, 10, 12, 10, 12, 11.5, 12, 11.5, 12, 11.5, 12, 11.5, 10, 12, 10]
    chart = xmr_chart(values, polarity="lower_is_better")
    assert chart["mean"][0] == pytest.approx(202 / 18, abs=1e-12)
    assert flagged(chart) == [7, 8, 9, 10, 11, 12, 13, 14]
    assert set(point_types(chart)[7:15]) == {"special_cause_concern"}


def test_run_broken_by_a_point_on_the_mean() -> None:
    """Sum 198 over 18 points: the mean is exactly 11, the middle point of the run."""
    values = [10, 12, 10, 12, 10, 12, 10, 12, 11.5, 12, 11.5, 11, 11.5, 12, 11.5, 10, 9.5, 9.5]
    chart = xmr_chart(values)
    assert chart["mean"][0] == 11.0
    assert flagged(chart) == []


def test_run_of_six_is_not_special_cause() -> None:
    values = [10, 12, 10, 12, 10, 12, 10, 11.5, 12, 11.5, 12, 11.5, 12, 10, 12, 10, 12, 10]
    chart = xmr_chart(values)
    assert flagged(chart) == []


# --------------------------------------------------------------------------- precedence


def test_trend_takes_precedence_over_run() -> None:
    """Seven rising points all below the mean (11): a trend (high) and a run (low). The
    trend wins, so a rising higher-is-better metric shows improvement, not concern."""
    rise = [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 10.9]
    chart = xmr_chart([*BASELINE, *rise], polarity="higher_is_better", fix_after_n_points=12)
    assert point_types(chart)[12:] == ["special_cause_improvement"] * 7
    assert chart["variation_icon"][0] == "improvement_high"


def test_outside_takes_precedence_over_trend_and_two_of_three() -> None:
    """5 is below the lower limit (5.68) and starts a rising trend 5 .. 10.5; 6 and 7 are
    also beyond the lower near limit (2 of 3, low) and all seven are below the mean (run,
    low). 5 is low (outside); the others are high (trend beats 2 of 3 and run)."""
    rise = [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 10.5]
    chart = xmr_chart([*BASELINE, *rise], polarity="higher_is_better", fix_after_n_points=12)
    types = point_types(chart)
    assert types[12] == "special_cause_concern"
    assert types[13:] == ["special_cause_improvement"] * 6


def test_two_of_three_takes_precedence_over_run_on_the_same_side() -> None:
    values = [*BASELINE, 11.5, 12.0, 11.5, 15.0, 11.5, 15.5, 11.5]
    chart = xmr_chart(values, polarity="neutral", fix_after_n_points=12)
    assert set(point_types(chart)[11:]) == {"special_cause_neutral_high"}  # run of 8 from the 12


# --------------------------------------------------------------------------- polarity and icons


@pytest.mark.parametrize(
    ("polarity", "high", "low", "icon_high", "icon_low"),
    [
        ("higher_is_better", "special_cause_improvement", "special_cause_concern",
         "improvement_high", "concern_low"),
        ("lower_is_better", "special_cause_concern", "special_cause_improvement",
         "concern_high", "improvement_low"),
        ("neutral", "special_cause_neutral_high", "special_cause_neutral_low",
         "neutral_high", "neutral_low"),
    ],
)  # fmt: skip
def test_polarity_types_points_and_icons(
    polarity: str, high: str, low: str, icon_high: str, icon_low: str
) -> None:
    up = xmr_chart([*BASELINE, 20.0], polarity=polarity, fix_after_n_points=12)
    down = xmr_chart([*BASELINE, 2.0], polarity=polarity, fix_after_n_points=12)
    assert point_types(up)[12] == high
    assert point_types(down)[12] == low
    assert set(up["variation_icon"].to_list()) == {icon_high}
    assert set(down["variation_icon"].to_list()) == {icon_low}


def test_icon_comes_from_the_last_point_only() -> None:
    chart = xmr_chart([*BASELINE, 20.0, 11.0], polarity="higher_is_better", fix_after_n_points=12)
    assert point_types(chart)[12] == "special_cause_improvement"
    assert set(chart["variation_icon"].to_list()) == {"common_cause"}
    assert chart["is_last_point"].to_list() == [False] * 13 + [True]


def test_unknown_polarity_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown polarity"):
        xmr_chart(BASELINE, polarity="up")


# --------------------------------------------------------------------------- assurance


@pytest.mark.parametrize(
    ("polarity", "target", "expected"),
    [
        ("higher_is_better", 5.0, "consistent_pass"),  # below the lower limit 5.68
        ("higher_is_better", 17.0, "consistent_fail"),  # above the upper limit 16.32
        ("higher_is_better", 16.32, "inconsistent"),  # on a limit: between them
        ("lower_is_better", 5.0, "consistent_fail"),
        ("lower_is_better", 17.0, "consistent_pass"),
        ("lower_is_better", 11.0, "inconsistent"),
        ("neutral", 17.0, None),
        ("higher_is_better", None, None),
    ],
)
def test_assurance(polarity: str, target: float | None, expected: str | None) -> None:
    chart = xmr_chart(BASELINE, polarity=polarity, target=target)
    assert set(chart["assurance_icon"].to_list()) == {expected}
    assert set(chart["target"].to_list()) == {target}


def test_assurance_uses_the_limits_of_the_last_segment() -> None:
    """Rebased at the 13th month: the second segment (mean 21.5, limits 13.52 / 29.48) puts
    a target of 12 below its lower limit, though it is inside the first segment's."""
    values = [*BASELINE, *[20.0, 23.0] * 6]
    starts = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]
    chart = xmr_chart(
        values, polarity="higher_is_better", target=12.0, period_starts=starts,
        rebase_dates=[date(2025, 1, 1)],
    )  # fmt: skip
    assert set(chart["assurance_icon"].to_list()) == {"consistent_pass"}


# --------------------------------------------------------------------------- baseline and rebasing


def test_fix_after_n_points_holds_the_baseline_limits() -> None:
    """With the first 12 points fixed the limits stay 5.68 / 16.32; unfixed, the later 14s
    move the mean to (132 + 6 x 14) / 18 = 12 and the limits with it."""
    values = [*BASELINE, *[14.0] * 6]
    fixed = xmr_chart(values, fix_after_n_points=12)
    assert fixed["lower_process_limit"].to_list() == pytest.approx([5.68] * 18, abs=1e-12)
    assert fixed["upper_process_limit"].to_list() == pytest.approx([16.32] * 18, abs=1e-12)
    assert flagged(fixed) == list(range(11, 18))  # 12 and the 14s: a run of 7 above 11
    free = xmr_chart(values)
    assert free["mean"][0] == pytest.approx(12.0, abs=1e-12)


def test_rebasing_recomputes_the_limits_from_each_date() -> None:
    """Two segments of 12: mean 11, AMR 2, then mean 21.5, AMR 3 (limits 21.5 -/+ 7.98).
    The jump from 12 to 20 is not a moving range of either segment, and no rule reaches
    across the rebase."""
    values = [*BASELINE, *[20.0, 23.0] * 6]
    starts = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(24)]
    chart = xmr_chart(values, period_starts=starts, rebase_dates=[date(2025, 1, 1)])
    assert chart["mean"].to_list() == pytest.approx([11.0] * 12 + [21.5] * 12, abs=1e-12)
    assert chart["upper_process_limit"].to_list()[11:13] == pytest.approx([16.32, 29.48])
    assert chart["lower_process_limit"].to_list()[11:13] == pytest.approx([5.68, 13.52])
    assert flagged(chart) == []
    unrebased = xmr_chart(values, period_starts=starts)
    assert unrebased["mean"][0] == pytest.approx(16.25, abs=1e-12)


def test_rebased_segment_of_fewer_than_12_points_has_no_limits() -> None:
    values = [*BASELINE, *[20.0, 23.0] * 3]
    starts = [date(2024 + i // 12, i % 12 + 1, 1) for i in range(18)]
    chart = xmr_chart(values, period_starts=starts, rebase_dates=[date(2025, 1, 1)])
    assert point_types(chart) == ["common_cause"] * 12 + ["too_few_points"] * 6
    assert chart["mean"].null_count() == 6
    assert set(chart["variation_icon"].to_list()) == {None}


def test_fix_after_n_points_must_allow_a_moving_range() -> None:
    with pytest.raises(ValueError, match="fix_after_n_points"):
        xmr_chart(BASELINE, fix_after_n_points=1)


# --------------------------------------------------------------------------- too few points


def test_fewer_than_12_points() -> None:
    chart = xmr_chart(BASELINE[:11], polarity="higher_is_better", target=5.0)
    assert point_types(chart) == ["too_few_points"] * 11
    no_chart = ("mean", "lower_process_limit", "upper_process_limit", "lower_near_limit",
                "upper_near_limit", "variation_icon", "assurance_icon")  # fmt: skip
    for column in no_chart:
        assert chart[column].null_count() == 11
    assert chart["is_last_point"].to_list() == [False] * 10 + [True]
    assert point_types(xmr_chart(BASELINE)) == ["common_cause"] * 12


def test_rules_do_not_reach_across_series() -> None:
    """X ends 9, 10, 11, 11.5 and Y starts 12, 12.5, 13: seven rising points if the two
    were one series, but neither has a trend of its own. Y's last point and Z's first are
    each beyond their series' lower near limit (7.335, 8.274), and Z starts with a trend:
    neither makes Y's last point special cause."""
    x = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 9.0, 10.0, 11.0, 11.5]
    y = [12.0, 12.5, 13.0, 10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 7.0]
    z = [8.0, 8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 12.0, 10.0, 12.0, 10.0, 12.0]
    points = pl.DataFrame(
        {
            "series": ["x"] * 12 + ["y"] * 12 + ["z"] * 12,
            "period_start": [date(2024 + i // 12, i % 12 + 1, 1) for i in range(12)] * 3,
            "value": x + y + z,
            "polarity": ["neutral"] * 36,
            "target": [None] * 36,
        },
        schema_overrides={"target": pl.Float64},
    )
    chart = spc_points(points, ["series"])
    assert flagged(chart) == list(range(24, 32))  # Z's 8 .. 12: eight rising points
    assert chart["is_last_point"].to_list() == ([False] * 11 + [True]) * 3
    assert flagged(xmr_chart(x + y))[:7] == [8, 9, 10, 11, 12, 13, 14]


# --------------------------------------------------------------------------- the mart


def _month(i: int) -> date:
    return date(2024 + (3 + i) // 12, (3 + i) % 12 + 1, 1)


def _metric_rows(
    metric_id: str, geography_type: str, geography_code: str, values: Sequence[float | None]
) -> list[dict[str, object]]:
    return [
        {
            "metric_id": metric_id,
            "period_grain": "month",
            "period_start": _month(i),
            "geography_type": geography_type,
            "geography_code": geography_code,
            "breakdown_type": "all",
            "breakdown_value": "all",
            "value": value,
        }
        for i, value in enumerate(values)
    ]


CATALOGUE = pl.DataFrame(
    {
        "metric_id": ["dna_rate", "same_day_share", "face_to_face_share"],
        "polarity": ["lower_is_better", "higher_is_better", "neutral"],
    }
)
TARGETS = pl.DataFrame(
    {
        "metric_id": ["dna_rate", "dna_rate"],
        "geography_type": ["all", "practice"],
        "geography_code": ["all", "A2"],
        "target": [5.0, 1.0],
    }
)


def test_spc_frame_builds_each_monthly_series_of_breakdown_all() -> None:
    rows = [
        *_metric_rows("dna_rate", "all", "all", [*[4.0, 4.5] * 6, 9.0]),
        *_metric_rows("same_day_share", "practice", "A1", [30.0, None, *[31.0] * 10, 40.0]),
        *_metric_rows("face_to_face_share", "pcn", "P1", [60.0] * 5),
    ]
    other = [
        {**rows[0], "period_grain": "financial_year", "value": 99.0},
        {**rows[0], "breakdown_type": "sex", "breakdown_value": "F", "value": 99.0},
    ]
    frame = spc_frame(pl.DataFrame([*rows, *other]), CATALOGUE, TARGETS, True)
    assert tuple(frame.columns) == SPC_COLUMNS
    assert frame.height == 13 + 12 + 5  # the null month is left out

    dna = frame.filter(pl.col("metric_id") == "dna_rate")
    assert dna["mean"][0] == pytest.approx((6 * 8.5 + 9) / 13, abs=1e-12)
    assert dna["point_type"][-1] == "special_cause_concern"  # 9 is above the limit, higher is worse
    assert set(dna["variation_icon"].to_list()) == {"concern_high"}
    assert set(dna["target"].to_list()) == {5.0}
    assert dna["assurance_icon"][0] in {"consistent_pass", "inconsistent"}

    same_day = frame.filter(pl.col("metric_id") == "same_day_share")
    assert same_day["period_start"].to_list()[:2] == [_month(0), _month(2)]
    assert set(same_day["target"].to_list()) == {None}
    assert set(same_day["assurance_icon"].to_list()) == {None}

    too_few = frame.filter(pl.col("metric_id") == "face_to_face_share")
    assert set(too_few["point_type"].to_list()) == {"too_few_points"}
    assert frame.filter(pl.col("is_last_point")).height == 3


def test_spc_frame_screening_switch() -> None:
    values = [float(v) for v in MDC_EXAMPLE]
    metric_values = pl.DataFrame(_metric_rows("face_to_face_share", "all", "all", values))
    screened = spc_frame(metric_values, CATALOGUE, TARGETS, True)
    unscreened = spc_frame(metric_values, CATALOGUE, TARGETS, False)
    assert screened["upper_process_limit"][0] == pytest.approx(35 / 18 + 2.66, abs=1e-9)
    assert unscreened["upper_process_limit"][0] == pytest.approx(35 / 18 + 2.66 * 32 / 17, abs=1e-9)


def test_spc_frame_refuses_metrics_missing_from_the_catalogue() -> None:
    metric_values = pl.DataFrame(_metric_rows("unknown_metric", "all", "all", [1.0] * 12))
    with pytest.raises(ValueError, match="unknown_metric"):
        spc_frame(metric_values, CATALOGUE, TARGETS, True)


def test_spc_frame_of_no_rows_has_the_mart_columns() -> None:
    empty = pl.DataFrame(_metric_rows("dna_rate", "all", "all", [1.0])).clear()
    frame = spc_frame(empty, CATALOGUE, TARGETS, True)
    assert frame.height == 0
    assert tuple(frame.columns) == SPC_COLUMNS
    assert frame.schema["mean"] == pl.Float64
    assert frame.schema["point_type"] == pl.String
    assert frame.schema["is_last_point"] == pl.Boolean


def _phases(*rows: tuple[str, str, str, date, int | None]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "metric_id": pl.String,
            "geography_type": pl.String,
            "geography_code": pl.String,
            "recalculate_from": pl.Date,
            "baseline_points": pl.Int64,
        },
        orient="row",
    )


def test_spc_frame_recalculates_limits_from_each_series_phase() -> None:
    """The spc_phases seed: the ICB's DNA rate is recalculated from its 13th month (two
    segments: mean 11, limits 5.68 / 16.32, then mean 21.5, limits 13.52 / 29.48, as in
    test_rebasing_recomputes_the_limits_from_each_date); the practice's same series, with no
    phase, keeps one set of limits over all 24 points (mean (6 x 22 + 6 x 43) / 24 = 16.25)."""
    values = [*BASELINE, *[20.0, 23.0] * 6]
    rows = [*_metric_rows("dna_rate", "all", "all", values),
            *_metric_rows("dna_rate", "practice", "A1", values)]  # fmt: skip
    phases = _phases(("dna_rate", "all", "all", _month(12), None))
    frame = spc_frame(pl.DataFrame(rows), CATALOGUE, TARGETS, True, phases=phases)
    icb = frame.filter(pl.col("geography_type") == "all")
    assert icb["mean"].to_list() == pytest.approx([11.0] * 12 + [21.5] * 12, abs=1e-12)
    assert icb["upper_process_limit"].to_list()[11:13] == pytest.approx([16.32, 29.48])
    assert flagged(icb) == []
    practice = frame.filter(pl.col("geography_type") == "practice")
    assert practice["mean"].to_list() == pytest.approx([16.25] * 24, abs=1e-12)
    unphased = spc_frame(pl.DataFrame(rows), CATALOGUE, TARGETS, True)
    assert unphased.filter(pl.col("geography_type") == "all")["mean"][0] == pytest.approx(16.25)


def test_spc_frame_phase_baseline_fixes_the_limits_from_its_first_points() -> None:
    """A phase from the series' first month with a 12-point baseline holds the limits at
    5.68 / 16.32 while six 14s follow (as fix_after_n_points=12 does for every series); a
    second phase from month 13 with a 3-point baseline (20, 23, 20: mean 21, AMR 3) gets
    limits 21 -/+ 7.98 over its 12 points."""
    values = [*BASELINE, *[20.0, 23.0] * 6]
    rows = _metric_rows("face_to_face_share", "pcn", "P1", [*BASELINE, *[14.0] * 6])
    rows += _metric_rows("same_day_share", "pcn", "P1", values)
    phases = _phases(
        ("face_to_face_share", "pcn", "P1", _month(0), 12),
        ("same_day_share", "pcn", "P1", _month(12), 3),
    )
    frame = spc_frame(pl.DataFrame(rows), CATALOGUE, TARGETS, True, phases=phases)
    fixed = frame.filter(pl.col("metric_id") == "face_to_face_share")
    assert fixed["lower_process_limit"].to_list() == pytest.approx([5.68] * 18, abs=1e-12)
    assert fixed["upper_process_limit"].to_list() == pytest.approx([16.32] * 18, abs=1e-12)
    second = frame.filter(pl.col("metric_id") == "same_day_share")[12:]
    assert second["mean"].to_list() == pytest.approx([21.0] * 12, abs=1e-12)
    assert second["upper_process_limit"].to_list() == pytest.approx([28.98] * 12, abs=1e-12)


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        (_phases(("dna_rate", "all", "all", date(2024, 4, 1), 1)), "at least 2"),
        (
            _phases(
                ("dna_rate", "all", "all", date(2024, 4, 1), None),
                ("dna_rate", "all", "all", date(2024, 4, 1), 12),
            ),
            "same month",
        ),
    ],
)
def test_spc_frame_refuses_impossible_phases(phases: pl.DataFrame, message: str) -> None:
    rows = _metric_rows("dna_rate", "all", "all", BASELINE)
    with pytest.raises(ValueError, match=message):
        spc_frame(pl.DataFrame(rows), CATALOGUE, TARGETS, True, phases=phases)


def test_mart_tests_accept_exactly_the_values_the_code_writes() -> None:
    """The accepted_values tests in _spc_inequality.yml list the same vocabularies."""
    path = Path(__file__).resolve().parents[3] / "models" / "marts" / "_spc_inequality.yml"
    models = {m["name"]: m for m in yaml.safe_load(path.read_text())["models"]}
    accepted = {}
    for column in models["metric_spc"]["columns"]:
        for test in column.get("data_tests", []):
            if isinstance(test, dict) and "accepted_values" in test:
                accepted[column["name"]] = tuple(test["accepted_values"]["arguments"]["values"])
    assert accepted["point_type"] == POINT_TYPES
    assert accepted["variation_icon"] == VARIATION_ICONS
    assert accepted["assurance_icon"] == ASSURANCE_ICONS
    assert [c["name"] for c in models["metric_spc"]["columns"]] == list(SPC_COLUMNS)
