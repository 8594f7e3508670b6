"""Table layout read back from a rendered report: every table cell's box (from WeasyPrint's
layout of the document) against the text the PDF actually holds (pypdfium2's text runs).

A text run that reaches more than 0.5 pt into a second cell is an overlap: text of one cell
printed over another (a confidence interval overflowing a narrow column, two column
headings running together). A row whose text holds both a withheld figure and "No earlier
figure" contradicts itself: the earlier figure exists, it is only withheld. A page other
than the last whose text reaches less than a third of the way down its text area is left
mostly empty (a section's last lines pushed over, a box kept whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

PX_TO_PT = 0.75
"""CSS pixels (WeasyPrint's layout unit) to PDF points."""
TOLERANCE = 0.5
"""How far (pt) a run may touch a neighbouring cell before it counts as overlapping it."""
MM_TO_PT = 72 / 25.4
MARGIN_TOP, MARGIN_BOTTOM = 20 * MM_TO_PT, 18 * MM_TO_PT
"""The page box's margins (print.css `@page`): the running header and footer lie in them."""
LEAST_FILL = 1 / 3
"""How full (text reaching down the page) every page but the last must be."""


@dataclass(frozen=True)
class Cell:
    """A table cell's border box on a page, in PDF points from the page's top left."""

    page: int
    row: int
    left: float
    top: float
    right: float
    bottom: float


@dataclass
class LayoutFindings:
    """What the check found in one or more reports."""

    cells: int = 0
    overlaps: list[str] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    fills: dict[str, list[float]] = field(default_factory=dict)
    sparse_pages: list[str] = field(default_factory=list)

    def add(self, other: LayoutFindings) -> None:
        self.cells += other.cells
        self.overlaps.extend(other.overlaps)
        self.contradictions.extend(other.contradictions)
        self.fills.update(other.fills)
        self.sparse_pages.extend(other.sparse_pages)


def _boxes(box: Any) -> Iterator[Any]:
    yield box
    for child in getattr(box, "children", ()) or ():
        yield from _boxes(child)


def leaf_cells(document: Any) -> list[Cell]:
    """Every table cell that holds no other table, page by page, tagged with its row."""
    from weasyprint.formatting_structure.boxes import TableCellBox, TableRowBox

    cells: list[Cell] = []
    row_number = 0
    for page_number, page in enumerate(document.pages):
        for box in _boxes(page._page_box):
            if not isinstance(box, TableRowBox):
                continue
            row_number += 1
            for cell in box.children:
                if not isinstance(cell, TableCellBox):
                    continue
                if any(isinstance(b, TableCellBox) for b in _boxes(cell) if b is not cell):
                    continue
                left, top = cell.border_box_x(), cell.border_box_y()
                cells.append(
                    Cell(
                        page_number,
                        row_number,
                        left * PX_TO_PT,
                        top * PX_TO_PT,
                        (left + cell.border_width()) * PX_TO_PT,
                        (top + cell.border_height()) * PX_TO_PT,
                    )
                )
    return cells


def _overlap(a_low: float, a_high: float, b_low: float, b_high: float) -> float:
    return min(a_high, b_high) - max(a_low, b_low)


def page_fill(text_page: Any, height: float) -> float:
    """How far down a page's text area its text reaches, from 0 (none) to 1 (the bottom):
    the lowest text run between the running header and footer, against the area's height."""
    area_top, area_bottom = height - MARGIN_TOP, MARGIN_BOTTOM
    lowest = area_top
    for index in range(text_page.count_rects()):
        _, bottom, _, top = text_page.get_rect(index)
        if bottom >= area_bottom and top <= area_top:
            lowest = min(lowest, bottom)
    return (area_top - lowest) / (area_top - area_bottom)


def check_layout(document: Any, pdf: Path, name: str) -> LayoutFindings:
    """The laid-out `document` and the PDF it was written to (`pdf`) checked cell by cell,
    and page by page for pages left mostly empty."""
    cells = leaf_cells(document)
    findings = LayoutFindings(cells=len(cells))
    pdf_document = pdfium.PdfDocument(str(pdf))
    try:
        fills = findings.fills.setdefault(name, [])
        for page_number in range(len(pdf_document)):
            page = pdf_document[page_number]
            height = page.get_size()[1]
            text_page = page.get_textpage()
            fills.append(page_fill(text_page, height))
            if fills[-1] < LEAST_FILL and page_number < len(pdf_document) - 1:
                findings.sparse_pages.append(
                    f"{name} page {page_number + 1}: {fills[-1]:.0%} full"
                )
            on_page = [c for c in cells if c.page == page_number]
            for index in range(text_page.count_rects()):
                left, bottom, right, top = text_page.get_rect(index)
                text = text_page.get_text_bounded(left, bottom, right, top).strip()
                run_top, run_bottom = height - top, height - bottom
                touched = [
                    c
                    for c in on_page
                    if _overlap(left, right, c.left, c.right) > TOLERANCE
                    and _overlap(run_top, run_bottom, c.top, c.bottom) > (run_bottom - run_top) / 2
                ]
                if len(touched) > 1 and text:
                    findings.overlaps.append(f"{name} page {page_number + 1}: {text!r}")
            rows: dict[int, list[str]] = {}
            for cell in on_page:
                rows.setdefault(cell.row, []).append(
                    text_page.get_text_bounded(
                        cell.left, height - cell.bottom, cell.right, height - cell.top
                    )
                )
            for texts in rows.values():
                joined = " ".join(" ".join(texts).split())
                if "withheld" in joined and "No earlier figure" in joined:
                    findings.contradictions.append(f"{name} page {page_number + 1}: {joined!r}")
    finally:
        pdf_document.close()
    return findings
