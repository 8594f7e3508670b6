"""What reports print, before any HTML: formatting, key messages traced to the mart rows
behind them, and the choice of rows from the mart snapshot of the tiny build
(tests/data/report_marts). The judgements themselves (change on a year before, comparison
with the ICB, gap direction, the assessment calendar) are dbt's, tested by the unit tests of
models/marts/_judgements.yml; here they are read as the snapshot holds them."""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/python: report_snapshot

from report_snapshot import SNAPSHOT, load_snapshot

from metrics_cli import disclosure, report
from metrics_cli.report.figures import (
    DisclosedValues,
    list_scopes,
    load_disclosed_metric_values,
    resolve_period,
)
from metrics_cli.report.html import render_html
from metrics_cli.report.sections import build_report
from metrics_cli.report.text import format_count, format_interval, format_value, in_sentence
from metrics_cli.report.views import ReportData, ReportPeriod
from metrics_cli.warehouse import open_warehouse


@pytest.mark.parametrize(
    ("value", "unit", "printed"),
    [
        (45.8312, "%", "45.8%"),
        (1234.56, "per 100,000", "1,234.6"),
        (31.25, "per 1,000", "31.2"),  # round half to even, as Python's format does
        (0.51249, "index", "0.512"),
        (6.4567, "FTE per 10,000", "6.46"),
        (163.456, "£", "£163.46"),
        (-41250.4, "£", "−£41,250"),
        (1.54, "percentage points", "+1.5 pp"),
        (-0.25, "percentage points", "−0.2 pp"),
        (0.0, "percentage points", "0.0 pp"),
        (None, "%", "–"),
    ],
)
def test_format_value(value: float | None, unit: str, printed: str) -> None:
    assert format_value(value, unit) == printed


def test_format_interval_and_counts() -> None:
    assert format_interval(41.234, 45.987, "%") == "41.2 to 46.0"
    assert format_interval(None, 3.0, "%") == "–"
    assert format_count(2815.0, False) == "2,815"
    assert format_count(None, True) == "withheld"
    assert format_count(None, False) == "–"


def test_in_sentence_keeps_acronyms() -> None:
    assert in_sentence("A&E attendance rate") == "A&E attendance rate"
    assert in_sentence("GP full-time equivalents") == "GP full-time equivalents"
    assert in_sentence("Emergency admissions") == "emergency admissions"


NEIGHBOURHOOD = ("neighbourhood", "NBH0001")
WORKFORCE = ("gp_fte_per_10k", "clinical_fte_per_10k", "arrs_fte_per_10k")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_snapshot(tmp_path_factory.mktemp("data") / "warehouse.duckdb")


def report_for(warehouse: Path, scope: tuple[str, str], label: str | None = None) -> ReportData:
    with open_warehouse(warehouse) as wh:
        period = resolve_period(wh, label)
        disclosed = DisclosedValues.in_memory(load_disclosed_metric_values(wh, ["Q9A"]))
        return build_report(wh, disclosed, scope, period, date(2025, 7, 14))


def test_default_period_is_the_latest_month(warehouse: Path) -> None:
    with open_warehouse(warehouse) as wh:
        assert resolve_period(wh, None) == ReportPeriod("2025-03", date(2025, 3, 31))
        assert resolve_period(wh, "12m to 2024-12") == ReportPeriod(
            "12m to 2024-12", date(2024, 12, 31)
        )
        assert list_scopes(wh, date(2025, 3, 31)) == [
            NEIGHBOURHOOD,
            ("provider", "NF001"),
            ("place", "E06900001"),
            ("icb", "Q9A"),
        ]


def test_the_snapshot_loads_with_the_builds_columns_and_types(warehouse: Path) -> None:
    """Every relation of schema.csv loads with exactly its columns, in order, and types."""
    with (SNAPSHOT / "schema.csv").open(newline="", encoding="utf-8") as handle:
        expected = [(r["relation"], r["column"], r["type"]) for r in csv.DictReader(handle)]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute(
            "select table_schema || '.' || table_name, column_name, data_type "
            "from information_schema.columns order by table_schema <> 'main', ordinal_position"
        ).fetchall()
    for relation in dict.fromkeys(r for r, _, _ in expected):
        assert [c for c in loaded if c[0] == relation] == [
            c for c in expected if c[0] == relation
        ], relation
    assert ("main.disclosed_metric_values", "period_start", "DATE") in loaded
    assert ("main.disclosed_metric_values", "is_suppressed", "BOOLEAN") in loaded


