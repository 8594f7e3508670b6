"""Inline SVG charts for the board reports: SPC, quintile bars, caterpillar, maturity grid.

Every function returns one `<svg>` element as a string, with `role="img"`, an `aria-label`,
a `<title>` and a `<desc>` so screen readers and tagged PDFs can read it. All text passed in
is escaped here; the templates mark the result safe. Colours follow the colour-blind-safe
Okabe-Ito palette, and every coloured mark also differs in shape or letter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

NHS_BLUE = "#005EB8"
NHS_DARK_BLUE = "#003087"
DARK_GREY = "#425563"
MID_GREY = "#768692"
PALE_GREY = "#E8EDEE"
IMPROVEMENT = "#0072B2"
CONCERN = "#E69F00"
NEUTRAL = "#CC79A7"
COMMON = MID_GREY
FONT = "Report Sans, DejaVu Sans, sans-serif"

VARIATION_LABELS = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation: improvement, unusually high values",
    "improvement_low": "Special cause variation: improvement, unusually low values",
    "concern_high": "Special cause variation: concern, unusually high values",
    "concern_low": "Special cause variation: concern, unusually low values",
    "neutral_high": "Special cause variation: unusually high values (neither good nor bad)",
    "neutral_low": "Special cause variation: unusually low values (neither good nor bad)",
}
ASSURANCE_LABELS = {
    "consistent_pass": "Assurance: the process will consistently meet the target",
    "consistent_fail": "Assurance: the process will consistently fail the target",
    "inconsistent": "Assurance: the process will sometimes meet and sometimes fail the target",
}
POINT_LABELS = {
    "special_cause_improvement": "special cause improvement",
    "special_cause_concern": "special cause concern",
    "special_cause_neutral_high": "special cause, unusually high",
    "special_cause_neutral_low": "special cause, unusually low",
    "common_cause": "common cause",
    "too_few_points": "too few points for limits",
}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Scale:
    """A linear map from a data interval onto a drawing interval."""

    domain_low: float
    domain_high: float
    range_low: float
    range_high: float

    def __call__(self, x: float) -> float:
        span = self.domain_high - self.domain_low
        if span == 0:
            return (self.range_low + self.range_high) / 2
        share = (x - self.domain_low) / span
        return self.range_low + share * (self.range_high - self.range_low)


def nice_step(raw_step: float) -> float:
    """The smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is >= raw_step."""
    if raw_step <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw_step))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * power >= raw_step * (1 - 1e-12):
            return factor * power
    return 10.0 * power


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round-numbered axis ticks covering low..high in about `count` steps."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step((high - low) / count)
    decimals = max(0, -math.floor(math.log10(step))) + 1
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(i * step, decimals) + 0.0 for i in range(first, last + 1)]


def format_number(value: float, decimals: int) -> str:
    """A number with thousands separators and a real minus sign."""
    text = f"{abs(value):,.{decimals}f}"
    return f"−{text}" if value < 0 and float(text.replace(",", "")) != 0 else text


def month_label(day: date) -> str:
    """`Jul 24` for any day in July 2024."""
    return f"{MONTHS[day.month - 1]} {day.year % 100:02d}"


def _fmt(x: float) -> str:
    """A coordinate with at most two decimals, as SVG wants it."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _text(
    x: float,
    y: float,
    content: str,
    size: float = 9,
    anchor: str = "start",
    weight: str = "normal",
    fill: str = DARK_GREY,
) -> str:
    return (
        f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="{_fmt(size)}" font-family="{FONT}" '
        f'text-anchor="{anchor}" font-weight="{weight}" fill="{fill}">{escape(content)}</text>'
    )


def _svg(width: float, height: float, title: str, desc: str, body: Sequence[str]) -> str:
    """The outer element: role, label, title and description first."""
    label = escape(title, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
        f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" width="{_fmt(width)}" '
        f'height="{_fmt(height)}" class="chart">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>" + "".join(body) + "</svg>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: str) -> str:
    """A straight SVG line; `width` as written (e.g. "0.6")."""
    return (
        f'<line x1="{_fmt(x1)}" y1="{_fmt(y1)}" x2="{_fmt(x2)}" y2="{_fmt(y2)}" '
        f'stroke="{stroke}" stroke-width="{width}"/>'
    )


def _polyline(
    points: Sequence[tuple[float, float]], stroke: str, width: float, dash: str | None = None
) -> str:
    if len(points) < 2:
        return ""
    coords = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in points)
    dashing = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
        f'stroke-width="{_fmt(width)}"{dashing}/>'
    )


