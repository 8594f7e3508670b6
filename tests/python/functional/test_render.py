"""`nbhd report` end to end on the fixture warehouse: PDFs read back, pages looked at, HTML,
disclosure control, template injection, and `--all` with a failing report."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pypdf
import pypdfium2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/python: report_fixture

from report_fixture import Names, build_report_warehouse

from metrics_cli.cli import main
from metrics_cli.errors import UsageError
from metrics_cli.report.figures import load_disclosed_metric_values
from metrics_cli.report.run import Progress, render_reports, render_scopes
from metrics_cli.report.text import format_value
from metrics_cli.warehouse import open_warehouse

NASTY_NAME = "Hilltop & Vale <b>Bold</b> </style> {{ 7*7 }}"
NASTY_EVIDENCE = 'Rota agreed <b>weekly</b> & "same-day" </style><script>x()</script> {{ config }}'
SMALL = {"1", "2", "3", "4", "5", "6", "7"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    names = Names()
    names.neighbourhoods["NB3"] = NASTY_NAME
    names.evidence = NASTY_EVIDENCE
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    return build_report_warehouse(path, names)


@pytest.fixture(scope="module")
def nb3_pdf(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdf")
    outcome = render_reports(warehouse, out, ("neighbourhood", "NB3"), "pdf", None)
    assert outcome.ok, outcome.summary()
    return out / "neighbourhood_NB3.pdf"


@pytest.fixture(scope="module")
def nb3_text(nb3_pdf: Path) -> str:
    reader = pypdf.PdfReader(nb3_pdf)
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def html_out(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    scopes = [
        ("neighbourhood", "NB1"),
        ("neighbourhood", "NB2"),
        ("neighbourhood", "NB3"),
        ("place", "PL1"),
        ("icb", "QXX"),
        ("provider", "PRV1"),
    ]
    outcome = render_scopes(
        warehouse, out, scopes, "html", workers=1, progress_stream=io.StringIO()
    )
    assert outcome.ok, outcome.summary()
    return out


def mart(warehouse: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def count_cells(html: str) -> list[str]:
    return re.findall(r'<td class="num count">(.*?)</td>', html)


def test_pdf_has_every_section(nb3_text: str) -> None:
    for heading in (
        "Contents",
        "Executive summary",
        "Key messages",
        "Maturity matrix",
        "The shift from hospital to community",
        "Access: same-day urgent care",
        "Continuity of care",
        "Patient experience",
        "Inequalities",
        "Workforce and funding",
        "Benchmarking against peers",
        "Data quality and methods",
        "Glossary and sources",
    ):
        assert heading in nb3_text, heading


def test_pdf_figures_equal_the_marts(warehouse: Path, nb3_text: str) -> None:
    [(value, lower, upper, numerator)] = mart(
        warehouse,
        "select value, lower_95, upper_95, numerator from metric_values where metric_id = "
        "'same_day_share' and geography_code = 'NB3' and period_label = '2025-06' "
        "and breakdown_type = 'all'",
    )
    assert isinstance(value, float) and isinstance(numerator, float)
    assert f"{value:.1f}%" in nb3_text
    # the interval wraps inside its own cell where the column is narrow
    assert f"95% CI {lower:.1f} to {upper:.1f}" in " ".join(nb3_text.split())
    assert f"{round(numerator / 5) * 5:,}" in nb3_text  # counts are rounded to 5
    [(coc, label)] = mart(
        warehouse,
        "select value, period_label from metric_values where metric_id = 'continuity_coc' "
        "and geography_code = 'NB3' and breakdown_type = 'all' and period_grain = 'rolling_12m' "
        "order by period_end desc limit 1",
    )
    assert label == "12m to 2025-06"
    assert isinstance(coc, float)
    assert f"{coc:.3f}" in nb3_text


def test_every_headline_value_is_the_mart_value_or_withheld(warehouse: Path, nb3_text: str) -> None:
    """Each latest NB3 row of the access and continuity metrics prints as the mart's value,
    formatted by unit, unless disclosure control withheld it."""
    with open_warehouse(warehouse) as wh:
        disclosed = load_disclosed_metric_values(wh, ["QXX"])
    units = dict(mart(warehouse, "select metric_id, unit from metric_catalogue"))
    latest = (
        disclosed.filter(
            (pl.col("geography_code") == "NB3")
            & (pl.col("breakdown_type") == "all")
            & pl.col("metric_id").str.contains(
                "^(same_day|within|dna|face|gp_app|appointments|continuity)"
            )
        )
        .sort("period_end", "period_grain")
        .group_by("metric_id")
        .last()
    )
    raw = dict(
        mart(
            warehouse,
            "select metric_id || '|' || period_label, value from metric_values "
            "where geography_code = 'NB3' and breakdown_type = 'all'",
        )
    )
    shown = 0
    for row in latest.iter_rows(named=True):
        if row["is_suppressed"]:
            continue
        value = raw[f"{row['metric_id']}|{row['period_label']}"]
        assert isinstance(value, float)
        assert format_value(value, str(units[row["metric_id"]])) in nb3_text, row["metric_id"]
        shown += 1
    assert shown >= 8


def test_small_counts_never_reach_the_page(warehouse: Path, nb3_text: str, html_out: Path) -> None:
    small_cells = mart(
        warehouse,
        "select metric_id, breakdown_type, breakdown_value, numerator, denominator "
        "from metric_values where geography_code = 'NB3' and numerator between 1 and 7",
    )
    # the fixture does hold small counts for NB3, so this test can fail
    assert ("acsc_emergency_admission_dsr", "imd_quintile", "1", 5.0, 350.0) in small_cells
    label = "Quintile 1 (most deprived)"
    rows = [line[len(label) :] for line in nb3_text.splitlines() if line.startswith(label)]
    assert rows, "the quintile tables are in the PDF"
    for cells in rows:
        tokens = set(re.findall(r"(?<![\d.,])\d+(?![\d.,%])", cells))
        assert not tokens & SMALL, cells
    for path in html_out.glob("*.html"):
        cells = count_cells(path.read_text(encoding="utf-8"))
        assert cells
        assert not set(cells) & SMALL, path.name
    nb3 = (html_out / "neighbourhood_NB3.html").read_text(encoding="utf-8")
    # a withheld row is one cell across its value and counts
    assert '<td class="withheld-row" colspan="3"><span class="withheld">withheld</span></td>' in (
        nb3
    )


def test_frail_cohort_of_seven_is_withheld(warehouse: Path, html_out: Path) -> None:
    [(patients,)] = mart(
        warehouse,
        "select denominator from metric_values where metric_id = 'continuity_coc' and "
        "geography_code = 'NB3' and breakdown_value = 'frail' and period_label = '12m to 2025-06'",
    )
    assert patients == 7.0
    nb3 = (html_out / "neighbourhood_NB3.html").read_text(encoding="utf-8")
    frail_row = re.search(r"<tr><td>Moderate or severe frailty</td>(.*?)</tr>", nb3, re.S)
    assert frail_row is not None
    assert frail_row.group(1).count('<span class="withheld">withheld</span>') == 2
    assert "small" not in frail_row.group(1) and "*" not in frail_row.group(1)


def test_withheld_figures_never_say_which_rule_withheld_them(html_out: Path) -> None:
    """A withheld cell is only marked withheld; the key under each table with one, the cover
    and the methods give both reasons with the build's threshold, never a cell's own reason
    (knowing which cells are small would help to pin their counts)."""
    key = (
        "means either that one of the counts behind it is fewer than 8 people or events (for "
        "an average or a survey result, fewer than 10 patients or respondents), or that it "
        "is withheld so that a small number elsewhere cannot be worked out by subtraction."
    )
    for path in html_out.glob("*.html"):
        html = " ".join(path.read_text(encoding="utf-8").split())
        body = html.split("<body>")[1]
        for word in ("small_count", "small_base", "secondary", "(small numbers)", "1 to 7"):
            assert word not in body, (path.name, word)
        assert not re.search(r">\s*\*", body), path.name  # no `*` in place of a figure
        assert f"A figure shown as <em>withheld</em> {key}" in body, path.name  # the cover
        # every withheld figure has the key before the next heading
        for found in re.finditer(r"class=\"withheld\">withheld<|>withheld</text>", body):
            rest = body[found.end() :]
            heading = re.search(r"<h[234]", rest)
            key_at = rest.find('<p class="key">')
            assert key_at >= 0 and (heading is None or key_at < heading.start()), path.name
            assert rest[key_at:].startswith(
                f'<p class="key"><span class="withheld">Withheld</span> {key}</p>'
            )
    nb3 = " ".join((html_out / "neighbourhood_NB3.html").read_text(encoding="utf-8").split())
    assert "Slope index withheld: it would let a withheld quintile be worked out." in nb3


def test_pages_are_not_blank_and_the_report_is_short(nb3_pdf: Path) -> None:
    document = pypdfium2.PdfDocument(nb3_pdf)
    assert 8 <= len(document) <= 14
    for index in range(len(document)):
        image = document[index].render(scale=0.4, grayscale=True).to_numpy()
        assert float(np.var(image)) > 50.0, f"page {index + 1} looks blank"


def test_pdf_is_tagged_for_accessibility(nb3_pdf: Path) -> None:
    reader = pypdf.PdfReader(nb3_pdf)
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "en-GB"
    assert reader.metadata is not None
    assert reader.metadata.title == f"Neighbourhood report: {NASTY_NAME}"
    assert b"pdfuaid" in root["/Metadata"].get_data()


def test_names_and_evidence_print_literally(nb3_text: str, html_out: Path) -> None:
    nb3 = (html_out / "neighbourhood_NB3.html").read_text(encoding="utf-8")
    assert "Hilltop &amp; Vale &lt;b&gt;Bold&lt;/b&gt; &lt;/style&gt; {{ 7*7 }}" in nb3
    assert "<b>Bold</b>" not in nb3 and "<script>" not in nb3 and "<b>weekly</b>" not in nb3
    assert "&lt;b&gt;weekly&lt;/b&gt; &amp; &#34;same-day&#34;" in nb3
    assert "Hilltop & Vale <b>Bold</b> </style> {{ 7*7 }}" in nb3_text
    assert 'Rota agreed <b>weekly</b> & "same-day"' in nb3_text.replace("\n", " ")
    assert "Hilltop & Vale 49" not in nb3_text


def test_html_format_ships_its_styles_and_inline_charts(html_out: Path) -> None:
    assert (html_out / "static" / "print.css").is_file()
    assert (html_out / "static" / "fonts" / "DejaVuSans.ttf").is_file()
    assert (html_out / "static" / "fonts" / "LICENSE").is_file()
    html = (html_out / "place_PL1.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet" href="static/print.css">' in html
    assert html.count('role="img"') >= 5
    assert "<title>Place report: Riverside Place</title>" in html


def test_higher_geographies_get_a_maturity_overview(html_out: Path) -> None:
    icb = (html_out / "icb_QXX.html").read_text(encoding="utf-8")
    assert "Level achieved by member neighbourhood and domain" in icb
    for name in ("North Riverside (NB1)", "South Riverside (NB2)"):
        assert name in icb
    provider = (html_out / "provider_PRV1.html").read_text(encoding="utf-8")
    assert (
        "South Riverside (NB2)" in provider
        and "Hilltop"
        not in provider.split("Level achieved by member neighbourhood")[1].split("</table>")[0]
    )


def test_discrepancy_and_missing_inputs_are_said_plainly(html_out: Path) -> None:
    nb2 = (html_out / "neighbourhood_NB2.html").read_text(encoding="utf-8")
    assert "Self-assessment is higher than the metric evidence supports" in nb2
    assert "Not produced, because their inputs were not loaded" in nb2
    assert "GP full-time equivalents per 10,000 weighted patients" in nb2
    assert "Not available for this neighbourhood" in nb2
    assert "Primary and community share of spend" in nb2
    place = (html_out / "place_PL1.html").read_text(encoding="utf-8")
    assert "Primary and community share of spend" in place
    assert "36.0%" in place  # 182 / 505 million, the fixture's spend


def test_spc_signals_appear_with_their_icons(html_out: Path) -> None:
    nb1 = (html_out / "neighbourhood_NB1.html").read_text(encoding="utf-8")
    assert 'aria-label="Special cause variation: improvement, unusually high values"' in nb1
    assert (
        'aria-label="Assurance: the process will sometimes meet and sometimes fail the '
        'target"' in nb1
    )
    assert "Appointments booked on the same day shows" not in nb1  # said as a change instead
    nb2 = (html_out / "neighbourhood_NB2.html").read_text(encoding="utf-8")
    assert 'aria-label="Special cause variation: concern, unusually high values"' in nb2


def test_all_with_a_failing_report_writes_the_others(warehouse: Path, tmp_path: Path) -> None:
    scopes = [("neighbourhood", "NB1"), ("neighbourhood", "NOPE"), ("place", "PL2")]
    progress = io.StringIO()
    outcome = render_scopes(
        warehouse, tmp_path, scopes, "html", workers=2, progress_stream=progress
    )
    assert not outcome.ok
    assert sorted(p.name for p in tmp_path.glob("*.html")) == [
        "neighbourhood_NB1.html",
        "place_PL2.html",
    ]
    assert [f.scope for f in outcome.failures] == [("neighbourhood", "NOPE")]
    summary = outcome.summary()
    assert "FAILED neighbourhood NOPE: no neighbourhood with code 'NOPE'" in summary
    assert "2 written, 1 failed" in summary
    assert progress.getvalue().endswith("\n") and "3/3" in progress.getvalue()


def test_a_report_failing_while_written_leaves_the_previous_one_whole(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDF is written beside its target and moved into place only when complete."""
    previous = tmp_path / "neighbourhood_NB1.pdf"
    previous.write_bytes(b"%PDF- the last good report")

    def fail_half_way(html: str, path: Path) -> int:
        path.write_bytes(b"%PDF- half a report")
        raise OSError("disk full")

    monkeypatch.setattr("metrics_cli.report.run.write_pdf", fail_half_way)
    outcome = render_scopes(warehouse, tmp_path, [("neighbourhood", "NB1")], "pdf", workers=1)
    assert [f.scope for f in outcome.failures] == [("neighbourhood", "NB1")]
    assert "disk full" in outcome.summary()
    assert previous.read_bytes() == b"%PDF- the last good report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neighbourhood_NB1.pdf"]


