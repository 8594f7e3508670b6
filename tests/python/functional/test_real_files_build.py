"""A warehouse built from real published NHS files only, and one real ICB's report.

NHS North East and North Cumbria ICB (QHM) is the ICB that the payments sample in
../shared/reference/nhs covers (334 of its 336 practices). The test takes QHM's rows of
the GPAD practice mapping (August 2025), the January 2021 list sizes and the 2022-23
payments, plus the whole IMD 2019 LSOA file, imports them with `nbhd import` as a user
would, builds, renders the ICB report as PDF and checks its figures against the files.
No activity, patient-level or workforce data is loaded: the build runs without them, and
the report and `data_quality` say what was not produced and why.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from pypdf import PdfReader

from metrics_cli.cli import main

pytestmark = pytest.mark.slow

ICB = "QHM"
TOTAL = "Total NHS Payments to General Practice including Covid and PCN payments"
WEIGHTED = "Number of Weighted Patients (Last Known Figure)"
ABSENT = (
    "community_activity",
    "gp_appointments",
    "gp_encounters",
    "hospital_activity",
    "maturity_assessments",
    "patients",
    "prem_responses",
    "spend",
    "workforce",
)


@pytest.fixture(scope="module")
def published(shared_reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """QHM's rows of the published files, in their published layouts."""
    nhs = shared_reference / "nhs"
    raw = tmp_path_factory.mktemp("published")
    mapping = pl.read_csv(nhs / "gpad_Mapping_Aug25.csv", infer_schema=False)
    mapping = mapping.filter(pl.col("ICB_CODE") == ICB)
    mapping.write_csv(raw / "Mapping.csv")
    practices = mapping.get_column("GP_CODE").unique().implode()
    pl.read_csv(nhs / "gp-reg-pat-prac-all_Jan2021.csv", infer_schema=False).filter(
        pl.col("CODE").is_in(practices)
    ).write_csv(raw / "gp-reg-pat-prac-all.csv")
    pl.read_csv(nhs / "nhs_payments_gp_2022-23_first400.csv", infer_schema=False).filter(
        pl.col("Practice Code").is_in(practices)
    ).write_csv(raw / "nhs_payments_gp_2022-23.csv")
    (raw / "imd.csv").write_bytes((nhs / "imd2019_england_lsoa11_decile_rank.csv").read_bytes())
    return raw


