"""File-level input checks, the validated outputs, chunking, and the terminal report."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics_cli.errors import UsageError
from metrics_cli.schemas import DATASETS
from metrics_cli.validate import (
    WITHHELD,
    Problem,
    ValidationReport,
    format_report,
    validate_directory,
)

NHS_RULE = "direct identifier: a valid NHS number (the whole file is refused)"
POSTCODE_RULE = (
    "direct identifier: a full postcode in a patient-level file (the whole file is refused)"
)


def organisation(code: str, pcn: str = "U89141") -> dict[str, str | None]:
    return {
        "practice_code": code,
        "practice_name": f"Practice {code}",
        "pcn_code": pcn,
        "pcn_name": f"{pcn} PCN",
        "neighbourhood_code": "N1",
        "neighbourhood_name": "North",
        "place_code": "16C",
        "place_name": "Stockton-on-Tees",
        "icb_code": "QHM",
        "icb_name": "North East and North Cumbria",
        "provider_code": None,
        "provider_name": None,
        "valid_from": "2019-07-01",
        "valid_to": None,
    }


POPULATION = {
    "extract_date": "2024-04-01",
    "practice_code": "A81001",
    "lsoa_code": "E01012345",
    "sex": "F",
    "age_band": "0-4",
    "patients": "100",
}


def encounter(n: int, **change: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "encounter_id": f"enc-{n}",
        "encounter_date": "2024-07-03",
        "practice_code": "A81001",
        "patient_id": f"pat-{n}",
        "clinician_id": "gp-1",
        "clinician_role": "GP",
        "appt_mode": "Telephone",
    }
    return {**row, **change}


def write(directory: Path, dataset: str, rows: list[dict[str, str | None]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dataset}.csv"
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String), orient="row")
    frame.write_csv(path)
    return path


def inputs(tmp_path: Path) -> Path:
    data = tmp_path / "in"
    write(data, "organisations", [organisation("A81001"), organisation("A81002", "U07032")])
    write(data, "registered_population", [POPULATION])
    return data


def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "metric_catalogue.csv"
    path.write_text(
        "metric_id,title,description,unit,multiplier,method,polarity,period_grains,"
        "breakdowns,source_datasets,policy_aim,family\n"
        "prem_overall_experience_positive,Good experience,d,%,100,wilson,higher_is_better,"
        "survey_wave,all,prem_responses,experience,experience\n",
        encoding="utf-8",
    )
    return path


def validate(tmp_path: Path, data: Path, **options: int) -> ValidationReport:
    chunk_rows = options.get("chunk_rows", 1_000_000)
    return validate_directory(
        data, tmp_path / "out", chunk_rows=chunk_rows, catalogue=catalogue(tmp_path)
    )


def counts(report: ValidationReport, dataset: str) -> tuple[int, int, int, bool]:
    found = report.datasets[dataset]
    return (found.rows_read, found.rows_loaded, found.rows_quarantined, found.refused)


# ---------------------------------------------------------------- file-level errors
def test_a_missing_required_dataset_is_a_file_error(tmp_path: Path) -> None:
    data = tmp_path / "in"
    write(data, "registered_population", [POPULATION])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "organisations.csv: required dataset organisations is missing "
        "(organisations.csv or .parquet)"
    ]
    assert report.has_file_errors and report.has_problems
    assert report.datasets["organisations"].file is None
    assert report.warnings == [
        "practice codes were not checked against organisations, which did not load"
    ]
    assert counts(report, "registered_population") == (1, 1, 0, False)


def test_a_missing_required_column_refuses_the_file(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [{k: v for k, v in organisation("A81001").items() if k != "icb_name"}]
    write(data, "organisations", rows * 2)

    report = validate(tmp_path, data)

    assert report.file_errors == ["organisations.csv: required column icb_name is missing"]
    assert counts(report, "organisations") == (2, 0, 2, True)
    assert not (tmp_path / "out" / "organisations.parquet").exists()
    assert Problem(
        "organisations.csv", None, None, None, "required column icb_name is missing"
    ) in (report.problems)


def test_an_optional_column_may_be_absent(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "lsoa_deprivation", [{"lsoa_code": "E01012345", "imd_decile": "2"}])

    report = validate(tmp_path, data)

    assert not report.has_problems
    loaded = pl.read_parquet(tmp_path / "out" / "lsoa_deprivation.parquet")
    assert loaded.rows() == [("E01012345", 2, None)]
    assert loaded.schema["imd_rank"] == pl.Int64


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("organisations.csv", b"practice_code\n\xff\xfe\xfa\n",
         "organisations.csv: unreadable: it is not a UTF-8 comma-separated file"),
        ("organisations.csv", b"", "organisations.csv: unreadable: it is empty (no header row)"),
        ("organisations.parquet", b"practice_code\nA81001\n",
         "organisations.parquet: unreadable: it is not a readable Parquet file"),
    ],
    ids=["not-utf8", "empty", "not-parquet"],
)  # fmt: skip
def test_an_unreadable_file_is_a_file_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    data = tmp_path / "in"
    write(data, "registered_population", [POPULATION])
    (data / name).write_bytes(content)

    report = validate(tmp_path, data)

    assert len(report.file_errors) == 1
    assert report.file_errors[0].startswith(message)
    assert report.datasets["organisations"].refused


def test_a_row_with_more_fields_than_the_header_makes_the_file_unreadable(
    tmp_path: Path,
) -> None:
    data = inputs(tmp_path)
    with (data / "registered_population.csv").open("a") as handle:
        handle.write("2024-04-01,A81001,E01012345,M,5-9,4,surplus\n")

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "registered_population.csv: unreadable: found more fields than defined in 'Schema'"
    ]
    assert report.datasets["registered_population"].refused
    assert not (tmp_path / "out" / "registered_population.parquet").exists()


def test_an_identifier_in_a_later_chunk_discards_what_was_already_written(
    tmp_path: Path,
) -> None:
    data = inputs(tmp_path)
    rows = [encounter(1), encounter(2, appt_mode="Phone"), encounter(3, clinician_id="4010232137")]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data, chunk_rows=1)

    assert report.file_errors == [
        "gp_encounters.csv: direct identifiers found: NHS numbers in column clinician_id "
        "(1 rows); the whole file is refused"
    ]
    assert counts(report, "gp_encounters") == (3, 0, 3, True)
    assert not (tmp_path / "out" / "gp_encounters.parquet").exists()
    assert not (tmp_path / "out" / "quarantine" / "gp_encounters.csv").exists()


def test_a_valid_nhs_number_in_any_column_refuses_the_file(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [
        encounter(1, note="seen"),
        encounter(2, note="943 476 5919"),
        encounter(3, note="9434765918"),  # wrong check digit: not an NHS number
        encounter(4, patient_id="943-476-5919", note=None),
    ]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "gp_encounters.csv: direct identifiers found: NHS numbers in column note (1 rows), "
        "NHS numbers in column patient_id (1 rows); the whole file is refused"
    ]
    assert [p for p in report.problems if p.rule == NHS_RULE] == [
        Problem("gp_encounters.csv", 2, "note", WITHHELD, NHS_RULE),
        Problem("gp_encounters.csv", 4, "patient_id", WITHHELD, NHS_RULE),
    ]
    assert counts(report, "gp_encounters") == (4, 0, 4, True)
    assert not (tmp_path / "out" / "gp_encounters.parquet").exists()
    assert not (tmp_path / "out" / "quarantine" / "gp_encounters.csv").exists()
    written = (tmp_path / "out" / "problems.csv").read_text()
    assert "476" not in written


def test_an_nhs_number_in_a_number_column_refuses_the_file(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "registered_population", [POPULATION, {**POPULATION, "patients": "9434765919"}])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "registered_population.csv: direct identifiers found: NHS numbers in column patients "
        "(1 rows); the whole file is refused"
    ]
    assert counts(report, "registered_population") == (2, 0, 2, True)


def test_a_postcode_refuses_a_patient_level_file_only(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    patient = {
        "patient_id": "pat-1",
        "practice_code": "A81001",
        "lsoa_code": "E01012345",
        "sex": "F",
        "age_band": "40-44",
        "usual_gp_id": "ts18 1hu",
        "ltc_count": "0",
        "frailty": "fit",
        "registered_from": "2001-01-01",
        "registered_to": None,
    }
    write(data, "patients", [patient])
    community = {
        "month": "2024-07-01",
        "practice_code": "A81001",
        "service": "district_nursing",
        "contacts": "40",
        "patients": "12",
        "site_postcode": "TS18 1HU",
    }
    write(data, "community_activity", [community])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "patients.csv: direct identifiers found: full postcodes in column usual_gp_id "
        "(1 rows); the whole file is refused"
    ]
    assert Problem("patients.csv", 1, "usual_gp_id", WITHHELD, POSTCODE_RULE) in report.problems
    assert counts(report, "patients") == (1, 0, 1, True)
    assert counts(report, "community_activity") == (1, 1, 0, False)


@pytest.mark.parametrize("column", ["Surname", "first_name", "Full Name", "NAME"])
def test_a_name_column_refuses_the_file(tmp_path: Path, column: str) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1, **{column: "Smith"})])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        f"gp_encounters.csv: direct identifier: column {column} names people; "
        "the whole file is refused"
    ]
    assert counts(report, "gp_encounters") == (1, 0, 1, True)
    assert not (tmp_path / "out" / "gp_encounters.parquet").exists()


def test_two_files_for_one_dataset_is_a_file_error(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1)])
    pl.read_csv(data / "gp_encounters.csv").write_parquet(data / "gp_encounters.parquet")

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "gp_encounters.csv: both gp_encounters.csv and gp_encounters.parquet are present: keep one"
    ]


def test_a_missing_input_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="there is no input directory"):
        validate(tmp_path, tmp_path / "absent")


# ---------------------------------------------------------------- tolerated input
def test_a_bom_is_tolerated(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    text = (data / "organisations.csv").read_text(encoding="utf-8")
    (data / "organisations.csv").write_text(text, encoding="utf-8-sig")
    assert (data / "organisations.csv").read_bytes().startswith(b"\xef\xbb\xbf")

    report = validate(tmp_path, data)

    assert not report.has_problems
    assert counts(report, "organisations") == (2, 2, 0, False)


def test_extra_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "registered_population", [{**POPULATION, "notes": "from the April extract"}])
    (data / "readme.csv").write_text("a\n1\n")

    report = validate(tmp_path, data)

    assert not report.has_problems
    assert report.warnings == [
        "readme.csv: not an input dataset name; ignored",
        "registered_population.csv: column notes is not part of registered_population "
        "and is ignored",
    ]
    loaded = pl.read_parquet(tmp_path / "out" / "registered_population.parquet")
    assert loaded.columns == list(DATASETS["registered_population"].columns)
    results = pl.read_parquet(tmp_path / "out" / "validation_results.parquet")
    warning = results.filter(pl.col("check_name") == "extra_column")
    assert warning.select("dataset", "severity", "detail").rows() == [
        (
            "registered_population",
            "warning",
            "column notes is not part of registered_population and is ignored",
        )
    ]


def test_parquet_inputs_with_typed_columns_validate_like_text(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    pl.DataFrame(
        {
            "census_date": [date(2024, 9, 30), date(2024, 9, 30)],
            "practice_code": ["A81001", None],
            "pcn_code": ["U89141", "U89141"],
            "staff_group": ["nurse", "direct_patient_care"],
            "role": ["Practice nurse", "Clinical pharmacist"],
            "is_arrs_funded": [False, True],
            "fte": [0.8, 1.0],
            "headcount": [1, -1],
        }
    ).write_parquet(data / "workforce.parquet")

    report = validate(tmp_path, data)

    assert report.problems == [
        Problem("workforce.parquet", 2, "headcount", "-1", "headcount must be a whole number >= 0")
    ]
    loaded = pl.read_parquet(tmp_path / "out" / "workforce.parquet")
    assert loaded.rows() == [
        (date(2024, 9, 30), "A81001", "U89141", "nurse", "Practice nurse", False, 0.8, 1)
    ]


# ---------------------------------------------------------------- outputs
def test_gpad_dates_and_booking_interval_spacing_are_normalised(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    base = {
        "GP_CODE": "A81001",
        "GP_NAME": "THE DENSHAM SURGERY",
        "PCN_CODE": "U89141",
        "HCP_TYPE": "GP",
        "APPT_MODE": "Face-to-Face",
        "NATIONAL_CATEGORY": "General Consultation Routine",
        "APPT_STATUS": "Attended",
        "COUNT_OF_APPOINTMENTS": "7",
    }
    published = [
        ("01JUL2024", "8  to 14 Days"),
        ("2024-08-01", "8 to 14 Days"),
        ("01Aug2024", "15 to 21 Days"),
        ("01SEP2024", "22  to 28 Days"),
        ("01SEP2024", "Unknown / Data Quality"),
    ]
    rows = [
        {"APPOINTMENT_MONTH_START_DATE": when, "TIME_BETWEEN_BOOK_AND_APPT": wait, **base}
        for when, wait in published
    ]
    write(data, "gp_appointments", rows)

    report = validate(tmp_path, data)

    assert not report.has_problems
    loaded = pl.read_parquet(tmp_path / "out" / "gp_appointments.parquet")
    assert loaded.select("APPOINTMENT_MONTH_START_DATE", "TIME_BETWEEN_BOOK_AND_APPT").rows() == [
        (date(2024, 7, 1), "8  to 14 Days"),
        (date(2024, 8, 1), "8  to 14 Days"),
        (date(2024, 8, 1), "15  to 21 Days"),
        (date(2024, 9, 1), "22  to 28 Days"),
        (date(2024, 9, 1), "Unknown / Data Quality"),
    ]
    assert "GP_NAME" not in loaded.columns


def test_loaded_files_have_the_registry_dtypes_and_duckdb_reads_them(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1)])
    hospital = {
        "month": "2024-07-01",
        "practice_code": "A81001",
        "lsoa_code": "E01012345",
        "sex": "F",
        "age_band": "80-84",
        "activity_type": "emergency_admission",
        "acsc_category": "chronic",
        "events": "2",
        "bed_days": "9",
        "cost_gbp": "5120.50",
    }
    write(data, "hospital_activity", [hospital])

    report = validate(tmp_path, data)

    assert not report.has_problems
    for dataset in ("organisations", "registered_population", "gp_encounters", "hospital_activity"):
        path = tmp_path / "out" / f"{dataset}.parquet"
        assert dict(pl.read_parquet_schema(path)) == DATASETS[dataset].columns
    with duckdb.connect() as connection:
        row = connection.execute(
            "select month, events, cost_gbp from read_parquet(?)",
            [str(tmp_path / "out" / "hospital_activity.parquet")],
        ).fetchone()
    assert row == (date(2024, 7, 1), 2, 5120.5)


def test_repeated_keys_are_found_across_chunks(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [encounter(n) for n in range(1, 8)]
    rows[5] = encounter(1, clinician_id="gp-9")  # row 6 repeats row 1's encounter_id
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data, chunk_rows=2)

    rule = "encounter_id is repeated in the file: every copy is quarantined"
    assert report.problems == [
        Problem("gp_encounters.csv", 1, "encounter_id", "enc-1", rule),
        Problem("gp_encounters.csv", 6, "encounter_id", "enc-1", rule),
    ]
    assert counts(report, "gp_encounters") == (7, 5, 2, False)
    loaded = pl.read_parquet(tmp_path / "out" / "gp_encounters.parquet")
    assert loaded.get_column("encounter_id").to_list() == [
        "enc-2",
        "enc-3",
        "enc-4",
        "enc-5",
        "enc-7",
    ]
    quarantine = pl.read_csv(tmp_path / "out" / "quarantine" / "gp_encounters.csv")
    assert quarantine.select("encounter_id", "clinician_id", "row_number").rows() == [
        ("enc-1", "gp-1", 1),
        ("enc-1", "gp-9", 6),
    ]


def test_validation_results_count_rows_per_dataset_rule_and_practice(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [
        POPULATION,
        {**POPULATION, "practice_code": "Z99999"},
        {**POPULATION, "practice_code": "Z99999", "sex": "U"},
        {**POPULATION, "practice_code": "Y00001"},
    ]
    write(data, "registered_population", rows)

    validate(tmp_path, data)

    results = pl.read_parquet(tmp_path / "out" / "validation_results.parquet")
    assert results.schema == pl.Schema(
        {
            "dataset": pl.String,
            "check_name": pl.String,
            "severity": pl.String,
            "practice_code": pl.String,
            "period_start": pl.Date,
            "rows_affected": pl.Int64,
            "detail": pl.String,
        }
    )
    mine = results.filter(pl.col("dataset") == "registered_population").drop("period_start")
    assert mine.rows() == [
        ("registered_population", "practice_code.in_organisations", "error", None, 3,
         "practice_code is not a practice in organisations"),
        ("registered_population", "sex.allowed_values", "error", None, 1,
         "sex must be one of F, M"),
        ("registered_population", "unknown_practice_code", "error", "Y00001", 1,
         "practice_code Y00001 is not a practice in organisations"),
        ("registered_population", "unknown_practice_code", "error", "Z99999", 2,
         "practice_code Z99999 is not a practice in organisations"),
        ("registered_population", "rows_read", "info", None, 4, "registered_population.csv"),
        ("registered_population", "rows_loaded", "info", None, 1, "registered_population.csv"),
        ("registered_population", "rows_quarantined", "warning", None, 3,
         "registered_population.csv"),
        ("registered_population", "input_rows_reconcile", "info", None, 4,
         "4 read = 1 loaded + 3 quarantined"),
    ]  # fmt: skip
    absent = results.filter(pl.col("check_name") == "dataset_absent")
    assert absent.height == len(DATASETS) - 2


def test_problems_csv_holds_every_problem_and_the_report_the_first_twenty(
    tmp_path: Path,
) -> None:
    data = inputs(tmp_path)
    bad = [{**POPULATION, "patients": str(-n)} for n in range(1, 26)]
    write(data, "registered_population", [POPULATION, *bad])

    report = validate(tmp_path, data)

    with (tmp_path / "out" / "problems.csv").open(newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0] == ["file", "row", "column", "value", "rule"]
    assert len(written) == 26
    assert written[25] == [
        "registered_population.csv",
        "26",
        "patients",
        "-25",
        "patients must be a whole number >= 0",
    ]
    text = format_report(report)
    assert "Row problems (first 20 of 25):" in text
    assert "registered_population.csv   21  patients  -20" in text
    assert "registered_population.csv   22  patients" not in text
    assert f"Every problem: {tmp_path / 'out' / 'problems.csv'}" in text


def test_format_report_shows_counts_errors_and_problems(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "registered_population", [POPULATION, {**POPULATION, "sex": "X"}])
    write(data, "gp_encounters", [encounter(1, Surname="Smith")])

    report = validate(tmp_path, data)

    out = tmp_path / "out"
    absent = [d for d in DATASETS if d not in ("organisations", "registered_population")]
    absent.remove("gp_encounters")
    assert format_report(report).splitlines() == [
        f"Validated {data} -> {out}",
        "",
        "dataset                file                       read  loaded  quarantined",
        "organisations          organisations.csv             2       2            0",
        "registered_population  registered_population.csv     2       1            1",
        "gp_encounters          gp_encounters.csv             1       0  1 (refused)",
        "Every dataset: rows read = rows loaded + rows quarantined.",
        f"Absent: {', '.join(absent)}",
        "",
        "File-level errors (the build stops until these are fixed):",
        "  - gp_encounters.csv: direct identifier: column Surname names people; "
        "the whole file is refused",
        "",
        "Row problems (first 1 of 1):",
        "  file                       row  column  value  rule",
        "  registered_population.csv    2  sex     X      sex must be one of F, M",
        "",
        f"Every problem: {out / 'problems.csv'}",
        f"Quarantined rows: {out / 'quarantine'}/",
    ]


def test_outputs_of_an_earlier_run_do_not_survive(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1)])
    validate(tmp_path, data)
    assert (tmp_path / "out" / "gp_encounters.parquet").exists()

    (data / "gp_encounters.csv").unlink()
    report = validate(tmp_path, data)

    assert report.datasets["gp_encounters"].file is None
    assert not (tmp_path / "out" / "gp_encounters.parquet").exists()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(["good", "bad", "repeat"]), min_size=1, max_size=12),
    chunk_rows=st.integers(min_value=1, max_value=5),
)
def test_nothing_is_lost_whatever_the_rows_and_chunks(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str], chunk_rows: int
) -> None:
    tmp_path = tmp_path_factory.mktemp("reconcile")
    data = inputs(tmp_path)
    rows = []
    for n, kind in enumerate(kinds, start=1):
        if kind == "repeat":
            rows.append(encounter(0))
        else:
            rows.append(encounter(n, appt_mode="Phone" if kind == "bad" else "Telephone"))
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data, chunk_rows=chunk_rows)

    repeats = kinds.count("repeat")
    bad = kinds.count("bad") + (repeats if repeats > 1 else 0)
    assert counts(report, "gp_encounters") == (len(kinds), len(kinds) - bad, bad, False)
    loaded = pl.read_parquet(tmp_path / "out" / "gp_encounters.parquet")
    assert loaded.height == len(kinds) - bad
    if bad:
        held = pl.read_csv(tmp_path / "out" / "quarantine" / "gp_encounters.csv")
        assert held.height == bad


def test_the_report_keeps_the_first_ten_thousand_problems_and_counts_them_all(
    tmp_path: Path,
) -> None:
    data = inputs(tmp_path)
    bad = pl.DataFrame({**{k: [v] * 10_005 for k, v in POPULATION.items()}, "sex": ["U"] * 10_005})
    bad.write_csv(data / "registered_population.csv")

    report = validate(tmp_path, data)

    assert len(report.problems) == 10_000
    assert report.problem_count == report.row_problem_count == 10_005
    assert report.problems[-1].row == 10_000
    lines = (tmp_path / "out" / "problems.csv").read_text().splitlines()
    assert len(lines) == 1 + 10_005
    assert "Row problems (first 20 of 10,005):" in format_report(report)
