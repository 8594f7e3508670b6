"""metric_spc and inequality_gaps built by dbt on the tiny synthetic ICB recover the
planted effects: the same-day hub is special cause, the continuity gap is real."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

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
