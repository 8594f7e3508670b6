"""The report's SVG charts: scales, ticks, coordinates, icons, text alternatives, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from metrics_cli.report import charts
from metrics_cli.report.charts import (
    Bar,
    CaterpillarUnit,
    MaturityRow,
    Scale,
    SpcPoint,
    bar_chart,
    caterpillar_chart,
    format_number,
    maturity_grid,
    month_label,
    nice_step,
    nice_ticks,
    spc_chart,
    spc_description,
    variation_icon,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    """The SVG as XML: every chart must be well-formed."""
    return ET.fromstring(svg)


def text_of(root: ET.Element, tag: str) -> str:
    """The text of the chart's first `title` or `desc` element."""
    element = root.find(f"{SVG}{tag}")
    assert element is not None and element.text is not None
    return element.text


def point(
    day: date,
    value: float,
    kind: str = "common_cause",
    mean: float | None = 15.0,
    low: float | None = 5.0,
    high: float | None = 25.0,
) -> SpcPoint:
    near_low = None if mean is None or low is None else mean - (mean - low) * 2 / 3
    near_high = None if mean is None or high is None else mean + (high - mean) * 2 / 3
    return SpcPoint(day, value, mean, low, high, near_low, near_high, kind)


def test_scale_maps_linearly_and_inverts_for_y() -> None:
    assert Scale(0, 10, 100, 0)(2.5) == 75.0
    assert Scale(5, 25, 126, 10)(10) == 97.0
    assert Scale(3, 3, 0, 10)(3) == 5.0  # a zero-width domain maps to the middle


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0.3, 0.5), (3.0, 5.0), (12.0, 20.0), (2.5, 2.5), (0.0021, 0.0025), (1.0, 1.0)],
)
def test_nice_step(raw: float, expected: float) -> None:
    assert nice_step(raw) == pytest.approx(expected)