def _segments(xs: Sequence[float], ys: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive non-null values, so a rebased limit draws as separate steps."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    previous: float | None = None
    for x, y in zip(xs, ys, strict=True):
        if y is None or (previous is not None and not math.isclose(y, previous)):
            if current:
                runs.append(current)
            current = []
        if y is not None:
            current.append((x, y))
        previous = y
    if current:
        runs.append(current)
    return runs


def point_marker(kind: str, x: float, y: float) -> str:
    """A data point: shape and colour both say what kind of point it is."""
    if kind == "special_cause_improvement":
        return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="3.4" fill="{IMPROVEMENT}"/>'
    if kind == "special_cause_concern":
        return (
            f'<rect x="{_fmt(x - 3.2)}" y="{_fmt(y - 3.2)}" width="6.4" height="6.4" '
            f'fill="{CONCERN}" stroke="#000000" stroke-width="0.6"/>'
        )
    if kind in ("special_cause_neutral_high", "special_cause_neutral_low"):
        return (
            f'<polygon points="{_fmt(x)},{_fmt(y - 4)} {_fmt(x + 4)},{_fmt(y)} '
            f'{_fmt(x)},{_fmt(y + 4)} {_fmt(x - 4)},{_fmt(y)}" fill="{NEUTRAL}"/>'
        )
    return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="2.2" fill="{COMMON}"/>'


@dataclass(frozen=True)
class SpcPoint:
    """One month of an XmR chart, as the metric_spc mart holds it."""

    period_start: date
    value: float
    mean: float | None
    lower_process_limit: float | None
    upper_process_limit: float | None
    lower_near_limit: float | None
    upper_near_limit: float | None
    point_type: str


def spc_summary(
    points: Sequence[SpcPoint], decimals: int, suffix: str, target: float | None
) -> str:
    """Latest value, mean, limits, target and special-cause signals, in short sentences."""
    last = points[-1]
    parts = [
        f"Latest {month_label(last.period_start)}: {format_number(last.value, decimals)}{suffix}."
    ]
    if last.mean is not None and last.lower_process_limit is not None:
        upper = last.upper_process_limit if last.upper_process_limit is not None else last.mean
        parts.append(
            f"Mean {format_number(last.mean, decimals)}{suffix}; process limits "
            f"{format_number(last.lower_process_limit, decimals)}{suffix} to "
            f"{format_number(upper, decimals)}{suffix}."
        )
    else:
        parts.append("Too few points to set process limits.")
    if target is not None:
        parts.append(f"Target {format_number(target, decimals)}{suffix}.")
    counts: dict[str, int] = {}
    for point in points:
        if point.point_type not in ("common_cause", "too_few_points"):
            counts[point.point_type] = counts.get(point.point_type, 0) + 1
    if counts:
        signals = ", ".join(
            f"{n} {'point' if n == 1 else 'points'} of {POINT_LABELS.get(kind, kind)}"
            for kind, n in sorted(counts.items())
        )
        parts.append(f"Special cause: {signals}.")
    else:
        parts.append("No special cause variation.")
    return " ".join(parts)


def spc_description(
    title: str, points: Sequence[SpcPoint], decimals: int, suffix: str, target: float | None
) -> str:
    """The chart in words for screen readers: span, then `spc_summary`."""
    first, last = points[0], points[-1]
    return (
        f"{title}: {len(points)} monthly values from {month_label(first.period_start)} "
        f"to {month_label(last.period_start)}. " + spc_summary(points, decimals, suffix, target)
    )


def spc_chart(
    title: str,
    points: Sequence[SpcPoint],
    decimals: int = 1,
    suffix: str = "",
    target: float | None = None,
    width: float = 340,
    height: float = 150,
) -> str:
    """An XmR chart: values, mean, process limits (dashed), near limits (dotted), target."""
    if not points:
        raise ValueError("an SPC chart needs at least one point")
    left, right, top, bottom = 46.0, 8.0, 10.0, 24.0
    lows: list[float] = [p.value for p in points]
    for p in points:
        lows.extend(v for v in (p.lower_process_limit, p.upper_process_limit) if v is not None)
    if target is not None:
        lows.append(target)
    ticks = nice_ticks(min(lows), max(lows), 4)
    y = Scale(ticks[0], ticks[-1], height - bottom, top)
    n = len(points)
    x = Scale(0, max(n - 1, 1), left + 4, width - right - 4)
    xs = [x(i) for i in range(n)]
    body: list[str] = [
        f'<rect x="{_fmt(left)}" y="{_fmt(top)}" width="{_fmt(width - left - right)}" '
        f'height="{_fmt(height - top - bottom)}" fill="#FFFFFF" stroke="{PALE_GREY}"/>'
    ]
    for tick in ticks:
        ty = y(tick)
        body.append(_line(left, ty, width - right, ty, PALE_GREY, "0.6"))
        body.append(_text(left - 4, ty + 3, format_number(tick, _tick_decimals(ticks)), 8, "end"))
    label_every = max(1, math.ceil(n / 6))
    for i in range(0, n, label_every):
        body.append(
            _text(xs[i], height - bottom + 12, month_label(points[i].period_start), 8, "middle")
        )
    lines = (
        ([p.lower_near_limit for p in points], MID_GREY, 0.7, "1.5,2"),
        ([p.upper_near_limit for p in points], MID_GREY, 0.7, "1.5,2"),
        ([p.lower_process_limit for p in points], DARK_GREY, 1.0, "4,3"),
        ([p.upper_process_limit for p in points], DARK_GREY, 1.0, "4,3"),
        ([p.mean for p in points], NHS_DARK_BLUE, 1.2, None),
    )
    for values, stroke, stroke_width, dash in lines:
        for run in _segments(xs, values):
            body.append(_polyline([(px, y(py)) for px, py in run], stroke, stroke_width, dash))
    if target is not None:
        body.append(
            _polyline([(left, y(target)), (width - right, y(target))], NEUTRAL, 1.2, "6,2,1,2")
        )
    body.append(_polyline([(xs[i], y(p.value)) for i, p in enumerate(points)], MID_GREY, 1.0))
    body.extend(point_marker(p.point_type, xs[i], y(p.value)) for i, p in enumerate(points))
    desc = spc_description(title, points, decimals, suffix, target)
    return _svg(width, height, title, desc, body)


def _tick_decimals(ticks: Sequence[float]) -> int:
    """The fewest decimals that show the tick step exactly (0.25 -> 2, 2.5 -> 1, 20 -> 0)."""
    if len(ticks) < 2:
        return 0
    step = abs(ticks[1] - ticks[0])
    return next((d for d in range(7) if math.isclose(round(step, d), step)), 6)


def _icon_svg(label: str, body: Sequence[str], size: float) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label, True)}" '
        f'viewBox="0 0 32 32" width="{_fmt(size)}" height="{_fmt(size)}" class="icon">'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _arrow(up: bool, colour: str) -> str:
    """A small arrow above (up) or below (down) the letter of an icon."""
    if up:
        return f'<polygon points="16,3.5 20,8.5 12,8.5" fill="{colour}"/>'
    return f'<polygon points="16,28.5 20,23.5 12,23.5" fill="{colour}"/>'