def test_connection_is_read_only(warehouse: Path) -> None:
    with open_warehouse(warehouse) as wh, pytest.raises(duckdb.Error):
        wh.con.execute("create table scratch (x integer)")


def test_only_marts_seeds_and_the_build_record_are_readable(
    warehouse: Path, tmp_path: Path
) -> None:
    """Nothing outside dbt reads a staging or intermediate model: with
    int_practice_geographies in the warehouse, the access module will not name it."""
    copy = load_snapshot(
        tmp_path / "copy.duckdb",
        "create table int_practice_geographies as select * from geography_snapshots",
    )
    with open_warehouse(copy) as wh:
        assert wh.relation("geography_snapshots") == '"main"."geography_snapshots"'
        assert wh.relation("build_info") == '"raw"."build_info"'
        assert wh.has("metric_judgements") and wh.has("spc_targets")
        with pytest.raises(ValueError, match="int_practice_geographies is not a mart"):
            wh.relation("int_practice_geographies")


def test_context_of_a_neighbourhood(warehouse: Path) -> None:
    report = report_for(warehouse, NEIGHBOURHOOD)
    context = report.context
    assert context.scope.label == "St Anne's & Riverside (NBH0001)"
    assert context.parent is not None and context.parent.code == "E06900001"
    assert context.icb is not None
    assert context.icb.name == "NHS Millminster and Millham Integrated Care Board"
    assert [g.code for g in context.peers] == ["NBH0001"]
    assert context.practices == ("Y01001", "Y01002", "Y01003")
    assert context.snapshot == date(2025, 3, 31)


def test_headline_rows_are_the_latest_with_a_year_before(warehouse: Path) -> None:
    report = report_for(warehouse, NEIGHBOURHOOD)
    access = next(s for s in report.sections if s.family == "access")
    same_day = next(s for s in access.summaries if s.metric.metric_id == "same_day_share")
    assert same_day.current.period_label == "2025-03"
    assert same_day.current.value == pytest.approx(4150 / 7535 * 100, abs=1e-12)
    assert same_day.year_before is not None and same_day.year_before.period_label == "2024-03"
    # metric_judgements.year_before_value: the build's 2024-03 row, 2,995 / 7,450
    assert same_day.year_before.value == pytest.approx(2995 / 7450 * 100, abs=1e-12)
    assert same_day.parent is not None and same_day.parent.geography_code == "E06900001"
    assert same_day.icb is not None and same_day.icb.geography_code == "Q9A"
    assert same_day.change == "improved"
    continuity = next(s for s in report.sections if s.family == "continuity")
    coc = next(s for s in continuity.summaries if s.metric.metric_id == "continuity_coc")
    # 12 months to March 2025 and the financial year 2024/25 end the same day: the rolling
    # 12 months is the headline, as the longer grain order puts it
    assert coc.current.period_label == "12m to 2025-03"
    assert coc.year_before is not None and coc.year_before.period_label == "12m to 2024-03"
    workforce = next(s for s in report.sections if s.family == "workforce")
    assert [s.metric.metric_id for s in workforce.summaries][:3] == list(WORKFORCE)
    assert not workforce.absent
    shift = next(s for s in report.sections if s.family == "shift")
    assert [m.metric_id for m in shift.unavailable] == [
        "primary_community_spend_share",
        "primary_community_spend_shift_pp",
    ]


def test_a_dataset_not_loaded_is_absent_not_unavailable(tmp_path: Path) -> None:
    copy = load_snapshot(
        tmp_path / "copy.duckdb",
        *(
            f"delete from {table} where metric_id in {WORKFORCE}"
            for table in ("disclosed_metric_values", "metric_judgements")
        ),
    )
    workforce = next(s for s in report_for(copy, NEIGHBOURHOOD).sections if s.family == "workforce")
    assert not [s for s in workforce.summaries if s.metric.metric_id in WORKFORCE]
    assert [m.metric_id for m in workforce.absent] == list(WORKFORCE)