@pytest.fixture(scope="module")
def built(published: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The warehouse built from the imported files, and the ICB report's text."""
    data = tmp_path_factory.mktemp("mydata")
    for kind, name in (
        ("gpad", "Mapping.csv"),
        ("population", "gp-reg-pat-prac-all.csv"),
        ("imd", "imd.csv"),
        ("payments", "nhs_payments_gp_2022-23.csv"),
    ):
        assert main(["import", kind, str(published / name), "--out", str(data)]) == 0
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("NBHD_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    warehouse = tmp_path_factory.mktemp("warehouse") / "mydata.duckdb"
    reports = tmp_path_factory.mktemp("reports")
    try:
        assert main(["build", "--data", str(data), "--warehouse", str(warehouse)]) == 0
        report = ["report", "--icb", ICB, "--out", str(reports), "--warehouse", str(warehouse)]
        assert main(report) == 0
    finally:
        monkeypatch.undo()
    (pdf,) = reports.glob("*.pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    return warehouse, " ".join(text.split())


def payments(published: Path) -> pl.DataFrame:
    return pl.read_csv(published / "nhs_payments_gp_2022-23.csv", infer_schema=False).select(
        pl.col("Practice Code").alias("practice_code"),
        pl.col(TOTAL).cast(pl.Float64).alias("paid"),
        pl.col(WEIGHTED).cast(pl.Float64).alias("weighted"),
    )


def test_the_icb_registered_patients_are_its_practices_in_the_list_size_file(
    published: Path, built: tuple[Path, str]
) -> None:
    listed = pl.read_csv(published / "gp-reg-pat-prac-all.csv")
    assert (listed.height, listed["NUMBER_OF_PATIENTS"].sum()) == (336, 2_961_866)
    warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # every month of 2022/23 uses the one extract, January 2021
        months = con.execute(
            "select month, sum(registered_patients) from int_weighted_patients_monthly "
            "where month between date '2022-04-01' and date '2023-03-01' group by month"
        ).fetchall()
        (practices,) = con.execute(
            "select practices from geographies where geography_type = 'icb' "
            f"and geography_code = '{ICB}'"
        ).fetchone() or (None,)
    assert len(months) == 12
    assert {patients for _, patients in months} == {2_961_866}
    assert practices == 336


def test_a_practice_payment_total_is_the_published_total(
    published: Path, built: tuple[Path, str]
) -> None:
    row = payments(published).filter(pl.col("practice_code") == "A81001").row(0)
    assert row == ("A81001", 720_970.66, 4_579.78)
    warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        figures = con.execute(
            "select numerator, denominator, value from metric_values "
            "where metric_id = 'payments_per_weighted_patient' "
            "and geography_type = 'practice' and geography_code = 'A81001' "
            "and breakdown_type = 'all'"
        ).fetchall()
    assert figures == [
        (pytest.approx(720_970.66), pytest.approx(4_579.78), pytest.approx(157.42, abs=0.005))
    ]


def test_the_icb_report_shows_the_files_figures(published: Path, built: tuple[Path, str]) -> None:
    paid = payments(published)
    assert paid.height == 334
    total, weighted = paid["paid"].sum(), paid["weighted"].sum()
    assert (round(total, 2), round(weighted, 2)) == (578_027_297.82, 3_386_413.45)
    # No LSOA breakdown: no Core20 patients, so the fair share follows weighted patients.
    gaps = paid["paid"] - total * paid["weighted"] / weighted
    rebalancing = gaps.filter(gaps > 0).sum()
    assert round(rebalancing) == 57_569_184
    _, text = built

    assert "with 336 general practices" in text
    assert "Practice payments per weighted patient £ 2022/23 £170.69" in text
    assert round(total / weighted, 2) == 170.69
    assert "Funding that would rebalance payments to need £ 2022/23 £57,569,184" in text


def test_absent_datasets_are_reported_not_invented(built: tuple[Path, str]) -> None:
    warehouse, text = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        absent = con.execute(
            "select dataset from data_quality where check_name = 'dataset_absent' order by 1"
        ).fetchall()
        produced = con.execute("select distinct metric_id from metric_values order by 1").fetchall()
    assert tuple(dataset for (dataset,) in absent) == ABSENT
    assert [metric for (metric,) in produced] == [
        "funding_rebalancing_total",
        "needs_based_funding_gap",
        "needs_based_funding_gap_pct",
        "payments_per_weighted_patient",
    ]
    assert "A&E attendance rate (needs hospital_activity, registered_population)" in text
    assert "No figure has been estimated in their place" in text


def test_every_imported_row_is_loaded(built: tuple[Path, str]) -> None:
    warehouse, _ = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute(
            "select dataset, rows_affected from data_quality where check_name = 'rows_loaded' "
            "order by dataset"
        ).fetchall()
        quarantined = con.execute(
            "select sum(rows_affected) from data_quality where check_name = 'rows_quarantined'"
        ).fetchone()
    assert loaded == [
        ("lsoa_deprivation", 32_844),  # every LSOA of the IMD 2019 file
        ("organisations", 336),  # QHM's 338 mapping rows: 2 repeat a practice (supplier)
        ("practice_payments", 334 * 8),  # 334 practices, 8 payment categories
        ("registered_population", 336 * 38),  # 336 practices x 2 sexes x 19 age bands
        ("weighted_population", 334),
    ]
    assert quarantined == (0,)
