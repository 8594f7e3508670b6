"""`nbhd report` end to end on the mart snapshot of the tiny build (tests/data/report_marts):
PDFs read back, pages looked at, HTML, disclosure control, template injection, and `--all`
with a failing report.

Every figure asserted here is a row of the snapshot, checked by hand from its counts where
the method allows (tests/data/report_marts/README.md): the same-day share of March 2025 is
4,150 of 7,535 appointments, 55.08%, Wilson 95% interval 53.95% to 56.20%.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
import pypdf
import pypdfium2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/python: report_snapshot

from report_snapshot import load_snapshot

from metrics_cli.cli import main
from metrics_cli.errors import UsageError
from metrics_cli.report.run import Progress, render_reports, render_scopes

NEIGHBOURHOOD = ("neighbourhood", "NBH0001")
SCOPES = [NEIGHBOURHOOD, ("provider", "NF001"), ("place", "E06900001"), ("icb", "Q9A")]
NASTY_NAME = "Riverside & Vale <b>Bold</b> </style> {{ 7*7 }}"
NASTY_EVIDENCE = 'Rota agreed <b>weekly</b> & "same-day" </style><script>x()</script> {{ config }}'
SMALL = {"1", "2", "3", "4", "5", "6", "7"}
NAMES = (
    f"update geography_snapshots set geography_name = '{NASTY_NAME}' "
    "where geography_type = 'neighbourhood' and geography_code = 'NBH0001'",
    "update maturity_criteria_results set evidence_summary = "
    f"'{NASTY_EVIDENCE.replace(chr(39), chr(39) * 2)}' where criterion_kind = 'self_assessed'",
)
WORKFORCE = ("gp_fte_per_10k", "clinical_fte_per_10k", "arrs_fte_per_10k")
NO_WORKFORCE = tuple(
    f"delete from {table} where metric_id in {WORKFORCE}"
    for table in ("disclosed_metric_values", "metric_judgements")
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_snapshot(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def nasty_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snapshot with the neighbourhood's name and the self-assessed evidence replaced
    by text holding HTML, a closing style tag and template syntax."""
    path = tmp_path_factory.mktemp("nasty") / "warehouse.duckdb"
    return load_snapshot(path, *NAMES)