def variation_icon(kind: str | None, size: float = 26) -> str:
    """A Making Data Count variation icon; empty for no icon.

    Improvement is a blue circle, concern an orange triangle, neutral a purple diamond, each
    with H (high) or L (low) and an arrow; common cause is a grey ring with a wave.
    """
    if kind is None or kind not in VARIATION_LABELS:
        return ""
    label = VARIATION_LABELS[kind]
    if kind == "common_cause":
        body = [
            f'<circle cx="16" cy="16" r="13.5" fill="#FFFFFF" stroke="{COMMON}" stroke-width="3"/>',
            f'<polyline points="7,17 10,13 13,19 16,12 19,19 22,13 25,17" fill="none" '
            f'stroke="{DARK_GREY}" stroke-width="2"/>',
        ]
        return _icon_svg(label, body, size)
    direction, side = kind.split("_")
    letter = "H" if side == "high" else "L"
    if direction == "improvement":
        shape = f'<circle cx="16" cy="16" r="15" fill="{IMPROVEMENT}"/>'
        ink = "#FFFFFF"
    elif direction == "concern":
        shape = (
            f'<polygon points="16,1 31,30 1,30" fill="{CONCERN}" stroke="#000000" '
            f'stroke-width="0.8"/>'
        )
        ink = "#000000"
    else:
        shape = f'<polygon points="16,0.5 31.5,16 16,31.5 0.5,16" fill="{NEUTRAL}"/>'
        ink = "#000000"
    letter_y = "25" if direction == "concern" else "21.5"
    body = [
        shape,
        f'<text x="16" y="{letter_y}" font-size="13" font-weight="bold" font-family="{FONT}" '
        f'text-anchor="middle" fill="{ink}">{letter}</text>',
    ]
    if direction != "concern":
        body.append(_arrow(side == "high", ink))
    return _icon_svg(label, body, size)


