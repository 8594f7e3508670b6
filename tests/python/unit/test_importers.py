"""The importers of published NHS files, on the real files and on hand-made fixtures.

The real files live in ../shared/reference/nhs beside the repository (never copied into
it); tests that need them are skipped, saying why, where that directory is absent.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from metrics_cli.errors import UsageError
from metrics_cli.importers import PAYMENT_COLUMNS, import_published
from metrics_cli.validate import ValidationReport, validate_directory

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO.parent / "shared" / "reference" / "nhs"
FIXTURES = REPO / "tests" / "data"
MAPPING = REFERENCE / "gpad_Mapping_Aug25.csv"
PAYMENTS = REFERENCE / "nhs_payments_gp_2022-23_first400.csv"
EPCN = FIXTURES / "epcn_core_partner_details.csv"
CROSSTAB = FIXTURES / "gpad_practice_level_crosstab_jul24.csv"

needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"the published NHS reference files are not at {REFERENCE}",
)


def population(directory: Path, practice: str = "A81001") -> None:
    """A one-row registered_population, so the directory has both required datasets."""
    (directory / "registered_population.csv").write_text(
        "extract_date,practice_code,lsoa_code,sex,age_band,patients\n"
        f"2024-04-01,{practice},E01012345,F,0-4,10000\n",
        encoding="utf-8",
    )


def validate(data: Path, out: Path) -> ValidationReport:
    return validate_directory(data, out, catalogue=REPO / "seeds" / "metric_catalogue.csv")


def loaded(report: ValidationReport, dataset: str) -> tuple[int, int, int]:
    counts = report.datasets[dataset]
    return (counts.rows_read, counts.rows_loaded, counts.rows_quarantined)


# ---------------------------------------------------------------- GPAD Mapping.csv
@needs_reference
def test_gpad_mapping_becomes_organisations(tmp_path: Path) -> None:
    written = import_published("gpad", MAPPING, tmp_path)

    assert written == [tmp_path / "organisations.csv"]
    organisations = pl.read_csv(written[0], infer_schema=False)
    # 6,196 published rows; 30 repeat a practice with only SUPPLIER different.
    assert organisations.height == 6166
    assert organisations.get_column("practice_code").n_unique() == 6166
    assert organisations.filter(pl.col("practice_code") == "A81001").row(0) == (
        "A81001",
        "THE DENSHAM SURGERY",
        "U89141",
        "STOCKTON PCN",
        "U89141",
        "STOCKTON PCN",
        "16C",
        "NHS North East and North Cumbria ICB - 16C",
        "QHM",
        "NHS North East and North Cumbria Integrated Care Board",
        None,
        None,
        "1900-01-01",
        None,
    )
    assert organisations.get_column("icb_code").n_unique() == 42
    assert organisations.get_column("place_code").n_unique() == 106


@needs_reference
def test_unallocated_practices_group_by_sub_icb_location(tmp_path: Path) -> None:
    import_published("gpad", MAPPING, tmp_path)

    organisations = pl.read_csv(tmp_path / "organisations.csv", infer_schema=False)
    unallocated = organisations.filter(pl.col("pcn_code").str.starts_with("U-"))
    assert unallocated.height == 42
    assert (unallocated.get_column("pcn_code") == "U-" + unallocated["place_code"]).all()
    church_lane = organisations.filter(pl.col("practice_code") == "F81014")
    assert church_lane.select("pcn_code", "pcn_name", "neighbourhood_code").row(0) == (
        "U-06Q",
        "UNALLOCATED (06Q)",
        "U-06Q",
    )


@needs_reference
def test_gpad_mapping_takes_a_valid_from_date(tmp_path: Path) -> None:
    import_published("gpad", MAPPING, tmp_path, valid_from="2025-08-01")

    organisations = pl.read_csv(tmp_path / "organisations.csv", infer_schema=False)
    assert organisations.get_column("valid_from").unique().to_list() == ["2025-08-01"]
    with pytest.raises(UsageError, match="--valid-from must be a date written YYYY-MM-DD"):
        import_published("gpad", MAPPING, tmp_path, valid_from="01/08/2025")


@needs_reference
def test_gpad_mapping_output_passes_validation(tmp_path: Path) -> None:
    data = tmp_path / "in"
    import_published("gpad", MAPPING, data)
    population(data)

    report = validate(data, tmp_path / "out")

    assert not report.has_problems
    assert loaded(report, "organisations") == (6166, 6166, 0)


# ---------------------------------------------------------------- GPAD crosstab
def test_a_gpad_crosstab_is_kept_as_published(tmp_path: Path) -> None:
    written = import_published("gpad", CROSSTAB, tmp_path)

    assert written == [tmp_path / "gp_appointments.csv"]
    assert written[0].read_bytes() == CROSSTAB.read_bytes()


def test_a_later_gpad_month_is_appended_and_a_repeated_one_refused(tmp_path: Path) -> None:
    august = tmp_path / "crosstab_aug24.csv"
    august.write_text(CROSSTAB.read_text().replace("01JUL2024", "01AUG2024"))
    out = tmp_path / "in"

    import_published("gpad", CROSSTAB, out)
    import_published("gpad", august, out)

    combined = pl.read_csv(out / "gp_appointments.csv", infer_schema=False)
    assert combined.height == 16
    assert combined.get_column("APPOINTMENT_MONTH_START_DATE").unique(
        maintain_order=True
    ).to_list() == [
        "01JUL2024",
        "01AUG2024",
    ]
    with pytest.raises(UsageError, match=r"already holds 2024-08: appending would count it twice"):
        import_published("gpad", august, out)
    assert pl.read_csv(out / "gp_appointments.csv").height == 16


def test_a_gpad_crosstab_with_other_columns_is_not_appended(tmp_path: Path) -> None:
    narrower = tmp_path / "crosstab_aug24.csv"
    pl.read_csv(CROSSTAB, infer_schema=False).drop("SUPPLIER").with_columns(
        pl.lit("01AUG2024").alias("APPOINTMENT_MONTH_START_DATE")
    ).write_csv(narrower)
    out = tmp_path / "in"
    import_published("gpad", CROSSTAB, out)

    with pytest.raises(UsageError, match="already exists with other columns"):
        import_published("gpad", narrower, out)


def test_the_gpad_crosstab_validates_with_parsed_dates(tmp_path: Path) -> None:
    data = tmp_path / "in"
    import_published("gpad", CROSSTAB, data)
    import_published("epcn", EPCN, data)
    population(data)

    report = validate(data, tmp_path / "out")

    assert not report.has_problems
    assert loaded(report, "gp_appointments") == (8, 8, 0)
    appointments = pl.read_parquet(tmp_path / "out" / "gp_appointments.parquet")
    assert appointments.get_column("APPOINTMENT_MONTH_START_DATE").unique().to_list() == [
        date(2024, 7, 1)
    ]
    assert appointments.get_column("COUNT_OF_APPOINTMENTS").sum() == 930


def test_a_file_that_is_not_gpad_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")

    with pytest.raises(UsageError, match="neither a GPAD practice-level crosstab"):
        import_published("gpad", other, tmp_path / "out")


# ---------------------------------------------------------------- ePCN
EPCN_EXPECTED = [
    ("A81001", "U89141", date(2019, 7, 1), None),
    ("A81002", "U07032", date(2019, 7, 1), None),
    ("A81004", "U02671", date(2019, 7, 1), date(2023, 3, 31)),
    ("A81004", "U20134", date(2023, 4, 1), None),
    ("A81005", "U00351", date(2019, 7, 1), date(2021, 3, 31)),  # ended the day before
    ("A81005", "U45678", date(2021, 4, 1), None),
    ("A81015", "U89141", date(2019, 7, 1), date(2020, 3, 31)),
]


def epcn_rows(path: Path) -> list[tuple[object, ...]]:
    organisations = pl.read_csv(path, try_parse_dates=True)
    return organisations.select("practice_code", "pcn_code", "valid_from", "valid_to").rows()


def test_epcn_relationships_become_dated_organisations(tmp_path: Path) -> None:
    written = import_published("epcn", EPCN, tmp_path)

    assert written == [tmp_path / "organisations.csv"]
    assert epcn_rows(written[0]) == EPCN_EXPECTED
    organisations = pl.read_csv(written[0], infer_schema=False)
    assert organisations.row(0, named=True) == {
        "practice_code": "A81001",
        "practice_name": "THE DENSHAM SURGERY",
        "pcn_code": "U89141",
        "pcn_name": "STOCKTON PCN",
        "neighbourhood_code": "U89141",
        "neighbourhood_name": "STOCKTON PCN",
        "place_code": "16C",
        "place_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 16C",
        # No ICB columns in the file: the ICB defaults to the sub-ICB location.
        "icb_code": "16C",
        "icb_name": "NHS NORTH EAST AND NORTH CUMBRIA ICB - 16C",
        "provider_code": None,
        "provider_name": None,
        "valid_from": "2019-07-01",
        "valid_to": None,
    }


def test_epcn_icb_columns_are_used_when_present(tmp_path: Path) -> None:
    with_icb = tmp_path / "epcn_with_icb.csv"
    pl.read_csv(EPCN, infer_schema=False).with_columns(
        pl.lit("QHM").alias("Practice Parent ICB Code"),
        pl.lit("NHS NORTH EAST AND NORTH CUMBRIA ICB").alias("Practice Parent ICB Name"),
    ).write_csv(with_icb)

    import_published("epcn", with_icb, tmp_path / "out")

    organisations = pl.read_csv(tmp_path / "out" / "organisations.csv", infer_schema=False)
    assert organisations.select("icb_code", "icb_name").unique().rows() == [
        ("QHM", "NHS NORTH EAST AND NORTH CUMBRIA ICB")
    ]


def test_the_headerless_ods_report_with_compact_dates_is_read(tmp_path: Path) -> None:
    ods = tmp_path / "epcncorepartnerdetails.csv"
    table = pl.read_csv(EPCN, infer_schema=False)
    compact = [
        pl.col(c).str.to_date("%d/%m/%Y").dt.strftime("%Y%m%d")
        for c in (
            "Practice to PCN Relationship Start Date",
            "Practice to PCN Relationship End Date",
        )
    ]
    table.with_columns(compact).write_csv(ods, include_header=False)

    import_published("epcn", ods, tmp_path / "out")

    assert epcn_rows(tmp_path / "out" / "organisations.csv") == EPCN_EXPECTED


def test_epcn_output_passes_validation(tmp_path: Path) -> None:
    data = tmp_path / "in"
    import_published("epcn", EPCN, data)
    population(data)

    report = validate(data, tmp_path / "out")

    assert not report.has_problems
    assert loaded(report, "organisations") == (7, 7, 0)


def test_epcn_bad_dates_and_missing_columns_are_refused(tmp_path: Path) -> None:
    bad_dates = tmp_path / "bad_dates.csv"
    bad_dates.write_text(EPCN.read_text().replace("01/04/2023", "1st April 2023"))
    with pytest.raises(UsageError, match="row 5: relationship dates must be"):
        import_published("epcn", bad_dates, tmp_path / "out")

    no_pcn = tmp_path / "no_pcn.csv"
    pl.read_csv(EPCN, infer_schema=False).drop("PCN Code").write_csv(no_pcn)
    with pytest.raises(UsageError, match="it lacks pcn code"):
        import_published("epcn", no_pcn, tmp_path / "out")

    spreadsheet = tmp_path / "ePCN.xlsx"
    spreadsheet.write_bytes(b"PK")
    with pytest.raises(UsageError, match="is not a CSV"):
        import_published("epcn", spreadsheet, tmp_path / "out")


# ---------------------------------------------------------------- payments
@needs_reference
def test_payments_become_practice_payments_and_weighted_population(tmp_path: Path) -> None:
    written = import_published("payments", PAYMENTS, tmp_path)

    assert written == [tmp_path / "practice_payments.csv", tmp_path / "weighted_population.csv"]
    payments = pl.read_csv(written[0], infer_schema=False)
    assert payments.height == 400 * 8
    assert payments.filter(pl.col("practice_code") == "A81001").rows() == [
        ("2022/23", "A81001", "global_sum", "438099.78"),
        ("2022/23", "A81001", "qof", "52178.74"),
        ("2022/23", "A81001", "enhanced_services", "16466.77"),
        ("2022/23", "A81001", "pcn", "8139.82"),
        ("2022/23", "A81001", "arrs", "0.0"),
        ("2022/23", "A81001", "premises", "135112.89"),
        ("2022/23", "A81001", "dispensing", "11185.02"),
        ("2022/23", "A81001", "other", "59787.64"),
    ]
    weighted = pl.read_csv(written[1], infer_schema=False)
    assert weighted.height == 400
    assert weighted.filter(pl.col("practice_code") == "A81002").row(0) == (
        "2022/23",
        "A81002",
        "20930.12",
    )


@needs_reference
def test_payment_categories_add_up_to_the_published_total_without_double_counting(
    tmp_path: Path,
) -> None:
    import_published("payments", PAYMENTS, tmp_path)

    payments = pl.read_csv(tmp_path / "practice_payments.csv")
    ours = payments.group_by("practice_code").agg(pl.col("amount_gbp").sum())
    total = "Total NHS Payments to General Practice including Covid and PCN payments"
    published = pl.read_csv(PAYMENTS, infer_schema=False).select(
        pl.col("Practice Code").alias("practice_code"),
        pl.col(total).cast(pl.Float64).alias("published"),
    )
    compared = ours.join(published, on="practice_code", how="full", coalesce=True)
    assert compared.height == 400
    assert compared.select((pl.col("amount_gbp") - pl.col("published")).abs().max()).item() < 0.005


@needs_reference
def test_every_payment_column_of_the_published_file_is_mapped(tmp_path: Path) -> None:
    header = pl.read_csv(PAYMENTS, n_rows=0).columns
    names = {" ".join(c.split()).lower() for c in header}
    assert len(names & set(PAYMENT_COLUMNS)) == 43


@needs_reference
def test_payments_outputs_pass_validation_except_closed_and_unknown_practices(
    tmp_path: Path,
) -> None:
    data = tmp_path / "in"
    import_published("gpad", MAPPING, data)
    import_published("payments", PAYMENTS, data)
    population(data)

    report = validate(data, tmp_path / "out")

    assert report.file_errors == []
    # 32 of the 400 practices of 2022-23 are not in the August 2025 mapping (closed or
    # merged); 8 of those have no weighted list (0) as well.
    assert loaded(report, "weighted_population") == (400, 368, 32)
    assert loaded(report, "practice_payments") == (3200, 2944, 256)
    rules = {p.rule for p in report.problems}
    assert rules == {
        "practice_code is not a practice in organisations",
        "weighted_patients must be a number greater than 0",
    }
    zero = [p for p in report.problems if p.column == "weighted_patients"]
    assert len(zero) == 8
    weighted = pl.read_parquet(tmp_path / "out" / "weighted_population.parquet")
    assert weighted.filter(pl.col("practice_code") == "A81001").row(0) == (
        "2022/23",
        "A81001",
        4579.78,
    )


@needs_reference
def test_the_financial_year_comes_from_the_name_or_the_option(tmp_path: Path) -> None:
    renamed = tmp_path / "payments.csv"
    shutil.copyfile(PAYMENTS, renamed)

    with pytest.raises(UsageError, match=r"cannot tell the financial year of payments\.csv"):
        import_published("payments", renamed, tmp_path / "out")
    import_published("payments", renamed, tmp_path / "out", financial_year="2022/23")

    weighted = pl.read_csv(tmp_path / "out" / "weighted_population.csv", infer_schema=False)
    assert weighted.get_column("financial_year").unique().to_list() == ["2022/23"]
    with pytest.raises(UsageError, match="cannot tell the financial year"):
        import_published("payments", renamed, tmp_path / "out", financial_year="2022/24")


def test_an_unknown_payment_column_is_refused(tmp_path: Path) -> None:
    published = tmp_path / "nhs_payments_gp_2023-24.csv"
    published.write_text(
        "Practice Code,Number of Weighted Patients (Last Known Figure),Global Sum,"
        "New Access Scheme\nA81001,4579.78,1000,20\n",
        encoding="utf-8-sig",
    )

    with pytest.raises(UsageError, match="does not know: new access scheme"):
        import_published("payments", published, tmp_path / "out")


def test_small_payments_file_sums_categories_and_reads_blanks_as_zero(tmp_path: Path) -> None:
    published = tmp_path / "nhs_payments_gp_2023-24.csv"
    published.write_text(
        "Practice Code,Number of Weighted Patients (Last Known Figure),Global Sum,"
        "MPIG Correction factor,Minor Surgery,Learning Disabilities,Total QOF Payments,"
        "Total NHS Payments to General Practice,Average payments per weighted patient\n"
        'A81001,4579.78,"1,000.50",20.25,,30,7,1058.25,0.23\n',
        encoding="utf-8-sig",
    )

    import_published("payments", published, tmp_path / "out")

    payments = pl.read_csv(tmp_path / "out" / "practice_payments.csv", infer_schema=False)
    assert payments.rows() == [
        ("2023/24", "A81001", "global_sum", "1020.75"),
        ("2023/24", "A81001", "qof", "7.0"),
        ("2023/24", "A81001", "enhanced_services", "30.0"),
    ]


def test_options_that_do_not_apply_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--valid-from applies to a GPAD Mapping\.csv only"):
        import_published("epcn", EPCN, tmp_path, valid_from="2024-01-01")
    with pytest.raises(UsageError, match=r"--valid-from applies to a GPAD Mapping\.csv"):
        import_published("gpad", CROSSTAB, tmp_path, valid_from="2024-01-01")
    with pytest.raises(UsageError, match="there is no file"):
        import_published("gpad", tmp_path / "absent.csv", tmp_path)
    with pytest.raises(UsageError, match="import takes one of gpad, epcn, payments"):
        import_published("odd", EPCN, tmp_path)
