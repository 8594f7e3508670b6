"""metric_spc and inequality_gaps built by dbt on the tiny synthetic ICB recover the
planted effects: the same-day hub is special cause, the continuity gap is real; their
disclosed copies chart and compare the published values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.disclosure import protect_spc
from metrics_cli.marts import INEQUALITY_COLUMNS, SPC_COLUMNS
from metrics_cli.python_stage import with_withheld_months
from metrics_cli.spc import SERIES_KEYS, spc_frame

pytestmark = pytest.mark.slow


def _rows(warehouse: Path, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def test_same_day_hub_is_special_cause_improvement(tiny_warehouse: Path) -> None:
    points = _rows(
        tiny_warehouse,
        "select period_start, point_type, value, mean from metric_spc "
        "where metric_id = 'same_day_share' and geography_type = 'neighbourhood' "
        "and breakdown_type = 'all' order by period_start",
    )
    assert len(points) == 24
    after_hub = [point_type for _, point_type, _, _ in points[12:]]
    assert after_hub.count("special_cause_improvement") >= 7
    before_hub = [point_type for _, point_type, _, _ in points[:12]]
    assert "special_cause_improvement" not in before_hub


def test_continuity_gap_has_sii_limits_excluding_zero(tiny_warehouse: Path) -> None:
    rows = _rows(
        tiny_warehouse,
        "select sii, sii_lower_95, sii_upper_95, gap_absolute from inequality_gaps "
        "where metric_id = 'continuity_upc' and geography_type = 'all' "
        "and period_grain = 'financial_year' and sii is not null",
    )
    assert rows
    for sii, lower, upper, gap in rows:
        # the least deprived have higher continuity: positive SII, negative q1 - q5 gap
        assert sii > 0
        assert 0 < lower < sii < upper
        assert gap < 0


def test_sii_only_for_pcn_and_wider_and_non_monthly(tiny_warehouse: Path) -> None:
    bad = _rows(
        tiny_warehouse,
        "select count(*) from inequality_gaps where sii is not null "
        "and (geography_type = 'practice' or period_grain = 'month')",
    )
    assert bad == [(0,)]


# ---------------------------------------------------------------- the disclosed marts



def _frame(warehouse: Path, query: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame: pl.DataFrame = con.sql(query).pl()
    return frame


def test_disclosed_spc_charts_the_published_values(tiny_warehouse: Path) -> None:
    """One row per shown or withheld month of every monthly `all` series, with the published
    value; the columns of metric_spc plus the suppression flags."""
    spc = _frame(tiny_warehouse, "select * from disclosed_metric_spc")
    assert tuple(spc.columns) == (*SPC_COLUMNS, "is_suppressed", "suppressed_columns")
    monthly = _frame(
        tiny_warehouse,
        "select * from disclosed_metric_values where period_grain = 'month' "
        "and breakdown_type = 'all' and (is_suppressed or value is not null)",
    )
    keys = [*SERIES_KEYS, "period_start"]
    joined = spc.join(monthly, on=keys, how="full", suffix="_published", coalesce=True)
    assert joined.height == spc.height == monthly.height
    shown = joined.filter(~pl.col("is_suppressed_published"))
    assert (shown["value"] == shown["value_published"]).all()
    assert spc.filter(pl.col("is_last_point")).height == spc.select(SERIES_KEYS).n_unique()


def test_withheld_months_stay_in_the_series_without_a_value() -> None:
    """A series of 14 months whose 5th and last months are withheld: the chart is drawn on
    the 12 shown months, the withheld ones come back as rows that protect_spc then hides
    with the series' mean, limits and variation icon."""
    months = [date(2024 + (m // 12), m % 12 + 1, 1) for m in range(3, 17)]
    withheld = {months[4], months[-1]}
    values = [50.0 + (i % 3) for i in range(len(months))]
    monthly = pl.DataFrame(
        {
            "metric_id": "same_day_share",
            "geography_type": "practice",
            "geography_code": "P1",
            "breakdown_type": "all",
            "breakdown_value": "all",
            "period_grain": "month",
            "period_start": months,
            "value": [None if m in withheld else v for m, v in zip(months, values, strict=True)],
            "is_suppressed": [m in withheld for m in months],
        }
    )
    catalogue = pl.DataFrame({"metric_id": ["same_day_share"], "polarity": ["higher_is_better"]})
    targets = pl.DataFrame(
        {
            "metric_id": ["same_day_share"],
            "geography_type": ["practice"],
            "geography_code": ["P1"],
            "target": [45.0],
        }
    )
    shown = monthly.filter(~pl.col("is_suppressed"))
    charted = spc_frame(shown, catalogue, targets, True).select(SPC_COLUMNS)
    assert charted.height == 12 and charted["mean"].null_count() == 0
    points = with_withheld_months(charted, monthly, targets)
    assert points.height == 14
    assert points.filter(pl.col("is_last_point"))["period_start"].to_list() == [months[-1]]
    protected = protect_spc(points, monthly)
    added = protected.filter(pl.col("period_start").is_in(list(withheld)))
    assert added["value"].null_count() == 2 and added["point_type"].null_count() == 2
    assert added["is_suppressed"].all() and added["target"].to_list() == [45.0, 45.0]
    assert protected["mean"].null_count() == 14
    assert protected["variation_icon"].null_count() == 14


def test_disclosed_gaps_use_the_published_quintiles(tiny_warehouse: Path) -> None:
    """Quintile 1 and 5 values are the published ones; a withheld quintile hides the SII."""
    gaps = _frame(tiny_warehouse, "select * from disclosed_inequality_gaps")
    assert tuple(gaps.columns) == (*INEQUALITY_COLUMNS, "is_suppressed", "suppressed_columns")
    quintiles = _frame(
        tiny_warehouse,
        "select metric_id, period_grain, period_label, geography_type, geography_code, "
        "breakdown_value, value, is_suppressed from disclosed_metric_values "
        "where breakdown_type = 'imd_quintile'",
    )
    keys = ["metric_id", "period_grain", "period_label", "geography_type", "geography_code"]
    first = gaps.join(
        quintiles.filter(pl.col("breakdown_value") == "1"), on=keys, how="inner"
    )
    shown = first.filter(~pl.col("is_suppressed_right"))
    assert shown.height > 0
    assert (shown["quintile_1_value"] == shown["value"]).all()
    any_withheld = quintiles.group_by(keys).agg(pl.col("is_suppressed").any().alias("hidden"))
    hidden = gaps.join(any_withheld.filter(pl.col("hidden")), on=keys)
    assert hidden.height > 0 and hidden["sii"].null_count() == hidden.height