@pytest.fixture(scope="module")
def nb_pdf(nasty_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pdf")
    outcome = render_reports(nasty_warehouse, out, NEIGHBOURHOOD, "pdf", None)
    assert outcome.ok, outcome.summary()
    return out / "neighbourhood_NBH0001.pdf"


@pytest.fixture(scope="module")
def nb_text(nb_pdf: Path) -> str:
    reader = pypdf.PdfReader(nb_pdf)
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def html_out(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    outcome = render_scopes(
        warehouse, out, SCOPES, "html", workers=1, progress_stream=io.StringIO()
    )
    assert outcome.ok, outcome.summary()
    return out


def html_of(out: Path, name: str) -> str:
    return (out / f"{name}.html").read_text(encoding="utf-8")


def count_cells(html: str) -> list[str]:
    return re.findall(r'<td class="num count">(.*?)</td>', html)


def test_pdf_has_every_section(nb_text: str) -> None:
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
        "Data quality and methods",
        "Glossary and sources",
    ):
        assert heading in nb_text, heading
    # one neighbourhood in the tiny ICB: no peers to benchmark against, and it says so
    assert "Benchmarking against peers" not in nb_text
    assert "Benchmarking: fewer than two comparable neighbourhoods in the ICB" in nb_text


def test_pdf_figures_equal_the_marts(nb_text: str) -> None:
    """same_day_share, NBH0001, 2025-03: 4,150 / 7,535 = 55.08%, Wilson 53.95% to 56.20%
    (by hand); continuity_coc, 12m to 2025-03: 0.3476 over 7,335 patients."""
    assert "55.1%" in nb_text
    # the interval wraps inside its own cell where the column is narrow
    assert "95% CI 54.0 to 56.2" in " ".join(nb_text.split())
    assert "4,150" in nb_text and "7,535" in nb_text  # counts as rounded to 5 by the build
    assert "0.348" in nb_text and "7,335" in nb_text


def test_every_headline_value_is_the_snapshot_value(nb_text: str) -> None:
    """The latest NBH0001 row of each access and continuity metric, as the snapshot holds
    it (disclosed_metric_values, breakdown all), formatted by its unit."""
    printed = {
        "same_day_share": "55.1%",  # 2025-03, 4,150 / 7,535
        "within_two_weeks_share": "83.5%",  # 2025-03, 6,295 / 7,535
        "dna_rate": "4.3%",  # 2025-03, 330 / 7,595
        "face_to_face_share": "69.0%",  # 2025-03, 5,255 / 7,620
        "gp_appointment_share": "42.7%",  # 2025-03, 3,250 / 7,615
        "appointments_per_1000": "502.6",  # 2025-03, 7,665 / 15,250 x 1,000
        "continuity_upc": "0.609",  # 12m to 2025-03
        "continuity_coc": "0.348",
        "continuity_secon": "0.348",
        "continuity_mmci": "0.545",
        "continuity_slicc": "46.7%",  # 2024/25, 16,295 / 34,865
        "continuity_own_patient_ratio": "49.3%",  # 2024/25, 16,295 / 33,040
    }
    for metric_id, value in printed.items():
        assert value in nb_text, metric_id


def test_small_counts_never_reach_the_page(nb_text: str, html_out: Path) -> None:
    """Quintiles 1 and 2 of the 2024/25 ACSC admissions are withheld (edits.sql): their
    counts (155 of 5,235 and 40 of 1,890) and rates never print; quintile 5 does."""
    label = "Quintile 1 (most deprived)"
    rows = [line[len(label) :] for line in nb_text.splitlines() if line.startswith(label)]
    assert rows, "the quintile tables are in the PDF"
    for cells in rows:
        tokens = set(re.findall(r"(?<![\d.,])\d+(?![\d.,%])", cells))
        assert not tokens & SMALL, cells
    for path in html_out.glob("*.html"):
        cells = count_cells(path.read_text(encoding="utf-8"))
        assert cells
        assert not set(cells) & SMALL, path.name
    nb = html_of(html_out, "neighbourhood_NBH0001")
    table = nb.split("<h3>Emergency admissions for ambulatory care sensitive conditions (2024")[1]
    table = table.split('<p class="key">')[0]
    # a withheld row is one cell across its value and counts
    withheld_row = (
        '<td class="withheld-row" colspan="3"><span class="withheld">withheld</span></td>'
    )
    assert table.count(withheld_row) == 2
    for figure in ("3,822.1", ">5,235<", ">155<", "2,193.6", ">40<"):
        assert figure not in table, figure
    assert ">4,765<" in table and ">60<" in table  # quintile 5: 60 / 4,765, 983.3


def test_frail_cohort_is_withheld(html_out: Path) -> None:
    nb = html_of(html_out, "neighbourhood_NBH0001")
    frail_row = re.search(r"<tr><td>Moderate or severe frailty</td>(.*?)</tr>", nb, re.S)
    assert frail_row is not None
    # the four indices of 12m to 2025-03 and the two shares of 2024/25
    assert frail_row.group(1).count('<span class="withheld">withheld</span>') == 6
    assert "small" not in frail_row.group(1) and "*" not in frail_row.group(1)
    older = re.search(r"<tr><td>Aged 75 and over</td>(.*?)</tr>", nb, re.S)
    assert older is not None and "withheld" not in older.group(1)
    assert "0.388" in older.group(1)  # continuity_coc, aged 75+: 0.3879 over 1,135 patients


def test_withheld_figures_never_say_which_rule_withheld_them(html_out: Path) -> None:
    """A withheld cell is only marked withheld; the key under each table with one, the cover
    and the methods give both reasons with the build's threshold, never a cell's own reason
    (knowing which cells are small would help to pin their counts)."""
    key = (
        "means either that one of the counts behind it is fewer than 8 people or events (for "
        "an average or a survey result, fewer than 10 patients or respondents), or that it "
        "is withheld so that a small number elsewhere cannot be worked out by subtraction."
    )
    withheld_seen = 0
    for path in html_out.glob("*.html"):
        html = " ".join(path.read_text(encoding="utf-8").split())
        body = html.split("<body>")[1]
        for word in ("small_count", "small_base", "secondary", "(small numbers)", "1 to 7"):
            assert word not in body, (path.name, word)
        assert not re.search(r">\s*\*", body), path.name  # no `*` in place of a figure
        assert f"A figure shown as <em>withheld</em> {key}" in body, path.name  # the cover
        # every withheld figure has the key before the next heading
        for found in re.finditer(r"class=\"withheld\">withheld<|>withheld</text>", body):
            withheld_seen += 1
            rest = body[found.end() :]
            heading = re.search(r"<h[234]", rest)
            key_at = rest.find('<p class="key">')
            assert key_at >= 0 and (heading is None or key_at < heading.start()), path.name
            assert rest[key_at:].startswith(
                f'<p class="key"><span class="withheld">Withheld</span> {key}</p>'
            )
    assert withheld_seen >= 8
    nb = " ".join(html_of(html_out, "neighbourhood_NBH0001").split())
    assert "Slope index withheld: it would let a withheld quintile be worked out." in nb


def test_pages_are_not_blank_and_the_report_is_short(nb_pdf: Path) -> None:
    document = pypdfium2.PdfDocument(nb_pdf)
    assert 8 <= len(document) <= 14
    for index in range(len(document)):
        image = document[index].render(scale=0.4, grayscale=True).to_numpy()
        assert float(np.var(image)) > 50.0, f"page {index + 1} looks blank"


def test_pdf_is_tagged_for_accessibility(nb_pdf: Path) -> None:
    reader = pypdf.PdfReader(nb_pdf)
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "en-GB"
    assert reader.metadata is not None
    assert reader.metadata.title == f"Neighbourhood report: {NASTY_NAME}"
    assert b"pdfuaid" in root["/Metadata"].get_data()


def test_names_and_evidence_print_literally(
    nasty_warehouse: Path, nb_text: str, tmp_path: Path
) -> None:
    outcome = render_reports(nasty_warehouse, tmp_path, NEIGHBOURHOOD, "html", None)
    assert outcome.ok, outcome.summary()
    nb = html_of(tmp_path, "neighbourhood_NBH0001")
    assert "Riverside &amp; Vale &lt;b&gt;Bold&lt;/b&gt; &lt;/style&gt; {{ 7*7 }}" in nb
    assert "<b>Bold</b>" not in nb and "<script>" not in nb and "<b>weekly</b>" not in nb
    assert "&lt;b&gt;weekly&lt;/b&gt; &amp; &#34;same-day&#34;" in nb
    assert NASTY_NAME in nb_text
    assert 'Rota agreed <b>weekly</b> & "same-day"' in nb_text.replace("\n", " ")
    assert "Riverside & Vale 49" not in nb_text


def test_html_format_ships_its_styles_and_inline_charts(html_out: Path) -> None:
    assert (html_out / "static" / "print.css").is_file()
    assert (html_out / "static" / "fonts" / "DejaVuSans.ttf").is_file()
    assert (html_out / "static" / "fonts" / "LICENSE").is_file()
    html = html_of(html_out, "neighbourhood_NBH0001")
    assert '<link rel="stylesheet" href="static/print.css">' in html
    assert html.count('role="img"') >= 5
    assert "<title>Neighbourhood report: St Anne&#39;s &amp; Riverside</title>" in html
    assert "<title>Place report: Stoneley</title>" in html_of(html_out, "place_E06900001")


def test_higher_geographies_get_a_maturity_overview(html_out: Path) -> None:
    for name in ("icb_Q9A", "provider_NF001", "place_E06900001"):
        html = html_of(html_out, name)
        assert "Level achieved by member neighbourhood and domain" in html, name
        overview = html.split("Level achieved by member neighbourhood")[1].split("</table>")[0]
        assert "St Anne&#39;s &amp; Riverside (NBH0001)" in overview, name
    assert "Level achieved by member neighbourhood" not in html_of(
        html_out, "neighbourhood_NBH0001"
    )


def test_discrepancy_and_spend_are_said_plainly(html_out: Path) -> None:
    nb = html_of(html_out, "neighbourhood_NBH0001")
    assert "Self-assessment is higher than the metric evidence supports" in nb
    assert "Not produced, because their inputs were not loaded" not in nb
    # spend is made for places and ICBs only
    assert "Not available for this neighbourhood" in nb
    assert "Primary and community share of spend" in nb
    place = html_of(html_out, "place_E06900001")
    assert "Primary and community share of spend" in place
    assert "32.3%" in place  # 2024/25: 10,819,365.51 / 33,504,148.20


def test_a_dataset_not_loaded_is_said_plainly(tmp_path: Path) -> None:
    """Without the workforce dataset no workforce metric has any row: the report names the
    metrics not produced rather than showing them empty."""
    warehouse = load_snapshot(tmp_path / "warehouse.duckdb", *NO_WORKFORCE)
    out = tmp_path / "reports"  # never the warehouse's own directory
    outcome = render_reports(warehouse, out, NEIGHBOURHOOD, "html", None)
    assert outcome.ok, outcome.summary()
    nb = html_of(out, "neighbourhood_NBH0001")
    assert "Not produced, because their inputs were not loaded" in nb
    assert "GP full-time equivalents per 10,000 weighted patients" in nb


def test_spc_signals_appear_with_their_icons(html_out: Path) -> None:
    nb = html_of(html_out, "neighbourhood_NBH0001")
    assert 'aria-label="Special cause variation: improvement, unusually high values"' in nb
    assert 'aria-label="Assurance: the process will consistently meet the target"' in nb
    assert "Appointments booked on the same day shows" not in nb  # said as a change instead
    # the SLICC share's last month (45.3%) sits in a run of low points
    assert 'aria-label="Special cause variation: concern, unusually low values"' in nb


def test_all_with_a_failing_report_writes_the_others(warehouse: Path, tmp_path: Path) -> None:
    scopes = [NEIGHBOURHOOD, ("neighbourhood", "NOPE"), ("place", "E06900001")]
    progress = io.StringIO()
    outcome = render_scopes(
        warehouse, tmp_path, scopes, "html", workers=2, progress_stream=progress
    )
    assert not outcome.ok
    assert sorted(p.name for p in tmp_path.glob("*.html")) == [
        "neighbourhood_NBH0001.html",
        "place_E06900001.html",
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
    previous = tmp_path / "neighbourhood_NBH0001.pdf"
    previous.write_bytes(b"%PDF- the last good report")

    def fail_half_way(html: str, path: Path) -> int:
        path.write_bytes(b"%PDF- half a report")
        raise OSError("disk full")

    monkeypatch.setattr("metrics_cli.report.run.write_pdf", fail_half_way)
    outcome = render_scopes(warehouse, tmp_path, [NEIGHBOURHOOD], "pdf", workers=1)
    assert [f.scope for f in outcome.failures] == [NEIGHBOURHOOD]
    assert "disk full" in outcome.summary()
    assert previous.read_bytes() == b"%PDF- the last good report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["neighbourhood_NBH0001.pdf"]


def test_render_reports_all_covers_every_geography(warehouse: Path, tmp_path: Path) -> None:
    outcome = render_reports(warehouse, tmp_path, None, "html", None)
    assert outcome.ok, outcome.summary()
    assert sorted(p.name for p in tmp_path.glob("*.html")) == [
        "icb_Q9A.html",
        "neighbourhood_NBH0001.html",
        "place_E06900001.html",
        "provider_NF001.html",
    ]
    assert all(report.seconds > 0 for report in outcome.reports)


def test_unknown_scope_period_or_format_is_a_usage_error(warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no neighbourhood with code 'NOPE'"):
        render_reports(warehouse, tmp_path, ("neighbourhood", "NOPE"), "pdf", None)
    with pytest.raises(UsageError, match="no period labelled '1999/00'"):
        render_reports(warehouse, tmp_path, NEIGHBOURHOOD, "pdf", "1999/00")
    with pytest.raises(UsageError, match="--format"):
        render_scopes(warehouse, tmp_path, [NEIGHBOURHOOD], "docx")
    with pytest.raises(UsageError, match="no warehouse"):
        render_reports(tmp_path / "missing.duckdb", tmp_path, None, "pdf", None)


def test_an_earlier_period_shows_figures_as_they_were(warehouse: Path, tmp_path: Path) -> None:
    outcome = render_reports(warehouse, tmp_path, NEIGHBOURHOOD, "html", "2024-12")
    assert outcome.ok
    html = html_of(tmp_path, "neighbourhood_NBH0001")
    assert "Figures for the period ending 31 December 2024" in html
    assert "56.0%" in html  # same_day_share, 2024-12: 4,655 / 8,310
    assert "2025-03" not in html.split("Key messages")[1].split("Sources of the key")[0]


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
    assert main(["report", "--provider", "NF001", *common]) == 0
    assert (tmp_path / "provider_NF001.html").is_file()
    assert f"wrote {tmp_path / 'provider_NF001.html'}" in capsys.readouterr().out
    assert main(["report", "--provider", "NOPE", *common]) == 2
    assert "nbhd: no at-scale provider with code 'NOPE'" in capsys.readouterr().err


def test_sections_left_out_are_explained(html_out: Path) -> None:
    provider = " ".join(html_of(html_out, "provider_NF001").split())
    assert "Benchmarking: fewer than two comparable at-scale providers in the ICB" in provider
    assert "Benchmarking against peers</h2>" not in provider
    # the snapshot keeps the place's whole-population rows only (README): no quintiles
    place = " ".join(html_of(html_out, "place_E06900001").split())
    assert "Inequalities</h2>" not in place
    assert (
        "Inequalities: no metric has figures by deprivation quintile for this place; they "
        "need the lsoa_deprivation dataset." in place
    )
    nb = " ".join(html_of(html_out, "neighbourhood_NBH0001").split())
    assert "Inequalities</h2>" in nb and "Inequalities: no metric" not in nb