def assurance_icon(kind: str | None, size: float = 26) -> str:
    """A Making Data Count assurance icon: P (pass), F (fail) or ? (inconsistent)."""
    if kind is None or kind not in ASSURANCE_LABELS:
        return ""
    fill, ink, letter = {
        "consistent_pass": (IMPROVEMENT, "#FFFFFF", "P"),
        "consistent_fail": (CONCERN, "#000000", "F"),
        "inconsistent": (COMMON, "#FFFFFF", "?"),
    }[kind]
    body = [
        f'<rect x="1.5" y="1.5" width="29" height="29" rx="6" fill="{fill}" '
        f'stroke="#000000" stroke-width="0.8"/>',
        f'<text x="16" y="21.5" font-size="15" font-weight="bold" font-family="{FONT}" '
        f'text-anchor="middle" fill="{ink}">{letter}</text>',
    ]
    return _icon_svg(ASSURANCE_LABELS[kind], body, size)


def legend_marker(kind: str) -> str:
    """One SPC legend key (a point type or line), as a small inline SVG."""
    lines = {
        "mean": (NHS_DARK_BLUE, 1.2, None, "Mean"),
        "process_limit": (DARK_GREY, 1.0, "4,3", "Process limits"),
        "near_limit": (MID_GREY, 0.7, "1.5,2", "Near limits (two thirds of the way)"),
        "target": (NEUTRAL, 1.2, "6,2,1,2", "Target"),
    }
    if kind in lines:
        stroke, stroke_width, dash, label = lines[kind]
        body = _polyline([(1, 6), (23, 6)], stroke, stroke_width, dash)
    else:
        label = POINT_LABELS.get(kind, kind).capitalize()
        body = point_marker(kind, 12, 6)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label, True)}" '
        f'viewBox="0 0 24 12" width="24" height="12" class="key"><title>{escape(label)}</title>'
        f"{body}</svg>"
    )


@dataclass(frozen=True)
class Bar:
    """One bar with its 95% limits; a bar with a null value prints `missing` in its place
    (`withheld` where disclosure control withheld it)."""

    label: str
    value: float | None
    lower: float | None
    upper: float | None
    missing: str = "not shown"


