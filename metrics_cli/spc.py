"""Statistical process control: Making Data Count XmR charts, vectorised over many series.

One implementation serves one series (`xmr_chart`) and a whole mart (`spc_points`,
`spc_frame`): every step is a polars expression evaluated per *segment*, where a segment is
a series, or the part of a series from one rebase date to the next. Rebase dates apply to
every series (`rebase_dates`) or to some (`phases`, the spc_phases seed: from which month
a series' limits are recalculated, and optionally from how many of that phase's first
points, its baseline).

Each special-cause rule gives a flagged point a side, +1 (high) or -1 (low):

- outside the process limits: the limit it is beyond;
- trend of 7: the direction of the trend; a point shared by a rising and a falling trend
  (the peak or trough between them) takes the direction of the trend that leads into it;
- 2 of 3 beyond the near limit: the near limit the point is beyond;
- run of 7: the side of the mean.

A point flagged by several rules takes the side of the rule highest in precedence
(outside > trend > 2 of 3 > run); the side and the metric's polarity give its type.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

from metrics_cli.marts import SPC_COLUMNS

MIN_POINTS = 12
PROCESS_LIMIT_FACTOR = 2.66
NEAR_LIMIT_FACTOR = PROCESS_LIMIT_FACTOR * 2 / 3
SCREEN_FACTOR = 3.267
TREND_POINTS = 7
RUN_POINTS = 7

POLARITIES = ("higher_is_better", "lower_is_better", "neutral")
POINT_TYPES = (
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
    "common_cause",
    "too_few_points",
)
VARIATION_ICONS = (
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
)
ASSURANCE_ICONS = ("consistent_pass", "consistent_fail", "inconsistent")

SERIES_KEYS = ("metric_id", "geography_type", "geography_code", "breakdown_type", "breakdown_value")


def _changed(column: str) -> pl.Expr:
    """True where a column differs from the row before (and on the first row)."""
    return pl.col(column).ne_missing(pl.col(column).shift(1))


def _same_segment(offset: int) -> pl.Expr:
    """True where the row `offset` rows away (negative: later) is in the same segment."""
    return pl.col("_segment").shift(offset).eq_missing(pl.col("_segment"))


def _streak_length(column: str) -> pl.Expr:
    """Length of the streak of equal values of `column`, within a segment, holding each row."""
    streak = (pl.col("_new_segment") | _changed(column)).cum_sum()
    return pl.len().over(streak)


def _first_nonzero(*sides: pl.Expr) -> pl.Expr:
    """The first of several sides (-1, 0, +1) that is not zero: rule precedence."""
    return pl.coalesce([pl.when(side != 0).then(side) for side in sides]).fill_null(0)


def _rebase_epochs(period_start: pl.Series, rebase_dates: Sequence[date]) -> pl.Series:
    """Number of rebase dates on or before each point: a new value starts a segment."""
    if not rebase_dates:
        return pl.Series("_epoch", np.zeros(len(period_start), dtype=np.int64))
    cuts = np.sort(np.array(rebase_dates, dtype="datetime64[D]"))
    starts = period_start.cast(pl.Date).to_numpy().astype("datetime64[D]")
    return pl.Series("_epoch", np.searchsorted(cuts, starts, side="right").astype(np.int64))


PHASE_COLUMNS = ("recalculate_from", "baseline_points")


def _with_phases(
    frame: pl.DataFrame, keys: Sequence[str], phases: pl.DataFrame | None
) -> pl.DataFrame:
    """`frame` with `_phase`, the latest `recalculate_from` of its series on or before each
    point (null before the first), and `_phase_baseline`, that phase's baseline_points.

    `phases` holds some of the series keys (the series a row applies to), recalculate_from
    and baseline_points (null: every point of the phase sets its limits).
    """
    if phases is None or phases.is_empty():
        return frame.with_columns(
            pl.lit(None, dtype=pl.Date).alias("_phase"),
            pl.lit(None, dtype=pl.Int64).alias("_phase_baseline"),
        )
    by = [key for key in keys if key in phases.columns]
    unknown = sorted(set(phases.columns) - set(by) - set(PHASE_COLUMNS))
    if unknown or not set(PHASE_COLUMNS) <= set(phases.columns):
        raise ValueError(
            f"SPC phases need {[*keys, *PHASE_COLUMNS]} columns; unexpected {unknown}"
        )
    table = phases.select(
        *by,
        pl.col("recalculate_from").cast(pl.Date).alias("_phase"),
        pl.col("baseline_points").cast(pl.Int64).alias("_phase_baseline"),
    )
    if table["_phase"].null_count():
        raise ValueError("every SPC phase needs a recalculate_from date")
    if (table["_phase_baseline"] < 2).any():
        raise ValueError("an SPC phase's baseline_points must be at least 2 (one moving range)")
    if table.select([*by, "_phase"]).is_duplicated().any():
        raise ValueError("two SPC phases of one series start in the same month")
    joined = frame.sort("period_start").join_asof(
        table.sort("_phase"),
        left_on="period_start",
        right_on="_phase",
        by=by or None,
        strategy="backward",
        check_sortedness=False,
    )
    return joined.sort([*keys, "period_start"])


def spc_points(
    points: pl.DataFrame,
    series_keys: Sequence[str],
    *,
    screen_outliers: bool = True,
    fix_after_n_points: int | None = None,
    rebase_dates: Sequence[date] = (),
    phases: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """XmR chart columns for every point of every series in `points`.

    `points` holds `series_keys`, `period_start`, `value` (no nulls), `polarity` and `target`
    (the series' target or null). Returns the rows sorted by series and date with `mean`,
    the four limits, `point_type`, `is_last_point`, `variation_icon` and `assurance_icon`
    added; icons are the series' (from its last point) on every row. A new segment starts
    at every rebase date and at every phase of `phases` (see _with_phases); a phase's
    baseline_points, else fix_after_n_points, fixes its limits from its first points.
    """
    keys = list(series_keys)
    if fix_after_n_points is not None and fix_after_n_points < 2:
        raise ValueError("fix_after_n_points must be at least 2 (one moving range)")
    unknown = set(points["polarity"].unique().to_list()) - set(POLARITIES)
    if unknown:
        raise ValueError(
            f"unknown polarity {sorted(map(str, unknown))}; expected one of {POLARITIES}"
        )
    if points["value"].null_count() or points["value"].is_nan().any():
        raise ValueError("SPC series values must not be null or NaN; leave such points out")
    if points.select([*keys, "period_start"]).is_duplicated().any():
        raise ValueError("a series has two points for the same period_start")

    frame = _with_phases(points.sort([*keys, "period_start"]), keys, phases)
    frame = frame.with_columns(_rebase_epochs(frame["period_start"], rebase_dates))
    new_series = pl.any_horizontal([_changed(key) for key in keys]) if keys else pl.lit(False)
    frame = frame.with_columns(
        _new_series=new_series | (pl.int_range(pl.len()) == 0),
    ).with_columns(
        _new_segment=pl.col("_new_series") | _changed("_epoch") | _changed("_phase"),
        _series=pl.col("_new_series").cum_sum(),
    )
    frame = frame.with_columns(_segment=pl.col("_new_segment").cum_sum())

    baseline_points = (
        fix_after_n_points if fix_after_n_points is not None else np.iinfo(np.int64).max
    )
    position = pl.int_range(pl.len()).over("_segment")
    frame = frame.with_columns(
        _position=position,
        _has_limits=pl.len().over("_segment") >= MIN_POINTS,
    ).with_columns(
        _baseline=pl.col("_position") < pl.col("_phase_baseline").fill_null(baseline_points)
    )

    # Mean and moving ranges from the baseline points (the whole segment unless fixed).
    moving_range = (pl.col("value") - pl.col("value").shift(1)).abs()
    frame = frame.with_columns(
        _mean=pl.when(pl.col("_baseline")).then(pl.col("value")).mean().over("_segment"),
        _moving_range=pl.when(pl.col("_baseline") & (pl.col("_position") >= 1)).then(moving_range),
    ).with_columns(_amr=pl.col("_moving_range").mean().over("_segment"))
    if screen_outliers:
        kept = (pl.col("_moving_range") < SCREEN_FACTOR * pl.col("_amr")) | (pl.col("_amr") == 0)
        frame = frame.with_columns(
            _amr=pl.when(kept).then(pl.col("_moving_range")).mean().over("_segment"),
        )

    has_limits = pl.col("_has_limits")
    mean = pl.col("_mean")
    process = PROCESS_LIMIT_FACTOR * pl.col("_amr")
    near = NEAR_LIMIT_FACTOR * pl.col("_amr")
    frame = frame.with_columns(
        mean=pl.when(has_limits).then(mean),
        lower_process_limit=pl.when(has_limits).then(mean - process),
        upper_process_limit=pl.when(has_limits).then(mean + process),
        lower_near_limit=pl.when(has_limits).then(mean - near),
        upper_near_limit=pl.when(has_limits).then(mean + near),
    )

    value = pl.col("value")
    frame = frame.with_columns(
        _outside=pl.when(value > pl.col("upper_process_limit"))
        .then(1)
        .when(value < pl.col("lower_process_limit"))
        .then(-1)
        .otherwise(0),
        _beyond_near=pl.when(value > pl.col("upper_near_limit"))
        .then(1)
        .when(value < pl.col("lower_near_limit"))
        .then(-1)
        .otherwise(0),
        _step=pl.when(pl.col("_position") >= 1)
        .then((value - value.shift(1)).sign())
        .otherwise(0)
        .cast(pl.Int64),
        _mean_side=pl.when(has_limits).then((value - mean).sign()).otherwise(0).cast(pl.Int64),
    )

    # Trend: TREND_POINTS - 1 consecutive strict steps the same way; a point belongs to the
    # trend of the step leading into it, else to the trend its next step starts. A segment's
    # first point has no step, so no trend reaches back into the segment before.
    trend_step = (pl.col("_step") != 0) & (_streak_length("_step") >= TREND_POINTS - 1)
    frame = frame.with_columns(_trend_step=trend_step)
    starts_trend = pl.col("_trend_step").shift(-1).fill_null(False)
    trend = (
        pl.when(pl.col("_trend_step"))
        .then(pl.col("_step"))
        .when(starts_trend)
        .then(pl.col("_step").shift(-1))
        .otherwise(0)
    )

    # 2 of 3: another point beyond the same near limit at most two points away.
    beyond = pl.col("_beyond_near")
    partner = pl.any_horizontal(
        [(beyond.shift(k) == beyond).fill_null(False) & _same_segment(k) for k in (1, 2, -1, -2)]
    )
    two_of_three = pl.when((beyond != 0) & partner).then(beyond).otherwise(0)

    # Run: RUN_POINTS or more consecutive points strictly on one side of the mean.
    side = pl.col("_mean_side")
    run = (
        pl.when((side != 0) & (_streak_length("_mean_side") >= RUN_POINTS)).then(side).otherwise(0)
    )

    frame = frame.with_columns(
        _side=pl.when(has_limits).then(
            _first_nonzero(pl.col("_outside"), trend, two_of_three, run)
        ),
    )

    polarity = pl.col("polarity")
    improvement_side = (
        pl.when(polarity == "higher_is_better").then(1).when(polarity == "lower_is_better").then(-1)
    )
    special = pl.col("_side").fill_null(0) != 0
    high = pl.col("_side") == 1
    frame = frame.with_columns(
        point_type=pl.when(~has_limits)
        .then(pl.lit("too_few_points"))
        .when(~special)
        .then(pl.lit("common_cause"))
        .when(polarity == "neutral")
        .then(
            pl.when(high)
            .then(pl.lit("special_cause_neutral_high"))
            .otherwise(pl.lit("special_cause_neutral_low"))
        )
        .when(pl.col("_side") == improvement_side)
        .then(pl.lit("special_cause_improvement"))
        .otherwise(pl.lit("special_cause_concern")),
    )

    side_name = pl.when(high).then(pl.lit("_high")).otherwise(pl.lit("_low"))
    point_icon = (
        pl.when(pl.col("point_type") == "common_cause")
        .then(pl.lit("common_cause"))
        .when(pl.col("point_type") == "special_cause_improvement")
        .then(pl.lit("improvement") + side_name)
        .when(pl.col("point_type") == "special_cause_concern")
        .then(pl.lit("concern") + side_name)
        .when(pl.col("point_type").str.starts_with("special_cause_neutral"))
        .then(pl.lit("neutral") + side_name)
    )
    target = pl.col("target")
    point_assurance = (
        pl.when(~has_limits | target.is_null() | (polarity == "neutral"))
        .then(pl.lit(None, dtype=pl.String))
        .when(target > pl.col("upper_process_limit"))
        .then(
            pl.when(polarity == "higher_is_better")
            .then(pl.lit("consistent_fail"))
            .otherwise(pl.lit("consistent_pass"))
        )
        .when(target < pl.col("lower_process_limit"))
        .then(
            pl.when(polarity == "higher_is_better")
            .then(pl.lit("consistent_pass"))
            .otherwise(pl.lit("consistent_fail"))
        )
        .otherwise(pl.lit("inconsistent"))
    )
    frame = frame.with_columns(
        is_last_point=pl.int_range(pl.len()).over("_series") == pl.len().over("_series") - 1,
        variation_icon=point_icon.last().over("_series"),
        assurance_icon=point_assurance.last().over("_series"),
    )
    return frame.drop([column for column in frame.columns if column.startswith("_")])


def xmr_chart(
    values: Sequence[float],
    *,
    polarity: str = "neutral",
    target: float | None = None,
    period_starts: Sequence[date] | None = None,
    screen_outliers: bool = True,
    fix_after_n_points: int | None = None,
    rebase_dates: Sequence[date] = (),
) -> pl.DataFrame:
    """One series' XmR chart; `period_starts` default to consecutive months from 2000-01."""
    if period_starts is None:
        period_starts = [date(2000 + i // 12, i % 12 + 1, 1) for i in range(len(values))]
    if len(period_starts) != len(values):
        raise ValueError("values and period_starts differ in length")
    points = pl.DataFrame(
        {
            "period_start": list(period_starts),
            "value": [float(v) for v in values],
            "polarity": [polarity] * len(values),
            "target": [target] * len(values),
        },
        schema={
            "period_start": pl.Date,
            "value": pl.Float64,
            "polarity": pl.String,
            "target": pl.Float64,
        },
    )
    return spc_points(
        points,
        (),
        screen_outliers=screen_outliers,
        fix_after_n_points=fix_after_n_points,
        rebase_dates=rebase_dates,
    )


def spc_frame(
    metric_values: pl.DataFrame,
    catalogue: pl.DataFrame,
    targets: pl.DataFrame,
    screen: bool = True,
    *,
    fix_after_n_points: int | None = None,
    rebase_dates: Sequence[date] = (),
    phases: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The `metric_spc` mart: an XmR chart per monthly series of breakdown `all`.

    Rows of `metric_values` with a null value (not calculated) are left out of the series.
    Polarity comes from `catalogue`; `targets` (metric_id, geography_type, geography_code,
    target) gives the target of a series where one is set; `phases` (the spc_phases seed:
    metric_id, geography_type, geography_code, recalculate_from, baseline_points) the
    months from which a series' limits are recalculated, and its baselines.
    """
    monthly = metric_values.filter(
        (pl.col("period_grain") == "month")
        & (pl.col("breakdown_type") == "all")
        & pl.col("value").is_not_null()
        & pl.col("value").is_not_nan()
    ).select(*SERIES_KEYS, pl.col("period_start").cast(pl.Date), pl.col("value").cast(pl.Float64))
    polarity = catalogue.select("metric_id", "polarity")
    missing = monthly.join(polarity, on="metric_id", how="anti")["metric_id"].unique().to_list()
    if missing:
        raise ValueError(f"metrics missing from the catalogue: {sorted(missing)}")
    series_targets = targets.select(
        "metric_id", "geography_type", "geography_code", pl.col("target").cast(pl.Float64)
    )
    points = monthly.join(polarity, on="metric_id", how="left").join(
        series_targets, on=["metric_id", "geography_type", "geography_code"], how="left"
    )
    charted = spc_points(
        points,
        SERIES_KEYS,
        screen_outliers=screen,
        fix_after_n_points=fix_after_n_points,
        rebase_dates=rebase_dates,
        phases=phases,
    )
    return charted.select(SPC_COLUMNS)
