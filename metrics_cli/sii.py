"""Slope and relative index of inequality (SII, RII) by the PHE method (`phe_sii`).

Quintile 1 is the most deprived. Each quintile's relative rank is the midpoint of its
cumulative population share (0 most deprived, 1 least); the SII is the slope of the
least-squares line of quintile values on rank weighted by population share, and the RII
is (intercept + slope) / intercept. `phe_sii` fits y sqrt(a) on [sqrt(a), b sqrt(a)]
without a constant; that is exactly weighted least squares with weights a, which the
closed form below computes.

95% limits are simulated as `phe_sii` does: each quintile's standard error comes from its
95% limits on the log (rates) or logit (proportions) scale, quintile values are drawn from
normal distributions on that scale and transformed back, the SII and RII are recomputed for
each draw, and the draws at the 2.5% and 97.5% positions are the limits. One matrix of standard
normal draws (`repetitions` x quintiles, from numpy's PCG64 with the given seed) serves
every group, so a group's limits depend only on its own inputs and the seed: reproducible,
and independent of which other groups are computed alongside it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from metrics_cli.marts import INEQUALITY_COLUMNS

FloatArray = npt.NDArray[np.float64]

Z_95 = 1.959963984540054  # qnorm(0.975), as phe_sii
PLAIN, RATE, PROPORTION = 0, 1, 2  # phe_sii's value_type: no transform, log, logit
MIN_REPETITIONS = 1000  # phe_sii's minimum
RII_ZERO_TOLERANCE = 1e-12  # an intercept this small relative to the values is 0
MAX_SIMULATED_CELLS = 2_000_000  # draws held in memory at once (groups x repetitions x quantiles)

VALUE_TYPE_BY_METHOD = {
    "wilson": PROPORTION,
    "byars": RATE,
    "exact_poisson": RATE,
    "dsr_dobson": RATE,
    "t_mean": PLAIN,
    "none": PLAIN,
}
SII_GEOGRAPHIES = ("pcn", "neighbourhood", "place", "icb", "provider", "all")
QUINTILES = (1, 2, 3, 4, 5)

REASON_NO_QUINTILE_1_OR_5 = "quintile 1 or quintile 5 has no value"
REASON_GEOGRAPHY = "SII and RII are produced for PCN and wider geographies only"
REASON_MONTHLY = "SII and RII are not produced for monthly periods"
REASON_QUINTILE_MISSING = "a quintile has no value"
REASON_NO_POPULATION = "a quintile has no registered population"
REASON_NO_LIMITS = "quintile values have no 95% limits, so SII and RII limits are not simulated"
REASON_EDGE_OF_SCALE = (
    "a quintile value or limit is 0 (or 100%), where its log or logit is undefined, "
    "so SII and RII limits are not simulated"
)
REASON_RII_UNDEFINED = "RII undefined: the fitted value at the most deprived end is 0"

_GROUP_KEYS = (
    "metric_id",
    "period_grain",
    "period_start",
    "period_end",
    "period_label",
    "geography_type",
    "geography_code",
)


@dataclass(frozen=True)
class SiiResult:
    """SII and RII with simulated 95% limits, one element per group (NaN: not calculated)."""

    sii: FloatArray
    sii_lower_95: FloatArray
    sii_upper_95: FloatArray
    rii: FloatArray
    rii_lower_95: FloatArray
    rii_upper_95: FloatArray


def relative_ranks(populations: npt.ArrayLike) -> FloatArray:
    """Midpoint of each quantile's cumulative population share, along the last axis."""
    pops = np.asarray(populations, dtype=np.float64)
    share = pops / pops.sum(axis=-1, keepdims=True)
    ranks: FloatArray = np.cumsum(share, axis=-1) - share / 2
    return ranks