def test_nice_ticks_cover_the_range_with_round_numbers() -> None:
    assert nice_ticks(43.2, 57.9, 5) == [40.0, 45.0, 50.0, 55.0, 60.0]
    assert nice_ticks(0, 1, 4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(-3, 2, 4) == [-4.0, -2.0, 0.0, 2.0]
    # a single value is padded by 10% either side: 4.5 to 5.5 in steps of 0.25
    assert nice_ticks(5, 5, 4) == [4.5, 4.75, 5.0, 5.25, 5.5]


def test_format_number_uses_separators_and_a_true_minus() -> None:
    assert format_number(1234.56, 1) == "1,234.6"
    assert format_number(-1234.56, 1) == "−1,234.6"
    assert format_number(-0.04, 1) == "0.0"
    assert format_number(0.5123, 3) == "0.512"


def test_month_label() -> None:
    assert month_label(date(2024, 7, 15)) == "Jul 24"
    assert month_label(date(2025, 1, 1)) == "Jan 25"


def test_spc_chart_coordinates_are_hand_worked() -> None:
    """Two points 10 and 20, mean 15, limits 5 and 25, in the default 340 x 150 box.

    Ticks: nice_ticks(5, 25, 4) steps by 5 from 5 to 25. The plot runs from y = 150 - 24 =
    126 (value 5) to y = 10 (value 25), so value 10 sits at 126 - 5/20 x 116 = 97 and the
    mean at 126 - 10/20 x 116 = 68. x runs from 46 + 4 = 50 to 340 - 8 - 4 = 328.
    """
    svg = spc_chart("Test", [point(date(2024, 1, 1), 10), point(date(2024, 2, 1), 20)])
    assert '<circle cx="50" cy="97" r="2.2"' in svg
    assert '<circle cx="328" cy="39" r="2.2"' in svg
    assert '<polyline points="50,68 328,68" fill="none" stroke="#003087"' in svg
    assert 'points="50,126 328,126"' in svg  # lower process limit
    assert 'points="50,10 328,10"' in svg  # upper process limit
    parse(svg)


def test_spc_chart_marks_each_point_type_by_shape() -> None:
    days = [date(2024, m, 1) for m in range(1, 6)]
    kinds = [
        "common_cause",
        "special_cause_improvement",
        "special_cause_concern",
        "special_cause_neutral_high",
        "common_cause",
    ]
    svg = spc_chart(
        "Shapes", [point(d, 10 + i, k) for i, (d, k) in enumerate(zip(days, kinds, strict=True))]
    )
    root = parse(svg)
    circles = root.findall(f"{SVG}circle")
    assert sorted(c.get("r") for c in circles) == ["2.2", "2.2", "3.4"]
    assert len(root.findall(f"{SVG}rect")) == 2  # the plot frame and one concern square
    assert len(root.findall(f"{SVG}polygon")) == 1  # one neutral diamond


def test_spc_chart_draws_rebased_limits_as_separate_steps() -> None:
    points = [point(date(2024, m, 1), 10, mean=15 if m < 3 else 18) for m in range(1, 5)]
    svg = spc_chart("Rebased", points)
    mean_lines = re.findall(r'<polyline points="([^"]+)" fill="none" stroke="#003087"', svg)
    assert len(mean_lines) == 2


def test_spc_chart_has_text_alternatives() -> None:
    points = [
        point(date(2024, m, 1), 10 + m, "special_cause_improvement" if m == 4 else "common_cause")
        for m in range(1, 5)
    ]
    svg = spc_chart("Same-day share", points, decimals=1, suffix="%", target=12.0)
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Same-day share"
    assert text_of(root, "title") == "Same-day share"
    assert text_of(root, "desc") == (
        "Same-day share: 4 monthly values from Jan 24 to Apr 24. Latest Apr 24: 14.0%. "
        "Mean 15.0%; process limits 5.0% to 25.0%. Target 12.0%. "
        "Special cause: 1 point of special cause improvement."
    )


def test_spc_description_without_limits() -> None:
    points = [point(date(2024, 1, 1), 3.0, "too_few_points", None, None, None)]
    assert spc_description("X", points, 0, "", None) == (
        "X: 1 monthly values from Jan 24 to Jan 24. Latest Jan 24: 3. "
        "Too few points to set process limits. No special cause variation."
    )


def test_spc_chart_needs_points() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        spc_chart("Empty", [])


@pytest.mark.parametrize(
    ("kind", "letter", "shape"),
    [
        ("improvement_high", "H", "circle"),
        ("improvement_low", "L", "circle"),
        ("concern_high", "H", "polygon"),
        ("concern_low", "L", "polygon"),
        ("neutral_high", "H", "polygon"),
        ("neutral_low", "L", "polygon"),
    ],
)
def test_variation_icons_differ_by_letter_and_shape(kind: str, letter: str, shape: str) -> None:
    root = parse(variation_icon(kind))
    assert root.get("role") == "img"
    assert root.get("aria-label") == charts.VARIATION_LABELS[kind]
    first_mark = next(child for child in root if child.tag not in (f"{SVG}title",))
    assert first_mark.tag == f"{SVG}{shape}"
    assert [t.text for t in root.iter(f"{SVG}text")] == [letter]


def test_concern_icons_are_triangles_and_improvement_icons_carry_arrows() -> None:
    concern = parse(variation_icon("concern_high"))
    triangle = concern.find(f"{SVG}polygon")
    assert triangle is not None and triangle.get("points") == "16,1 31,30 1,30"
    improvement = parse(variation_icon("improvement_low"))
    arrows = improvement.findall(f"{SVG}polygon")
    assert [a.get("points") for a in arrows] == ["16,28.5 20,23.5 12,23.5"]  # pointing down


def test_common_cause_icon_and_missing_icons() -> None:
    root = parse(variation_icon("common_cause"))
    assert root.find(f"{SVG}polyline") is not None
    assert list(root.iter(f"{SVG}text")) == []
    assert variation_icon(None) == ""
    assert variation_icon("not_an_icon") == ""
    assert charts.assurance_icon(None) == ""


@pytest.mark.parametrize(
    ("kind", "letter"),
    [("consistent_pass", "P"), ("consistent_fail", "F"), ("inconsistent", "?")],
)
def test_assurance_icons(kind: str, letter: str) -> None:
    root = parse(charts.assurance_icon(kind, 18))
    assert root.get("width") == "18"
    assert [t.text for t in root.iter(f"{SVG}text")] == [letter]
    assert root.get("aria-label") == charts.ASSURANCE_LABELS[kind]


def test_bar_chart_whiskers_and_withheld_bars() -> None:
    """Bars 40 (30 to 50) and a withheld bar, reference 45, in 340 x 170.

    Ticks nice_ticks(0, 50, 4): a raw step of 12.5 rounds up to 20, so 0..60. y(0) =
    170 - 30 = 140 and y(60) = 12, 128 units for 60: y(40) = 140 - 85.33 = 54.67, y(30) = 76,
    y(50) = 33.33 and y(45) = 44. Two slots of 143 from x = 46: the first centre is 117.5.
    """
    svg = bar_chart(
        "Rate by quintile",
        [Bar("Q1", 40, 30, 50), Bar("Q5", None, None, None, "withheld")],
        decimals=1,
        suffix="%",
        reference=45.0,
    )
    root = parse(svg)
    assert '<line x1="117.5" y1="76" x2="117.5" y2="33.33"' in svg  # whisker
    assert 'points="46,44 332,44"' in svg  # reference line
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 1 and bars[0].get("y") == "54.67" and bars[0].get("height") == "85.33"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "withheld" in texts and "*" not in texts
    assert text_of(root, "desc") == (
        "Rate by quintile. Q1: 40.0% (95% CI 30.0 to 50.0); Q5: withheld; All patients: 45.0%."
    )
    missing = parse(bar_chart("Rate", [Bar("Q1", 40, 30, 50), Bar("Q5", None, None, None)]))
    assert "not shown" in [t.text for t in missing.iter(f"{SVG}text")]


def test_caterpillar_chart_sorts_highlights_and_marks_significance() -> None:
    units = [
        CaterpillarUnit("High", 30, 28, 32, "higher"),
        CaterpillarUnit("Mine", 20, 15, 25, "similar", highlight=True),
        CaterpillarUnit("Low", 10, 8, 12, "lower"),
    ]
    svg = caterpillar_chart("Benchmark", units, 20.0, "ICB")
    root = parse(svg)
    labels = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert labels == ["Low", "Mine", "High"]  # sorted by value
    bold = [t.text for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    assert bold == ["Mine"]
    assert len(root.findall(f"{SVG}polygon")) == 2  # Low and High exclude the ICB value
    assert text_of(root, "desc") == (
        "Benchmark. ICB: 20.0. Low 10.0 (lower); Mine 20.0 (similar); High 30.0 (higher)."
    )


def test_maturity_grid_fills_achieved_levels_and_marks_disagreement() -> None:
    rows = [MaturityRow("Leadership", 2, 2, 2, False), MaturityRow("Access", 1, 3, 1, True)]
    svg = maturity_grid("Matrix", rows)
    root = parse(svg)
    filled = [r for r in root.findall(f"{SVG}rect") if r.get("fill") == charts.NHS_BLUE]
    assert len(filled) == 3
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts.count("S E") == 1  # Leadership: both at level 2
    assert texts.count("S") == 1 and texts.count("E") == 1  # Access: 3 and 1
    assert texts.count("!") == 1
    assert (
        "Access: level 1 achieved, self-assessed 3, evidenced 1, self-assessment and "
        "evidence disagree" in text_of(root, "desc")
    )


def test_chart_text_is_escaped() -> None:
    nasty = 'North & East <b>Bold</b> </style> {{ 7*7 }} "q"'
    svg = caterpillar_chart(
        nasty,
        [
            CaterpillarUnit(nasty, 1, 0.5, 1.5, "similar", True),
            CaterpillarUnit("Other", 2, 1.5, 2.5, "similar"),
        ],
        1.5,
        nasty,
    )
    assert "<b>" not in svg and "</style>" not in svg
    root = parse(svg)
    assert root.get("aria-label") == nasty
    assert text_of(root, "title") == nasty
    grid = parse(maturity_grid(nasty, [MaturityRow(nasty[:30], 1, 1, 1, False)]))
    assert text_of(grid, "title") == nasty