def test_key_messages_quote_the_mart_rows_they_cite(warehouse: Path) -> None:
    report = report_for(warehouse, NEIGHBOURHOOD)
    messages = report.key_messages
    assert [m.reference.number for m in messages] == list(range(1, len(messages) + 1))
    first = messages[0]
    assert first.kind == "improvement"
    assert first.reference.metric_id == "same_day_share"
    assert first.reference.periods == "2025-03 and 2024-03"
    assert first.reference.geography == "neighbourhood NBH0001"
    # 2,995 / 7,450 (2024-03, metric_judgements.year_before_value) and 4,150 / 7,535
    assert first.text == (
        "Appointments booked on the same day improved from 40.2% (2024-03) to 55.1% (2025-03); "
        "the SPC chart shows special-cause variation in the latest month."
    )
    # the change is the mart's: metric_judgements counts the SPC chart's special cause first,
    # as the maturity matrix's `improving` rule does
    assert first.reference.mart == "metric_judgements"
    kinds = [m.kind for m in messages]
    assert "maturity" in kinds and "inequality" in kinds
    maturity = next(m for m in messages if m.kind == "maturity")
    assert maturity.text == (
        "Maturity: the level achieved in Working with people and communities rose from 2 to 3 "
        "(Maturing) between 2024/25 Q3 and 2024/25 Q4."
    )
    assert maturity.reference.mart == "maturity_levels"


def test_maturity_view_of_a_neighbourhood_and_of_a_place(warehouse: Path) -> None:
    view = report_for(warehouse, NEIGHBOURHOOD).maturity
    assert view is not None and view.assessment_period == "2024/25 Q4"
    assert [d.domain_id for d in view.domains][:3] == [
        "leadership",
        "population_health",
        "urgent_access",
    ]
    urgent = view.domains[2]
    assert (urgent.level_achieved, urgent.self_assessed_level, urgent.evidenced_level) == (3, 4, 3)
    assert urgent.discrepancy_direction == (
        "Self-assessment is higher than the metric evidence supports"
    )
    assert [c.criterion_id for c in urgent.next_steps] == ["urgent_access_4_contact_ease_improving"]
    place = report_for(warehouse, ("place", "E06900001")).maturity
    assert place is not None and not place.domains
    assert [row.neighbourhood.code for row in place.overview] == ["NBH0001"]
    assert place.overview[0].levels[2] == (3, True)
    # urgent access, proactive care, prevention and workforce disagree in 2024/25 Q4
    assert place.discrepancies == 4


def test_an_earlier_period_reads_rows_ending_by_then(warehouse: Path) -> None:
    report = report_for(warehouse, NEIGHBOURHOOD, "12m to 2024-12")
    assert report.period == ReportPeriod("12m to 2024-12", date(2024, 12, 31))
    ends = {s.current.period_end for section in report.sections for s in section.summaries}
    assert max(ends) == date(2024, 12, 31)
    assert report.maturity is not None and report.maturity.assessment_period == "2024/25 Q3"
    spc_views = [v for section in report.sections for v in section.spc_views]
    assert spc_views and all(v.points[-1].period_start <= date(2024, 12, 1) for v in spc_views)
    assert all(v.variation_icon is None for v in spc_views)  # the last point lies later