def test_render_reports_all_covers_every_geography(warehouse: Path, tmp_path: Path) -> None:
    outcome = render_reports(warehouse, tmp_path, None, "html", None)
    assert outcome.ok, outcome.summary()
    assert sorted(p.name for p in tmp_path.glob("*.html")) == [
        "icb_QXX.html",
        "neighbourhood_NB1.html",
        "neighbourhood_NB2.html",
        "neighbourhood_NB3.html",
        "place_PL1.html",
        "place_PL2.html",
        "provider_PRV1.html",
    ]
    assert all(report.seconds > 0 for report in outcome.reports)


def test_unknown_scope_period_or_format_is_a_usage_error(warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no neighbourhood with code 'NOPE'"):
        render_reports(warehouse, tmp_path, ("neighbourhood", "NOPE"), "pdf", None)
    with pytest.raises(UsageError, match="no period labelled '1999/00'"):
        render_reports(warehouse, tmp_path, ("neighbourhood", "NB1"), "pdf", "1999/00")
    with pytest.raises(UsageError, match="--format"):
        render_scopes(warehouse, tmp_path, [("neighbourhood", "NB1")], "docx")
    with pytest.raises(UsageError, match="no warehouse"):
        render_reports(tmp_path / "missing.duckdb", tmp_path, None, "pdf", None)


def test_an_earlier_period_shows_figures_as_they_were(warehouse: Path, tmp_path: Path) -> None:
    outcome = render_reports(warehouse, tmp_path, ("neighbourhood", "NB1"), "html", "2024/25")
    assert outcome.ok
    html = (tmp_path / "neighbourhood_NB1.html").read_text(encoding="utf-8")
    assert "Figures for the period ending 31 March 2025" in html
    [(value,)] = mart(
        warehouse,
        "select value from metric_values where metric_id = 'same_day_share' and "
        "geography_code = 'NB1' and period_label = '2025-03' and breakdown_type = 'all'",
    )
    assert isinstance(value, float)
    assert f"{value:.1f}%" in html
    assert "2025-06" not in html.split("Key messages")[1].split("Sources of the key")[0]


def test_progress_bar() -> None:
    stream = io.StringIO()
    progress = Progress(2, stream, width=4)
    progress.advance("neighbourhood NB1")
    progress.advance("place PL1")
    assert stream.getvalue() == (
        "\rreports [##--] 1/2 neighbourhood NB1"
        + " " * 23
        + "\rreports [####] 2/2 place PL1"
        + " " * 31
        + "\n"
    )


def test_the_command_line_writes_a_report_and_exits_by_outcome(
    warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--format", "html", "--out", str(tmp_path), "--warehouse", str(warehouse)]
    assert main(["report", "--provider", "PRV1", *common]) == 0
    assert (tmp_path / "provider_PRV1.html").is_file()
    assert f"wrote {tmp_path / 'provider_PRV1.html'}" in capsys.readouterr().out
    assert main(["report", "--provider", "NOPE", *common]) == 2
    assert "nbhd: no at-scale provider with code 'NOPE'" in capsys.readouterr().err


def test_sections_left_out_are_explained(warehouse: Path, html_out: Path) -> None:
    provider = " ".join((html_out / "provider_PRV1.html").read_text(encoding="utf-8").split())
    assert "Benchmarking: fewer than two comparable at-scale providers in the ICB" in provider
    assert "Benchmarking against peers</h2>" not in provider
    nb1 = (html_out / "neighbourhood_NB1.html").read_text(encoding="utf-8")
    assert "Sections not shown" not in nb1
