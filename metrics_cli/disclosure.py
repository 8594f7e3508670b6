"""Disclosure control: the one implementation of the rules in metrics.md ("Disclosure control").

`disclosure_decisions` decides, once per build (the dbt model `int_disclosure_decisions`),
which `metric_values` rows are withheld and why: small counts (primary) and the cells that
protect them from being worked out (secondary, metrics_cli/secondary.py). The disclosed
marts read that decision; `protect_inequality_gaps` and `protect_spc` carry it to the marts
derived from `metric_values` (the dbt models `disclosed_inequality_gaps` and
`disclosed_metric_spc`). Nothing outside the build calls these: reports, publication and
returns read the disclosed marts. docs/disclosure-control.md explains the rules and choices.

Withheld figures are null; `is_suppressed` says a row was withheld and `suppression_rule`
why (`small_count`, `small_base` or `secondary`). The rule stays inside the warehouse:
which cells are small is itself disclosive (a small year whose six months are each "fewer
than 8" must be 6 or 7), so published files and reports say only that a figure is withheld,
and explain both possible reasons together (`withheld_reasons`).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import polars as pl

from metrics_cli.secondary import COUNT_COLUMNS as COUNT_COLUMNS  # one list, re-exported
from metrics_cli.secondary import (
    HEADLINE_COST,
    LEVEL_COST,
    secondary_suppression,
)

DEFAULT_THRESHOLD = 7
DEFAULT_ROUNDING = 5
MIN_BASE = 10
"""Continuity means from fewer than 10 patients and PREM results from fewer than 10
respondents are suppressed (metrics.md); unlike the threshold this is not a var."""

DERIVED_COLUMNS = (
    "value",
    "lower_95",
    "upper_95",
    "lower_998",
    "upper_998",
    "comparison_to_parent",
)
HIDDEN_COLUMNS = COUNT_COLUMNS + DERIVED_COLUMNS
"""The columns of a `metric_values` row that suppression hides."""

CELL_KEY = (
    "metric_id",
    "period_grain",
    "period_start",
    "geography_type",
    "geography_code",
    "breakdown_type",
    "breakdown_value",
)
DECISION_COLUMNS = (*CELL_KEY, "period_end", *COUNT_COLUMNS)
"""The columns of metric_values that `disclosure_decisions` reads."""
GEOGRAPHY_COLUMNS = {
    "period_end": pl.Date,
    "practice_code": pl.Utf8,
    "geography_type": pl.Utf8,
    "geography_code": pl.Utf8,
}
"""The columns of `int_practice_geographies` that disclosure control reads."""


PERSON_OR_EVENT_DATASETS = frozenset(
    {
        "gp_appointments",
        "gp_encounters",
        "hospital_activity",
        "community_activity",
        "patients",
        "prem_responses",
    }
)

SMALL_COUNT = "small_count"
SMALL_BASE = "small_base"
SECONDARY = "secondary"


class MetricKind(StrEnum):
    """What a metric's count columns hold, which decides what is tested and rounded."""

    COUNTS = "counts"
    MEAN = "mean"
    WEIGHTED_SURVEY = "weighted_survey"
    NO_COUNTS = "no_counts"


KIND_COUNT_COLUMNS: dict[MetricKind, tuple[str, ...]] = {
    MetricKind.COUNTS: COUNT_COLUMNS,
    MetricKind.MEAN: ("denominator", "unweighted_count"),
    MetricKind.WEIGHTED_SURVEY: COUNT_COLUMNS,
    MetricKind.NO_COUNTS: (),
}
"""Columns that count people or events (weighted survey sums count weighted respondents);
a mean's numerator is a sum of per-patient indices, and money and FTE count no one."""

SMALL_BASE_KINDS = (MetricKind.MEAN, MetricKind.WEIGHTED_SURVEY)


def metric_kind(method: str, source_datasets: str) -> MetricKind:
    """The kind of a catalogue metric, from its method and `|`-separated source datasets."""
    sources = set(source_datasets.split("|"))
    if not sources & PERSON_OR_EVENT_DATASETS:
        return MetricKind.NO_COUNTS
    if method == "t_mean":
        return MetricKind.MEAN
    if "prem_responses" in sources:
        return MetricKind.WEIGHTED_SURVEY
    return MetricKind.COUNTS