def test_suppressed_cells_are_counted_and_withheld(warehouse: Path) -> None:
    report = report_for(warehouse, NEIGHBOURHOOD)
    # edits.sql: ACSC quintiles 1 and 2 of 2024/25, and the frail cohort's 4 indices of
    # 12m to 2025-03 and 6 continuity figures of 2024/25
    assert report.suppressed_cells == 12
    acsc = next(
        v for v in report.inequalities if v.metric.metric_id == "acsc_emergency_admission_dsr"
    )
    label, first = acsc.quintiles[0]
    assert label == "Quintile 1 (most deprived)"
    assert first is not None and first.status == "suppressed"
    assert first.numerator is None and first.denominator is None
    assert acsc.has_withheld
    assert acsc.gap is not None and acsc.gap.quintile_1_value is None
    assert acsc.gap.withheld("quintile_1_value") and acsc.gap.withheld("sii")
    assert not acsc.gap.withheld("quintile_5_value")
    assert acsc.gap.quintile_5_value == pytest.approx(983.2669402222928, abs=1e-9)
    assert report.withheld_reasons == (
        "one of the counts behind it is fewer than 8 people or events (for an average or a "
        "survey result, fewer than 10 patients or respondents)",
        "it is withheld so that a small number elsewhere cannot be worked out by subtraction",
    )


def test_reports_read_only_the_disclosed_marts(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No protection is applied while a report is built, and the marts with exact figures
    are never read: the snapshot holds none of them, so every report test shows it."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a report applied disclosure control itself")

    for name in ("protect_spc", "protect_inequality_gaps", "disclosure_decisions"):
        monkeypatch.setattr(disclosure, name, forbidden)
    for module in (report.figures, report.sections, report.key_messages, report.html):
        assert not any(name.startswith("protect_") for name in vars(module)), module
    with open_warehouse(warehouse) as wh:
        assert not any(wh.has(m) for m in ("metric_values", "metric_spc", "inequality_gaps"))
    for scope in (NEIGHBOURHOOD, ("icb", "Q9A")):
        assert report_for(warehouse, scope).sections
    nb = report_for(warehouse, NEIGHBOURHOOD)
    assert any(v.variation_icon for s in nb.sections for v in s.spc_views)


def test_a_series_with_a_withheld_month_is_not_charted(tmp_path: Path) -> None:
    """The mart hides a withheld month with its series' mean and limits: the chart is not
    drawn and says so, keeping its target; the month's own figure is withheld."""
    withheld = load_snapshot(
        tmp_path / "copy.duckdb",
        "update disclosed_metric_values set is_suppressed = true, numerator = null, "
        "denominator = null, unweighted_count = null, value = null, lower_95 = null, "
        "upper_95 = null, comparison_to_parent = null where metric_id = 'same_day_share' "
        "and geography_code = 'NBH0001' and breakdown_type = 'all' and period_label = '2025-03'",
        "update disclosed_metric_spc set is_suppressed = true, mean = null, "
        "lower_process_limit = null, upper_process_limit = null, assurance_icon = null "
        "where metric_id = 'same_day_share' and geography_code = 'NBH0001'",
        "update disclosed_metric_spc set value = null, point_type = null, "
        "variation_icon = null where metric_id = 'same_day_share' "
        "and geography_code = 'NBH0001' and period_start = date '2025-03-01'",
    )
    report = report_for(withheld, NEIGHBOURHOOD)
    access = next(s for s in report.sections if s.family == "access")
    same_day = next(s for s in access.summaries if s.metric.metric_id == "same_day_share")
    assert same_day.current.status == "suppressed" and access.has_withheld
    assert same_day.spc is not None and same_day.spc.is_withheld
    assert same_day.spc.points == () and same_day.spc.target == 40.0
    assert same_day.spc in access.charted_spc
    html = " ".join(render_html(report).split())
    assert (
        "Chart not drawn: a month of this series is withheld, and the chart's mean and limits "
        "would let it be worked out." in html
    )


def test_the_key_uses_the_threshold_the_warehouse_was_built_with(tmp_path: Path) -> None:
    rebuilt = load_snapshot(
        tmp_path / "copy.duckdb",
        'update raw.build_info set value = \'{"disclosure_threshold": 9, '
        "\"disclosure_rounding\": 10}' where key = 'vars'",
    )
    report = report_for(rebuilt, NEIGHBOURHOOD)
    assert (report.disclosure_threshold, report.disclosure_rounding) == (9, 10)
    assert report.withheld_reasons[0].startswith(
        "one of the counts behind it is fewer than 10 people or events"
    )
    html = " ".join(render_html(report).split())
    assert "fewer than 10 people or events" in html and "fewer than 8 people" not in html
    assert "rounded to the nearest 10" in html
