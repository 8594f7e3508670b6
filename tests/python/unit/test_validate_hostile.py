"""Issue 14, second round: inputs a careless or hostile user might give, not in the issue's
list but in its spirit (docs/safety.md, "Tried in the second round")."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from test_validate_files import catalogue, counts, inputs, write

from metrics_cli.validate import ValidationReport, format_report, validate_directory

TODAY = date(2025, 6, 15)


def validate(tmp_path: Path, data: Path) -> ValidationReport:
    return validate_directory(data, tmp_path / "out", catalogue=catalogue(tmp_path), today=TODAY)


def spend(amount: str, category: str = "acute") -> dict[str, str | None]:
    return {
        "financial_year": "2024/25",
        "org_type": "icb",
        "org_code": "QHM",
        "spend_category": category,
        "amount_gbp": amount,
    }


def test_a_ten_digit_whole_amount_of_pounds_is_an_amount_not_an_nhs_number(
    tmp_path: Path,
) -> None:
    """£9,434,765,919 of ICB spend: its ten digits pass the NHS number check digit."""
    data = inputs(tmp_path)
    write(data, "spend", [spend("9434765919"), spend("943 476 5919", "community")])

    report = validate(tmp_path, data)

    # the plain number loads; the spaced one is no amount and is still an identifier
    assert report.file_errors == [
        "spend.csv: direct identifiers found: NHS numbers in column amount_gbp (1 rows); "
        "the whole file is refused"
    ]
    write(data, "spend", [spend("9434765919")])
    report = validate(tmp_path, data)
    assert report.file_errors == []
    assert counts(report, "spend") == (1, 1, 0, False)
    loaded = pl.read_parquet(tmp_path / "out" / "spend.parquet")
    assert loaded.get_column("amount_gbp").to_list() == [9434765919.0]


def test_ten_digits_in_a_count_of_patients_are_still_refused(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [{"extract_date": "2024-04-01", "practice_code": "A81001", "lsoa_code": "E01012345",
             "sex": "F", "age_band": "0-4", "patients": "9434765919"}]  # fmt: skip
    write(data, "registered_population", rows)

    report = validate(tmp_path, data)

    assert report.datasets["registered_population"].refused
    assert "9434765919" not in (tmp_path / "out" / "problems.csv").read_text()


def test_an_nhs_number_in_the_name_of_an_ignored_file_is_not_repeated(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    (data / "notes 943 476 5919.csv").write_text("a\n1\n")
    (data / "visit TS18 1AB.parquet").write_bytes(b"")
    (data / "notes 2024.csv").write_text("a\n1\n")

    report = validate(tmp_path, data)

    assert report.warnings[:3] == [
        "notes 2024.csv: not an input dataset name; ignored",
        "a file named [withheld: direct identifier]: not an input dataset name; ignored",
        "a file named [withheld: direct identifier]: not an input dataset name; ignored",
    ]
    assert "5919" not in format_report(report)
    assert "TS18" not in format_report(report)


def test_a_required_dataset_with_a_header_and_no_rows_stops_the_build(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    (data / "registered_population.csv").write_text(
        "extract_date,practice_code,lsoa_code,sex,age_band,patients\n"
    )
    (data / "spend.csv").write_text("financial_year,org_type,org_code,spend_category,amount_gbp\n")

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "registered_population.csv: required dataset registered_population has a header but "
        "no rows"
    ]
    assert report.has_file_errors
    assert report.warnings == [
        "spend.csv: it has a header but no rows: metrics that need spend are not produced"
    ]