def metric_kinds(catalogue: pl.DataFrame) -> pl.DataFrame:
    """`metric_id` and `kind` for every metric of the catalogue."""
    kinds = [
        str(metric_kind(method, sources))
        for method, sources in zip(
            catalogue["method"].to_list(), catalogue["source_datasets"].to_list(), strict=True
        )
    ]
    return pl.DataFrame(
        {"metric_id": catalogue["metric_id"], "kind": pl.Series(kinds, dtype=pl.Utf8)}
    )


def shares(catalogue: pl.DataFrame) -> pl.DataFrame:
    """`metric_id`, `_share`: whether the metric is a percentage of its denominator, so
    that its numerator is never more than its denominator, and `_standardised`: whether its
    published value is standardised over age bands (`dsr_dobson`), so that it is not a
    function of the published counts alone."""
    return catalogue.select(
        "metric_id",
        (pl.col("unit") == "%").fill_null(False).alias("_share"),
        (pl.col("method") == "dsr_dobson").fill_null(False).alias("_standardised"),
    ).unique("metric_id", keep="first")


def is_small(column: str, threshold: int) -> pl.Expr:
    """A count from 1 to `threshold`: above zero and rounding to no more than the threshold
    (so a mean population of 7.4 is small and one of 7.5 is not)."""
    return (pl.col(column) > 0) & (pl.col(column) < threshold + 0.5)


def round_to_base(column: str, base: int) -> pl.Expr:
    """Round half up to the nearest multiple of `base` (as a float)."""
    return (pl.col(column).cast(pl.Float64) / base + 0.5).floor() * base


def _primary_rule(threshold: int) -> pl.Expr:
    """`small_base` for a mean or survey result from fewer than 10 patients or respondents,
    whatever its other counts (so the reason says only "fewer than 10"); else `small_count`
    for any count from 1 to the threshold."""
    small_count = pl.lit(False)
    for column in COUNT_COLUMNS:
        kinds = [str(kind) for kind, columns in KIND_COUNT_COLUMNS.items() if column in columns]
        small_count = small_count | (pl.col("_kind").is_in(kinds) & is_small(column, threshold))
    base = pl.coalesce("unweighted_count", "denominator")
    small_base = pl.col("_kind").is_in([str(kind) for kind in SMALL_BASE_KINDS]) & (
        (base > 0) & (base < MIN_BASE)
    )
    return (
        pl.when(small_base.fill_null(False))
        .then(pl.lit(SMALL_BASE))
        .when(small_count.fill_null(False))
        .then(pl.lit(SMALL_COUNT))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )


def disclosure_decisions(
    metric_values: pl.DataFrame,
    catalogue: pl.DataFrame,
    geographies: pl.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    rounding: int = 1,
) -> pl.DataFrame:
    """Which rows of `metric_values` are withheld, and why.

    `catalogue` needs metric_id, method, source_datasets and unit; `geographies` is
    `int_practice_geographies` (period_end, practice_code, geography_type, geography_code),
    which says which geographies add up to which. `rounding` is the base the shown counts
    are published rounded to (the var `disclosure_rounding`): secondary suppression may
    rely on what it hides. The default, 1, assumes every shown count is published exactly,
    which protects any publication. Returns CELL_KEY, `is_suppressed` and
    `suppression_rule`, one row per input row, sorted by CELL_KEY.
    """
    if threshold < 0:
        raise ValueError("the disclosure threshold cannot be negative")
    kinds = metric_kinds(catalogue).unique("metric_id", keep="first").rename({"kind": "_kind"})
    counted = pl.DataFrame(
        {
            "_kind": [str(kind) for kind in KIND_COUNT_COLUMNS],
            "_counted": [list(columns) for columns in KIND_COUNT_COLUMNS.values()],
        },
        schema={"_kind": pl.Utf8, "_counted": pl.List(pl.Utf8)},
    )
    level_cost = pl.col("geography_type").replace_strict(
        LEVEL_COST, default=max(LEVEL_COST.values()), return_dtype=pl.Float64
    )
    size = pl.coalesce(
        pl.col("unweighted_count").cast(pl.Float64),
        pl.col("denominator").cast(pl.Float64),
        pl.col("numerator").cast(pl.Float64),
        pl.lit(0.0),
    ).abs()
    headline = pl.when(pl.col("breakdown_type") == "all").then(HEADLINE_COST).otherwise(1.0)
    frame = (
        in_key_order(metric_values.select(DECISION_COLUMNS), CELL_KEY)
        .with_row_index("_row")
        .join(kinds, on="metric_id", how="left")
        .with_columns(pl.col("_kind").fill_null(str(MetricKind.COUNTS)))
        .join(counted, on="_kind", how="left")
        .join(shares(catalogue), on="metric_id", how="left")
        .with_columns(pl.col("_share", "_standardised").fill_null(False))
        .sort("_row")
        .with_columns(
            _primary_rule(threshold).alias("_rule"),
            (level_cost * (1.0 + size) * headline).alias("_cost"),
        )
    )
    hierarchy = geographies.select(
        pl.col(name).cast(dtype) for name, dtype in GEOGRAPHY_COLUMNS.items()
    )
    secondary = secondary_suppression(frame, hierarchy, threshold, MIN_BASE, rounding)
    rule = (
        pl.when(pl.col("_rule").is_not_null())
        .then(pl.col("_rule"))
        .when(pl.Series(secondary))
        .then(pl.lit(SECONDARY))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )
    return frame.select(
        *CELL_KEY,
        rule.is_not_null().alias("is_suppressed"),
        rule.alias("suppression_rule"),
    )


