"""`nbhd report` on the real tiny build: the command users run, read back from the PDF."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

from metrics_cli.cli import main
from metrics_cli.report.text import format_value

pytestmark = pytest.mark.slow


def test_neighbourhood_report_from_the_real_marts(tiny_warehouse: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(tiny_warehouse), read_only=True) as con:
        (code,) = con.execute(
            "select geography_code from geographies where geography_type = 'neighbourhood'"
        ).fetchone() or ("",)
        latest = con.execute(
            "select value from metric_values where metric_id = 'same_day_share' "
            "and geography_type = 'neighbourhood' and breakdown_type = 'all' "
            "order by period_start desc limit 1"
        ).fetchone()
    assert code and latest is not None

    exit_code = main(
        ["report", "--neighbourhood", code, "--out", str(tmp_path), "--warehouse",
         str(tiny_warehouse)]
    )
    assert exit_code == 0
    (pdf_path,) = tmp_path.glob("*.pdf")
    reader = PdfReader(str(pdf_path))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 6
    for heading in ("Executive summary", "Continuity of care", "Glossary"):
        assert heading in text
    assert format_value(float(latest[0]), "%") in text

    page = pdfium.PdfDocument(str(pdf_path))[0].render(scale=0.5).to_pil().convert("L")
    low, high = page.getextrema()
    assert high - low > 100, "the cover page rendered blank"