def bar_chart(
    title: str,
    bars: Sequence[Bar],
    decimals: int = 1,
    suffix: str = "",
    reference: float | None = None,
    reference_label: str = "All patients",
    width: float = 340,
    height: float = 170,
) -> str:
    """Vertical bars from zero with 95% confidence whiskers and an optional reference line."""
    left, right, top, bottom = 46.0, 8.0, 12.0, 30.0
    candidates = [0.0]
    for bar in bars:
        candidates.extend(v for v in (bar.value, bar.upper, bar.lower) if v is not None)
    if reference is not None:
        candidates.append(reference)
    ticks = nice_ticks(min(candidates), max(candidates), 4)
    y = Scale(ticks[0], ticks[-1], height - bottom, top)
    slot = (width - left - right) / max(len(bars), 1)
    body: list[str] = []
    for tick in ticks:
        ty = y(tick)
        body.append(_line(left, ty, width - right, ty, PALE_GREY, "0.6"))
        body.append(_text(left - 4, ty + 3, format_number(tick, _tick_decimals(ticks)), 8, "end"))
    described: list[str] = []
    for i, bar in enumerate(bars):
        centre = left + slot * (i + 0.5)
        body.append(_text(centre, height - bottom + 12, bar.label, 8, "middle"))
        if bar.value is None:
            body.append(_text(centre, y(0) - 4, bar.missing, 8, "middle"))
            described.append(f"{bar.label}: {bar.missing}")
            continue
        bar_top = y(max(bar.value, 0.0))
        bar_bottom = y(min(bar.value, 0.0))
        body.append(
            f'<rect x="{_fmt(centre - slot * 0.3)}" y="{_fmt(bar_top)}" '
            f'width="{_fmt(slot * 0.6)}" height="{_fmt(bar_bottom - bar_top)}" '
            f'fill="{NHS_BLUE}"/>'
        )
        text = f"{bar.label}: {format_number(bar.value, decimals)}{suffix}"
        if bar.lower is not None and bar.upper is not None:
            low, high = y(bar.lower), y(bar.upper)
            body.append(_line(centre, low, centre, high, "#000000", "1.2"))
            for cap in (low, high):
                body.append(_line(centre - 4, cap, centre + 4, cap, "#000000", "1.2"))
            text += (
                f" (95% CI {format_number(bar.lower, decimals)} to "
                f"{format_number(bar.upper, decimals)})"
            )
        described.append(text)
    if reference is not None:
        ry = y(reference)
        body.append(_polyline([(left, ry), (width - right, ry)], CONCERN, 1.4, "5,3"))
        body.append(_text(width - right, ry - 3, reference_label, 8, "end", fill="#000000"))
        described.append(f"{reference_label}: {format_number(reference, decimals)}{suffix}")
    body.insert(
        0,
        _line(left, y(0), width - right, y(0), DARK_GREY, "0.8"),
    )
    desc = f"{title}. " + "; ".join(described) + "."
    return _svg(width, height, title, desc, body)


@dataclass(frozen=True)
class CaterpillarUnit:
    """One geography in a benchmarking plot."""

    label: str
    value: float
    lower: float | None
    upper: float | None
    comparison: str
    """Against the reference line, as the mart says (metric_judgements.comparison_to_icb):
    `higher`, `lower`, `similar`, `not_compared`."""
    highlight: bool = False