def key_order_sql(key: Sequence[str], table: str | None = None) -> str:
    """An SQL `order by` list (without the words) putting rows in the order `in_key_order`
    keeps: each part of `key` ascending, nulls first, as polars sorts; `table` qualifies the
    columns. The names are not quoted: DuckDB and Spark read them alike (Spark takes a
    double-quoted name for text)."""
    prefix = f"{table}." if table else ""
    return ", ".join(f"{prefix}{column} asc nulls first" for column in key)


def in_key_order(frame: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    """`frame` sorted by `key` as `DataFrame.sort` sorts (ascending, nulls first), each key
    held once. Rows already in that order, as the build reads them (the database sorts them
    faster: 10.6 million rows nationally took polars about 20 s), are checked, not sorted
    again: each row's key must be greater than the row before's, column by column. A null
    key part or a repeated key cannot be checked so, and the rows are sorted."""
    columns = list(key)
    if frame.height < 2:
        return frame
    if any(frame[c].null_count() for c in columns):
        return frame.sort(columns)
    greater = pl.lit(False)
    for column in reversed(columns):
        value, before = pl.col(column), pl.col(column).shift(1)
        greater = (value > before) | ((value == before) & greater)
    if frame.select(greater.slice(1).fill_null(False).all()).item():
        return frame
    return frame.sort(columns)


def _suppressed_columns(flags: dict[str, pl.Expr]) -> pl.Expr:
    """`|`-joined names of the columns hidden in a row (null when none)."""
    parts = [pl.when(flag).then(pl.lit(name)) for name, flag in flags.items()]
    joined = pl.concat_str(parts, separator="|", ignore_nulls=True)
    return pl.when(joined == "").then(None).otherwise(joined)


def protect_inequality_gaps(gaps: pl.DataFrame, protected_values: pl.DataFrame) -> pl.DataFrame:
    """Hide what `inequality_gaps` derives from suppressed `metric_values` cells.

    Quintile 1 or 5 suppressed: its value and both gaps; Core20 or rest suppressed: its
    value and the Core20 gap; any quintile suppressed: the SII and RII with their limits
    (the regression could be solved back for the missing quintile). Adds `is_suppressed`
    and `suppressed_columns`.
    """
    keys = ["metric_id", "period_grain", "period_label", "geography_type", "geography_code"]
    wanted = {
        ("imd_quintile", "1"): "q1",
        ("imd_quintile", "5"): "q5",
        ("core20", "core20"): "core20",
        ("core20", "rest"): "rest",
    }
    cells = protected_values.filter(pl.col("breakdown_type").is_in(["imd_quintile", "core20"]))
    flags = cells.group_by(keys).agg(
        *[
            (
                (pl.col("breakdown_type") == breakdown_type)
                & (pl.col("breakdown_value") == breakdown_value)
                & pl.col("is_suppressed")
            )
            .any()
            .alias(f"_{name}")
            for (breakdown_type, breakdown_value), name in wanted.items()
        ],
        ((pl.col("breakdown_type") == "imd_quintile") & pl.col("is_suppressed"))
        .any()
        .alias("_any_quintile"),
    )
    joined = gaps.join(flags, on=keys, how="left").with_columns(
        pl.col(f"_{name}").fill_null(False) for name in [*wanted.values(), "any_quintile"]
    )
    q1, q5 = pl.col("_q1"), pl.col("_q5")
    core20, rest = pl.col("_core20"), pl.col("_rest")
    any_quintile = pl.col("_any_quintile")
    rules = {
        "quintile_1_value": q1,
        "quintile_5_value": q5,
        "gap_absolute": q1 | q5,
        "gap_relative": q1 | q5,
        "core20_value": core20,
        "rest_value": rest,
        "core20_gap": core20 | rest,
        "sii": any_quintile,
        "sii_lower_95": any_quintile,
        "sii_upper_95": any_quintile,
        "rii": any_quintile,
        "rii_lower_95": any_quintile,
        "rii_upper_95": any_quintile,
    }
    rules = {column: rule for column, rule in rules.items() if column in gaps.columns}
    hidden = _suppressed_columns(rules)
    result = joined.with_columns(hidden.alias("suppressed_columns")).with_columns(
        *[pl.when(rule).then(None).otherwise(pl.col(c)).alias(c) for c, rule in rules.items()],
        pl.col("suppressed_columns").is_not_null().alias("is_suppressed"),
    )
    return result.select(*gaps.columns, "is_suppressed", "suppressed_columns")


SPC_POINT_COLUMNS = ("value", "point_type")
SPC_SERIES_COLUMNS = (
    "mean",
    "lower_process_limit",
    "upper_process_limit",
    "lower_near_limit",
    "upper_near_limit",
    "assurance_icon",
)


def protect_spc(spc: pl.DataFrame, protected_values: pl.DataFrame) -> pl.DataFrame:
    """Hide what `metric_spc` derives from suppressed monthly `metric_values` cells.

    A suppressed point loses its value and point type; every point of a series with any
    suppressed point loses the mean, the limits and the assurance icon, from which the
    missing value could be solved back; and when the last point is suppressed, every point
    loses the variation icon (it is the last point's type). Adds `is_suppressed` and
    `suppressed_columns`.
    """
    series = ["metric_id", "geography_type", "geography_code", "breakdown_type", "breakdown_value"]
    monthly = protected_values.filter(pl.col("period_grain") == "month").select(
        *series, "period_start", pl.col("is_suppressed").alias("_point")
    )
    joined = (
        spc.join(monthly, on=[*series, "period_start"], how="left")
        .with_columns(pl.col("_point").fill_null(False))
        .with_columns(
            pl.col("_point").any().over(series).alias("_series"),
            (pl.col("_point") & pl.col("is_last_point")).any().over(series).alias("_last"),
        )
    )
    point, in_series = pl.col("_point"), pl.col("_series")
    rules: dict[str, pl.Expr] = {column: point for column in SPC_POINT_COLUMNS}
    rules.update({column: in_series for column in SPC_SERIES_COLUMNS})
    rules["variation_icon"] = pl.col("_last")
    ordered = {c: rules[c] for c in spc.columns if c in rules}
    result = joined.with_columns(_suppressed_columns(ordered).alias("suppressed_columns"))
    result = result.with_columns(
        *[pl.when(rule).then(None).otherwise(pl.col(c)).alias(c) for c, rule in ordered.items()],
        pl.col("suppressed_columns").is_not_null().alias("is_suppressed"),
    )
    return result.select(*spc.columns, "is_suppressed", "suppressed_columns")


def withheld_reasons(threshold: int) -> tuple[str, str]:
    """The two reasons a figure may be withheld, as clauses for a board or a reader of the
    published files ("... either that <first>, or that <second>"): a small count (fewer than
    the threshold plus one; fewer than 10 patients or respondents behind a mean or survey
    result) or the protection of a small count elsewhere. Which of the two withheld a given
    figure is never published or printed."""
    return (
        f"one of the counts behind it is fewer than {threshold + 1} people or events (for an "
        f"average or a survey result, fewer than {MIN_BASE} patients or respondents)",
        "it is withheld so that a small number elsewhere cannot be worked out by subtraction",
    )


def settings_from_build_vars(vars_json: str | None) -> tuple[int, int]:
    """The threshold and rounding a warehouse was built with: the vars recorded in
    raw.build_info, else the defaults (the same as dbt_project.yml's, which a test holds
    them to). The one reading of these vars, for publish and reports alike."""
    import json

    from metrics_cli.errors import DataError

    given = json.loads(vars_json or "{}")
    values = []
    for name, default in (
        ("disclosure_threshold", DEFAULT_THRESHOLD),
        ("disclosure_rounding", DEFAULT_ROUNDING),
    ):
        raw = given.get(name, default)
        try:
            values.append(int(raw))
        except (TypeError, ValueError) as error:
            raise DataError(f"var {name} must be a whole number, not {raw!r}") from error
    return values[0], values[1]
