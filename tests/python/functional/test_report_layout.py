"""Every report of the tiny build laid out without faults, read back from the PDF's text
positions: no text of one table cell printed over another, no row that shows a withheld
earlier figure beside "No earlier figure", and no page but the last left less than a third
full (layout_check.py says how)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/python: layout_check

from layout_check import LayoutFindings, check_layout

from metrics_cli.report.figures import (
    DisclosedValues,
    list_scopes,
    load_disclosed_metric_values,
    resolve_period,
)
from metrics_cli.report.html import render_html
from metrics_cli.report.pdf import PDF_VARIANT, lay_out
from metrics_cli.report.sections import build_report
from metrics_cli.report.views import ReportPeriod
from metrics_cli.warehouse import Warehouse, open_warehouse

pytestmark = pytest.mark.slow


def laid_out(
    wh: Warehouse,
    disclosed: DisclosedValues,
    scope: tuple[str, str],
    period: ReportPeriod,
    tmp_path: Path,
) -> LayoutFindings:
    """The layout check of one report, rendered to a tagged PDF as `nbhd report` does."""
    report = build_report(wh, disclosed, scope, period, date(2025, 7, 14))
    document = lay_out(render_html(report, link_stylesheet=False))
    pdf = tmp_path / f"{scope[0]}_{scope[1]}.pdf"
    document.write_pdf(pdf, pdf_variant=PDF_VARIANT)
    return check_layout(document, pdf, " ".join(scope))


def test_every_report_is_laid_out_without_faults(tiny_warehouse: Path, tmp_path: Path) -> None:
    findings = LayoutFindings()
    with open_warehouse(tiny_warehouse) as wh:
        period = resolve_period(wh, None)
        disclosed = DisclosedValues.in_memory(load_disclosed_metric_values(wh, None))
        scopes = list_scopes(wh, period.end)
        for scope in scopes:
            findings.add(laid_out(wh, disclosed, scope, period, tmp_path))
    # the neighbourhood, provider, place and ICB of the tiny ICB, every table cell of each
    assert [kind for kind, _ in scopes] == ["neighbourhood", "provider", "place", "icb"]
    assert findings.cells > 2000
    assert findings.overlaps == []
    assert findings.contradictions == []
    # every page but the last reaches at least a third of the way down (sections run on
    # rather than each starting a page; print.css)
    assert findings.sparse_pages == []


def test_counts_as_large_as_a_national_icbs_fit_their_columns(
    tiny_warehouse: Path, tmp_path: Path
) -> None:
    """A national ICB's counts run to ten characters (`14,012,345` GP encounters a year);
    at icb scale a seven-digit numerator ran into its denominator (`1,132,4752,487,390`).
    The tiny ICB's report, each row's numerator and denominator scaled by a power of ten
    that makes the larger of them eight digits (the values shown are unchanged), lays out
    with every count in its cell."""
    findings = LayoutFindings()
    with open_warehouse(tiny_warehouse) as wh:
        period = resolve_period(wh, None)
        frame = load_disclosed_metric_values(wh, None)
        larger = pl.max_horizontal("numerator", "denominator")
        digits = larger.round(0).cast(pl.Int64).cast(pl.String).str.len_chars()
        factor = pl.when(larger > 0).then(pl.lit(10).pow(8 - digits))
        large = frame.with_columns(
            (pl.col(column) * factor.fill_null(1)).round(0)
            for column in ("numerator", "denominator")
        )
        larger_counts = large.select(larger.alias("count")).drop_nulls()
        assert larger_counts.select((pl.col("count") < 10**8).all()).item()
        eight_digits = larger_counts.filter(pl.col("count") >= 10**7)  # `12,345,678`
        assert eight_digits.height > frame.height / 2
        disclosed = DisclosedValues.in_memory(large)
        scope = next(s for s in list_scopes(wh, period.end) if s[0] == "icb")
        findings.add(laid_out(wh, disclosed, scope, period, tmp_path))
    assert findings.cells > 500
    assert findings.overlaps == []


def test_the_check_finds_an_overprinted_cell_and_a_contradictory_row(tmp_path: Path) -> None:
    """The check itself, on a page made to fail it: a heading too wide for its nowrap
    column runs into the next, and a row says both `withheld` and "No earlier figure"."""
    html = (
        "<html lang='en'><body><table style='table-layout: fixed; width: 60mm'>"
        "<colgroup><col style='width: 10mm'><col><col></colgroup>"
        "<tr><th style='white-space: nowrap'>Numerator</th><th>Denominator</th><th>x</th></tr>"
        "<tr><td>1</td><td>withheld</td><td>No earlier figure</td></tr>"
        "<tr><td>2</td><td>48.1%</td><td>Improved</td></tr>"
        "</table></body></html>"
    )
    document = lay_out(html)
    pdf = tmp_path / "faulty.pdf"
    document.write_pdf(pdf)
    findings = check_layout(document, pdf, "faulty")
    assert findings.cells == 9
    assert findings.overlaps == ["faulty page 1: 'Numerator Deno'"]  # run together
    assert findings.contradictions == ["faulty page 1: '1 withheld No earlier figure'"]


def test_the_check_finds_a_page_left_mostly_empty(tmp_path: Path) -> None:
    """A box forced onto a page of its own, then more pages: the box's page is sparse; the
    last page may be as short as it likes."""
    lines = "".join(f"<p>Line {n} of the text that follows.</p>" for n in range(120))
    html = (
        "<html lang='en'><head><style>@page { size: A4; margin: 20mm 15mm 18mm 15mm; }"
        "p { margin: 0; font-size: 9pt; }</style></head><body>"
        f"<div>{lines[:2000]}</div><div style='break-before: page'>Reading this report.</div>"
        f"<div style='break-before: page'>{lines}</div><p>Last.</p></body></html>"
    )
    document = lay_out(html)
    pdf = tmp_path / "sparse.pdf"
    document.write_pdf(pdf)
    findings = check_layout(document, pdf, "sparse")
    fills = findings.fills["sparse"]
    assert len(fills) == 5 and fills[0] > 0.3 and fills[1] < 0.05
    assert findings.sparse_pages == ["sparse page 2: 2% full"]