def caterpillar_chart(
    title: str,
    units: Sequence[CaterpillarUnit],
    reference: float,
    reference_label: str,
    decimals: int = 1,
    suffix: str = "",
    width: float = 500,
) -> str:
    """Units sorted by value, each a point with its 95% limits, against a reference line.

    A unit whose comparison (made in dbt, against the reference) is higher or lower is drawn
    as a triangle pointing up or down; the highlighted unit is drawn in NHS blue with a bold label.
    """
    ordered = sorted(units, key=lambda u: (u.value, u.label))
    row = 13.0
    left, right, top, bottom = 150.0, 12.0, 16.0, 26.0
    height = top + bottom + row * max(len(ordered), 1)
    values = [reference]
    for unit in ordered:
        values.extend(v for v in (unit.value, unit.lower, unit.upper) if v is not None)
    ticks = nice_ticks(min(values), max(values), 5)
    x = Scale(ticks[0], ticks[-1], left, width - right)
    body: list[str] = []
    for tick in ticks:
        tx = x(tick)
        body.append(_line(tx, top, tx, height - bottom, PALE_GREY, "0.6"))
        body.append(
            _text(tx, height - bottom + 12, format_number(tick, _tick_decimals(ticks)), 8, "middle")
        )
    rx = x(reference)
    body.append(_polyline([(rx, top - 4), (rx, height - bottom)], CONCERN, 1.4, "5,3"))
    body.append(
        _text(
            rx,
            top - 6,
            f"{reference_label} {format_number(reference, decimals)}{suffix}",
            8,
            "middle",
            fill="#000000",
        )
    )
    described: list[str] = []
    for i, unit in enumerate(ordered):
        cy = top + row * (i + 0.5)
        colour = NHS_BLUE if unit.highlight else DARK_GREY
        label = unit.label if len(unit.label) <= 26 else unit.label[:25] + "…"
        body.append(
            _text(
                left - 6,
                cy + 3,
                label,
                8,
                "end",
                "bold" if unit.highlight else "normal",
                "#000000" if unit.highlight else DARK_GREY,
            )
        )
        if unit.lower is not None and unit.upper is not None:
            body.append(_line(x(unit.lower), cy, x(unit.upper), cy, colour, "1.2"))
        verdict = unit.comparison
        cx = x(unit.value)
        if verdict == "higher":
            body.append(
                f'<polygon points="{_fmt(cx)},{_fmt(cy - 4)} {_fmt(cx + 4)},'
                f'{_fmt(cy + 3)} {_fmt(cx - 4)},{_fmt(cy + 3)}" fill="{colour}"/>'
            )
        elif verdict == "lower":
            body.append(
                f'<polygon points="{_fmt(cx)},{_fmt(cy + 4)} {_fmt(cx + 4)},'
                f'{_fmt(cy - 3)} {_fmt(cx - 4)},{_fmt(cy - 3)}" fill="{colour}"/>'
            )
        else:
            body.append(f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="3" fill="{colour}"/>')
        described.append(
            f"{unit.label} {format_number(unit.value, decimals)}{suffix} "
            f"({verdict.replace('_', ' ')})"
        )
    desc = (
        f"{title}. {reference_label}: {format_number(reference, decimals)}{suffix}. "
        + "; ".join(described)
        + "."
    )
    return _svg(width, height, title, desc, body)


@dataclass(frozen=True)
class MaturityRow:
    """One domain of the maturity grid."""

    title: str
    level_achieved: int
    self_assessed_level: int | None
    evidenced_level: int | None
    has_discrepancy: bool


LEVEL_NAMES = ("Foundation", "Developing", "Maturing", "Thriving")


def maturity_grid(title: str, rows: Sequence[MaturityRow], width: float = 500) -> str:
    """Domains by the four levels: achieved levels filled, S marks self-assessment and E
    the metric evidence; `!` flags a domain whose two disagree."""
    label_width, flag_width, row, head = 196.0, 34.0, 18.0, 22.0
    cell = (width - label_width - flag_width) / 4
    height = head + row * len(rows) + 4
    body: list[str] = []
    for level, name in enumerate(LEVEL_NAMES, start=1):
        cx = label_width + cell * (level - 0.5)
        body.append(_text(cx, 12, f"{level} {name}", 8.5, "middle", "bold", "#000000"))
    body.append(
        _text(
            label_width + 4 * cell + flag_width / 2, 12, "Check", 8.5, "middle", "bold", "#000000"
        )
    )
    described: list[str] = []
    for i, domain in enumerate(rows):
        top = head + row * i
        label = domain.title if len(domain.title) <= 38 else domain.title[:37] + "…"
        body.append(_text(label_width - 6, top + row / 2 + 3, label, 8, "end", fill="#000000"))
        for level in range(1, 5):
            x0 = label_width + cell * (level - 1)
            achieved = level <= domain.level_achieved
            body.append(
                f'<rect x="{_fmt(x0 + 1)}" y="{_fmt(top + 1)}" width="{_fmt(cell - 2)}" '
                f'height="{_fmt(row - 2)}" fill="{NHS_BLUE if achieved else PALE_GREY}" '
                f'stroke="#FFFFFF"/>'
            )
            ink = "#FFFFFF" if achieved else "#000000"
            marks = []
            if domain.self_assessed_level == level:
                marks.append("S")
            if domain.evidenced_level == level:
                marks.append("E")
            if marks:
                body.append(
                    _text(
                        x0 + cell / 2,
                        top + row / 2 + 3.5,
                        " ".join(marks),
                        9,
                        "middle",
                        "bold",
                        ink,
                    )
                )
        if domain.has_discrepancy:
            fx = label_width + 4 * cell + flag_width / 2
            body.append(
                f'<polygon points="{_fmt(fx)},{_fmt(top + 3)} {_fmt(fx + 9)},{_fmt(top + row - 3)}'
                f' {_fmt(fx - 9)},{_fmt(top + row - 3)}" fill="{CONCERN}" stroke="#000000" '
                f'stroke-width="0.6"/>'
            )
            body.append(_text(fx, top + row - 5, "!", 10, "middle", "bold", "#000000"))
        text = f"{domain.title}: level {domain.level_achieved} achieved"
        if domain.self_assessed_level is not None:
            text += f", self-assessed {domain.self_assessed_level}"
        if domain.evidenced_level is not None:
            text += f", evidenced {domain.evidenced_level}"
        if domain.has_discrepancy:
            text += ", self-assessment and evidence disagree"
        described.append(text)
    desc = f"{title}. " + "; ".join(described) + "."
    return _svg(width, height, title, desc, body)