def _slope_weights(populations: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weights turning quantile values into the WLS slope, plus shares and mean rank."""
    share = populations / populations.sum(axis=-1, keepdims=True)
    rank = relative_ranks(populations)
    mean_rank = (share * rank).sum(axis=-1, keepdims=True)
    spread = (share * (rank - mean_rank) ** 2).sum(axis=-1, keepdims=True)
    return share * (rank - mean_rank) / spread, share, mean_rank


def sii_point(values: npt.ArrayLike, populations: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """SII and RII of each group (rows: groups, columns: quantiles, most deprived first).

    The RII is NaN where the intercept is 0 to double precision (relative to the values).
    """
    vals = np.asarray(values, dtype=np.float64)
    pops = np.asarray(populations, dtype=np.float64)
    weights, share, mean_rank = _slope_weights(pops)
    slope = (weights * vals).sum(axis=-1)
    intercept = (share * vals).sum(axis=-1) - slope * mean_rank[..., 0]
    is_zero = np.abs(intercept) <= RII_ZERO_TOLERANCE * (share * np.abs(vals)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rii = (intercept + slope) / intercept
    return slope, np.where(np.isfinite(rii) & ~is_zero, rii, np.nan)


def _transform(values: FloatArray, value_type: int) -> FloatArray:
    """phe_sii's scale for the standard error: log for rates, logit for proportions."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if value_type == RATE:
            return np.log(values)
        if value_type == PROPORTION:
            return np.log(values / (1 - values))
    return values


def percentile_positions(repetitions: int) -> tuple[int, int]:
    """0-based positions of the 2.5% and 97.5% ordered draws, as phe_sii rounds them."""
    return round(repetitions * 0.025) - 1, round(repetitions * 0.975) - 1


def standard_normal_draws(repetitions: int, quantiles: int, seed: int) -> FloatArray:
    """The shared draws: `repetitions` x `quantiles` standard normals from PCG64(seed)."""
    generator = np.random.Generator(np.random.PCG64(seed))
    return generator.standard_normal((repetitions, quantiles))


def _simulated_limits(
    centre: FloatArray,
    se: FloatArray,
    populations: FloatArray,
    draws: FloatArray,
    value_type: int,
    repetitions: int,
) -> FloatArray:
    """SII and RII limits (4 x groups) of a batch; `draws` is quantiles x repetitions."""
    weights, share, mean_rank = _slope_weights(populations)
    if value_type == PLAIN:
        # Linear in the draws: the same sums as two small products (einsum, not BLAS,
        # whose own threads fight the batch threads).
        slopes = (weights * centre).sum(axis=1)[:, None] + np.einsum(
            "gq,qr->gr", weights * se, draws
        )
        levels = (share * centre).sum(axis=1)[:, None] + np.einsum("gq,qr->gr", share * se, draws)
    else:
        simulated = se[:, :, None] * draws[None, :, :]  # groups x quantiles x repetitions
        simulated += centre[:, :, None]
        if value_type == RATE:
            np.exp(simulated, out=simulated)
        else:
            np.negative(simulated, out=simulated)
            np.exp(simulated, out=simulated)
            simulated += 1
            np.reciprocal(simulated, out=simulated)
        slopes = np.zeros((centre.shape[0], repetitions))
        levels = np.zeros((centre.shape[0], repetitions))
        for q in range(centre.shape[1]):
            slopes += simulated[:, q, :] * weights[:, q, None]
            levels += simulated[:, q, :] * share[:, q, None]
    intercepts = levels - slopes * mean_rank
    with np.errstate(divide="ignore", invalid="ignore"):
        riis = (intercepts + slopes) / intercepts
    low, high = percentile_positions(repetitions)
    slope_ends = np.partition(slopes, (low, high), axis=1)
    rii_ends = np.partition(riis, (low, high), axis=1)
    return np.stack([slope_ends[:, low], slope_ends[:, high], rii_ends[:, low], rii_ends[:, high]])


def slope_index(
    values: npt.ArrayLike,
    lower_95: npt.ArrayLike,
    upper_95: npt.ArrayLike,
    populations: npt.ArrayLike,
    value_types: int | npt.ArrayLike = PLAIN,
    *,
    multipliers: float | npt.ArrayLike = 1.0,
    repetitions: int = 10_000,
    seed: int = 20220526,
    workers: int | None = None,
) -> SiiResult:
    """SII and RII of many groups with simulated 95% limits.

    Arrays are groups x quantiles (most deprived first); proportions on the 0-1 scale.
    `value_types` (per group or one for all): 0 plain, 1 rate, 2 proportion. `multipliers`
    scale the SII and its limits (100 turns a proportion's SII into percentage points).
    Groups whose limits are missing, or whose value or limits have no log/logit, get the
    point estimates with NaN limits. `workers` threads simulate (default: up to 4 cores).
    """
    if repetitions < MIN_REPETITIONS:
        raise ValueError(f"repetitions must be at least {MIN_REPETITIONS}")
    vals = np.atleast_2d(np.asarray(values, dtype=np.float64))
    lower = np.atleast_2d(np.asarray(lower_95, dtype=np.float64))
    upper = np.atleast_2d(np.asarray(upper_95, dtype=np.float64))
    pops = np.atleast_2d(np.asarray(populations, dtype=np.float64))
    groups, quantiles = vals.shape
    if not lower.shape == upper.shape == pops.shape == vals.shape:
        raise ValueError("values, limits and populations must have the same shape")
    types = np.broadcast_to(np.asarray(value_types, dtype=np.int64), (groups,))
    scale = np.broadcast_to(np.asarray(multipliers, dtype=np.float64), (groups,))
    if not set(np.unique(types).tolist()) <= {PLAIN, RATE, PROPORTION}:
        raise ValueError("value types must be 0 (plain), 1 (rate) or 2 (proportion)")
    if np.any(scale <= 0):
        raise ValueError("multipliers must be positive")
    if np.any(~(pops > 0)):
        raise ValueError("every quantile needs a positive population")

    sii, rii = sii_point(vals, pops)
    bounds = np.full((4, groups), np.nan)
    draws = np.ascontiguousarray(standard_normal_draws(repetitions, quantiles, seed).T)
    batch = max(1, MAX_SIMULATED_CELLS // (repetitions * quantiles))

    def simulate(value_type: int, rows: npt.NDArray[np.int64]) -> None:
        centre = _transform(vals[rows], value_type)
        with np.errstate(invalid="ignore"):
            se = (
                (_transform(upper[rows], value_type) - _transform(lower[rows], value_type))
                / Z_95
                / 2
            )
        usable = np.isfinite(centre).all(axis=1) & np.isfinite(se).all(axis=1)
        bounds[:, rows[usable]] = _simulated_limits(
            centre[usable], se[usable], pops[rows[usable]], draws, value_type, repetitions
        )

    # Batches bound the memory and write disjoint columns of `bounds`: safe in threads
    # (numpy releases the GIL), and the result does not depend on the batching.
    jobs = [
        (value_type, rows[start : start + batch])
        for value_type in np.unique(types).tolist()
        for rows in [np.flatnonzero(types == value_type)]
        for start in range(0, rows.size, batch)
    ]
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        for _ in pool.map(lambda job: simulate(*job), jobs):
            pass
    bounds[2:, np.isnan(rii)] = np.nan  # no RII, no RII limits
    return SiiResult(
        sii=sii * scale,
        sii_lower_95=bounds[0] * scale,
        sii_upper_95=bounds[1] * scale,
        rii=rii,
        rii_lower_95=bounds[2],
        rii_upper_95=bounds[3],
    )


def _by_breakdown(column: str, breakdown_value: str, alias: str) -> pl.Expr:
    return pl.col(column).filter(pl.col("breakdown_value") == breakdown_value).first().alias(alias)


def _quintile_populations_per_period(
    groups: pl.DataFrame, quintile_populations: pl.DataFrame
) -> pl.DataFrame:
    """Patients per quintile for each group's period and geography, quintiles as columns.

    The period's own row of `int_quintile_populations` where it has one (month, financial
    year, rolling 12 months); otherwise (survey waves) the mean of the monthly rows within
    the period, which is the same denominator rule.
    """
    populations = quintile_populations.select(
        "period_grain",
        pl.col("period_start").cast(pl.Date),
        pl.col("period_end").cast(pl.Date),
        "geography_type",
        "geography_code",
        pl.col("imd_quintile").cast(pl.Int64),
        pl.col("patients").cast(pl.Float64),
    )
    places = ["period_grain", "period_start", "geography_type", "geography_code"]
    periods = groups.select(
        "period_grain", "period_start", "period_end", "geography_type", "geography_code"
    ).unique()
    exact = periods.join(populations.drop("period_end"), on=places, how="inner")
    monthly = populations.filter(pl.col("period_grain") == "month").select(
        "geography_type",
        "geography_code",
        "imd_quintile",
        "patients",
        month=pl.col("period_start"),
    )
    unmatched = periods.join(exact.select(places).unique(), on=places, how="anti")
    averaged = (
        unmatched.join(monthly, on=["geography_type", "geography_code"], how="inner")
        .filter(pl.col("month").is_between(pl.col("period_start"), pl.col("period_end")))
        .group_by([*places, "period_end", "imd_quintile"])
        .agg(pl.col("patients").mean())
    )
    combined = pl.concat([exact.select(averaged.columns), averaged], how="vertical")
    return combined.group_by(places).agg(
        [
            pl.col("patients").filter(pl.col("imd_quintile") == q).sum().alias(f"_pop_{q}")
            for q in QUINTILES
        ]
    )


def inequality_frame(
    metric_values: pl.DataFrame,
    catalogue: pl.DataFrame,
    quintile_populations: pl.DataFrame,
    *,
    repetitions: int = 10_000,
    seed: int = 20220526,
) -> pl.DataFrame:
    """The `inequality_gaps` mart: one row per metric, period and geography with quintile rows.

    Gaps need quintiles 1 and 5; SII and RII also need every quintile's value and population,
    a PCN or wider geography and a non-monthly period. What is missing is null, and
    `not_calculated_reason` says why (the first reason that applies).
    """
    keys = list(_GROUP_KEYS)
    rows = metric_values.filter(
        pl.col("breakdown_type").is_in(["imd_quintile", "core20"])
    ).with_columns(
        pl.col("period_start").cast(pl.Date),
        pl.col("period_end").cast(pl.Date),
        pl.col("breakdown_value").cast(pl.String),
        pl.col("value", "lower_95", "upper_95").cast(pl.Float64),
    )
    with_quintiles = rows.filter(pl.col("breakdown_type") == "imd_quintile").select(keys).unique()
    quintile_rows = rows.filter(pl.col("breakdown_type") == "imd_quintile")
    core20_rows = rows.filter(pl.col("breakdown_type") == "core20")
    quintiles = quintile_rows.group_by(keys).agg(
        [
            _by_breakdown(column, str(q), f"_{column}_{q}")
            for q in QUINTILES
            for column in ("value", "lower_95", "upper_95")
        ]
    )
    core20 = core20_rows.group_by(keys).agg(
        _by_breakdown("value", "core20", "core20_value"),
        _by_breakdown("value", "rest", "rest_value"),
    )
    methods = catalogue.select(
        "metric_id",
        pl.col("method").replace_strict(VALUE_TYPE_BY_METHOD, return_dtype=pl.Int64).alias("_type"),
        pl.col("multiplier").cast(pl.Float64).alias("_multiplier"),
    )
    missing = with_quintiles.join(methods, on="metric_id", how="anti")["metric_id"].unique()
    if missing.len():
        raise ValueError(f"metrics missing from the catalogue: {sorted(missing.to_list())}")
    populations = _quintile_populations_per_period(with_quintiles, quintile_populations)
    places = ["period_grain", "period_start", "geography_type", "geography_code"]
    frame = (
        with_quintiles.join(quintiles, on=keys, how="left")
        .join(core20, on=keys, how="left")
        .join(methods, on="metric_id", how="left")
        .join(populations, on=places, how="left")
        .sort(keys)
    )

    values = [pl.col(f"_value_{q}") for q in QUINTILES]
    has_ends = values[0].is_not_null() & values[-1].is_not_null()
    frame = frame.with_columns(
        quintile_1_value=values[0],
        quintile_5_value=values[-1],
        gap_absolute=pl.when(has_ends).then(values[0] - values[-1]),
        gap_relative=pl.when(has_ends & (values[-1] != 0)).then(values[0] / values[-1]),
        core20_gap=pl.col("core20_value") - pl.col("rest_value"),
        _reason=pl.when(~has_ends)
        .then(pl.lit(REASON_NO_QUINTILE_1_OR_5))
        .when(~pl.col("geography_type").is_in(list(SII_GEOGRAPHIES)))
        .then(pl.lit(REASON_GEOGRAPHY))
        .when(pl.col("period_grain") == "month")
        .then(pl.lit(REASON_MONTHLY))
        .when(pl.any_horizontal([v.is_null() | v.is_nan() for v in values]))
        .then(pl.lit(REASON_QUINTILE_MISSING))
        .when(pl.any_horizontal([~(pl.col(f"_pop_{q}").fill_null(0) > 0) for q in QUINTILES]))
        .then(pl.lit(REASON_NO_POPULATION)),
    )

    eligible = frame.with_row_index("_row").filter(pl.col("_reason").is_null())
    result_columns = ("sii", "sii_lower_95", "sii_upper_95", "rii", "rii_lower_95", "rii_upper_95")
    results = {name: np.full(frame.height, np.nan) for name in result_columns}
    if eligible.height:
        scale = np.where(
            eligible["_type"].to_numpy() == PROPORTION, eligible["_multiplier"].to_numpy(), 1.0
        )[:, None]

        def matrix(prefix: str) -> FloatArray:
            columns = [f"{prefix}_{q}" for q in QUINTILES]
            filled = eligible.select(pl.col(columns).cast(pl.Float64).fill_null(np.nan))
            return filled.to_numpy().astype(np.float64)

        computed = slope_index(
            matrix("_value") / scale,
            matrix("_lower_95") / scale,
            matrix("_upper_95") / scale,
            matrix("_pop"),
            eligible["_type"].to_numpy(),
            multipliers=scale[:, 0],
            repetitions=repetitions,
            seed=seed,
        )
        row_index = eligible["_row"].to_numpy()
        for name in result_columns:
            results[name][row_index] = getattr(computed, name)
    frame = frame.with_columns(
        [
            pl.Series(name, values_, dtype=pl.Float64).fill_nan(None)
            for name, values_ in results.items()
        ]
    )

    limits = [pl.col(f"_{side}_95_{q}") for side in ("lower", "upper") for q in QUINTILES]
    frame = frame.with_columns(
        not_calculated_reason=pl.when(pl.col("_reason").is_not_null())
        .then(pl.col("_reason"))
        .when(pl.col("sii_lower_95").is_null() & pl.any_horizontal([c.is_null() for c in limits]))
        .then(pl.lit(REASON_NO_LIMITS))
        .when(pl.col("sii_lower_95").is_null())
        .then(pl.lit(REASON_EDGE_OF_SCALE))
        .when(pl.col("rii").is_null())
        .then(pl.lit(REASON_RII_UNDEFINED)),
    )
    return frame.select(INEQUALITY_COLUMNS)
