"""Every row-level input rule: a crafted bad row is quarantined with the exact problem.

Each case writes the two required datasets plus one dataset holding a good row (row 1)
and a bad row (row 2), validates, and checks the problem (file, row, column, value,
rule), the quarantine and that rows read = loaded + quarantined.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from metrics_cli.validate import Problem, ValidationReport, validate_directory

ORGANISATIONS = [
    {
        "practice_code": code,
        "practice_name": name,
        "pcn_code": pcn,
        "pcn_name": f"{pcn} PCN",
        "neighbourhood_code": "N1",
        "neighbourhood_name": "Stockton North",
        "place_code": "16C",
        "place_name": "Stockton-on-Tees",
        "icb_code": "QHM",
        "icb_name": "North East and North Cumbria",
        "provider_code": None,
        "provider_name": None,
        "valid_from": "2019-07-01",
        "valid_to": None,
    }
    for code, name, pcn in (
        ("A81001", "The Densham Surgery", "U89141"),
        ("A81002", "Queens Park Medical Centre", "U07032"),
    )
]

GOOD: dict[str, dict[str, str | None]] = {
    "registered_population": {
        "extract_date": "2024-04-01",
        "practice_code": "A81001",
        "lsoa_code": "E01012345",
        "sex": "F",
        "age_band": "0-4",
        "patients": "100",
    },
    "lsoa_deprivation": {"lsoa_code": "E01012345", "imd_decile": "3", "imd_rank": "9000"},
    "weighted_population": {
        "financial_year": "2024/25",
        "practice_code": "A81001",
        "weighted_patients": "4579.78",
    },
    "gp_appointments": {
        "APPOINTMENT_MONTH_START_DATE": "01JUL2024",
        "GP_CODE": "A81001",
        "PCN_CODE": "U89141",
        "HCP_TYPE": "GP",
        "APPT_MODE": "Face-to-Face",
        "NATIONAL_CATEGORY": "General Consultation Routine",
        "TIME_BETWEEN_BOOK_AND_APPT": "8  to 14 Days",
        "APPT_STATUS": "Attended",
        "COUNT_OF_APPOINTMENTS": "12",
    },
    "gp_encounters": {
        "encounter_id": "enc-1",
        "encounter_date": "2024-07-03",
        "practice_code": "A81001",
        "patient_id": "pat-1",
        "clinician_id": "gp-1",
        "clinician_role": "GP",
        "appt_mode": "Telephone",
    },
    "patients": {
        "patient_id": "pat-1",
        "practice_code": "A81001",
        "lsoa_code": "UNKNOWN",
        "sex": "M",
        "age_band": "75-79",
        "usual_gp_id": "gp-1",
        "ltc_count": "3",
        "frailty": "mild",
        "registered_from": "2010-05-01",
        "registered_to": None,
    },
    "hospital_activity": {
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
    },
    "community_activity": {
        "month": "2024-07-01",
        "practice_code": "A81001",
        "service": "virtual_ward",
        "contacts": "14",
        "patients": "3",
    },
    "prem_responses": {
        "survey_wave": "2025/26",
        "practice_code": "A81001",
        "respondent_id": "r-1",
        "lsoa_code": None,
        "sex": "F",
        "age_band": None,
        "weight": "1.25",
        "question_id": "overall_experience",
        "response": "very_good",
    },
    "spend": {
        "financial_year": "2024/25",
        "org_type": "icb",
        "org_code": "QHM",
        "spend_category": "primary_care_gp",
        "amount_gbp": "1250000.00",
    },
    "practice_payments": {
        "financial_year": "2024/25",
        "practice_code": "A81001",
        "payment_category": "qof",
        "amount_gbp": "52178.74",
    },
    "workforce": {
        "census_date": "2024-09-30",
        "practice_code": "A81001",
        "pcn_code": "U89141",
        "staff_group": "nurse",
        "role": "Practice nurse",
        "is_arrs_funded": "false",
        "fte": "0.8",
        "headcount": "1",
    },
    "maturity_assessments": {
        "assessment_period": "2025/26 Q2",
        "neighbourhood_code": "N1",
        "submitted_by": "QHM",
        "criterion_id": "leadership_1_a",
        "status": "met",
        "evidence": 'Board minutes, 3 June: "agreed"',
        "evidence_url": None,
        "assessed_on": "2025-09-15",
    },
}

CATALOGUE_HEADER = (
    "metric_id,title,description,unit,multiplier,method,polarity,period_grains,"
    "breakdowns,source_datasets,policy_aim,family"
)


def write_catalogue(path: Path) -> Path:
    """A catalogue knowing two PREM questions (and one metric that is not a PREM one)."""
    rows = [
        "prem_overall_experience_positive,Good experience,d,%,100,wilson,higher_is_better,"
        "survey_wave,all,prem_responses,experience,experience",
        "prem_contact_ease_positive,Easy to contact,d,%,100,wilson,higher_is_better,"
        "survey_wave,all,prem_responses,experience,experience",
        "same_day_share,Same day,d,%,100,wilson,higher_is_better,month,all,"
        "gp_appointments,same_day_access,access",
    ]
    path.write_text("\n".join([CATALOGUE_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def write(directory: Path, dataset: str, rows: list[dict[str, str | None]]) -> Path:
    """Rows as a CSV of text columns, as a user would hand them over."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dataset}.csv"
    columns = list(rows[0])
    frame = pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String), orient="row")
    frame.write_csv(path)
    return path


def base_inputs(directory: Path) -> Path:
    """The two required datasets, valid."""
    write(directory, "organisations", list(ORGANISATIONS))
    write(directory, "registered_population", [GOOD["registered_population"]])
    return directory


def run(tmp_path: Path, **datasets: list[dict[str, str | None]]) -> ValidationReport:
    data = base_inputs(tmp_path / "in")
    for dataset, rows in datasets.items():
        write(data, dataset, rows)
    catalogue = write_catalogue(tmp_path / "metric_catalogue.csv")
    return validate_directory(data, tmp_path / "out", catalogue=catalogue)


def other_key(dataset: str, n: int) -> dict[str, str | None]:
    """A record key no other row uses, for datasets that have one."""
    keys: dict[str, dict[str, str | None]] = {
        "lsoa_deprivation": {"lsoa_code": f"E01{13000 + n:06d}"},
        "gp_encounters": {"encounter_id": f"enc-{n + 1}"},
        "patients": {"patient_id": f"pat-{n + 1}"},
        "prem_responses": {"respondent_id": f"r-{n + 1}"},
        "maturity_assessments": {"criterion_id": f"leadership_1_{n}"},
    }
    return keys.get(dataset, {})


# (dataset, column, bad value, the problem's column, the problem's value, the rule)
BAD_VALUES = [
    ("registered_population", "extract_date", "01/04/2024", None, None,
     "extract_date must be a date written YYYY-MM-DD"),
    ("registered_population", "extract_date", "2024-02-30", None, None,
     "extract_date must be a date written YYYY-MM-DD"),
    ("registered_population", "sex", "f", None, None, "sex must be one of F, M"),
    ("registered_population", "age_band", "90-94", None, None,
     "age_band must be one of the 19 ESP2013 age bands 0-4, 5-9, ..., 85-89, 90+"),
    ("registered_population", "patients", "-3", None, None,
     "patients must be a whole number >= 0"),
    ("registered_population", "patients", "2.5", None, None,
     "patients must be a whole number >= 0"),
    ("registered_population", "lsoa_code", "E0101234", None, None,
     "lsoa_code must be an LSOA code (E01 or W01 and six digits) or UNKNOWN"),
    ("registered_population", "practice_code", "Z99999", None, None,
     "practice_code is not a practice in organisations"),
    ("registered_population", "practice_code", "a81001", None, None,
     "practice_code is not a practice in organisations"),
    ("registered_population", "practice_code", None, None, None,
     "practice_code must not be empty"),
    ("lsoa_deprivation", "imd_decile", "11", None, None,
     "imd_decile must be a whole number from 1 to 10"),
    ("lsoa_deprivation", "imd_decile", "0", None, None,
     "imd_decile must be a whole number from 1 to 10"),
    ("lsoa_deprivation", "lsoa_code", "UNKNOWN", None, None,
     "lsoa_code must be an LSOA code (E01 or W01 and six digits)"),
    ("weighted_population", "weighted_patients", "0", None, None,
     "weighted_patients must be a number greater than 0"),
    ("weighted_population", "weighted_patients", "-12.5", None, None,
     "weighted_patients must be a number greater than 0"),
    ("weighted_population", "financial_year", "2024/26", None, None,
     "financial_year must be a financial year written like 2024/25"),
    ("weighted_population", "financial_year", "2024-25", None, None,
     "financial_year must be a financial year written like 2024/25"),
    ("gp_appointments", "APPOINTMENT_MONTH_START_DATE", "15JUL2024", None, None,
     "APPOINTMENT_MONTH_START_DATE must be the first day of a month, "
     "written 01JUL2024 or 2024-07-01"),
    ("gp_appointments", "APPOINTMENT_MONTH_START_DATE", "JUL2024", None, None,
     "APPOINTMENT_MONTH_START_DATE must be the first day of a month, "
     "written 01JUL2024 or 2024-07-01"),
    ("gp_appointments", "GP_CODE", "Z99999", None, None,
     "GP_CODE is not a practice in organisations"),
    ("gp_appointments", "HCP_TYPE", "Nurse", None, None,
     "HCP_TYPE must be one of GP, Other Practice staff, Unknown"),
    ("gp_appointments", "APPT_MODE", "face-to-face", None, None,
     "APPT_MODE must be one of Face-to-Face, Home Visit, Telephone, "
     "Video Conference/Online, Unknown"),
    ("gp_appointments", "TIME_BETWEEN_BOOK_AND_APPT", "9 to 14 Days", None, None,
     "TIME_BETWEEN_BOOK_AND_APPT must be one of Same Day, 1 Day, 2 to 7 Days, "
     "8  to 14 Days, 15  to 21 Days, 22  to 28 Days, More than 28 Days, "
     "Unknown / Data Quality"),
    ("gp_appointments", "APPT_STATUS", "Did not attend", None, None,
     "APPT_STATUS must be one of Attended, DNA, Unknown"),
    ("gp_appointments", "COUNT_OF_APPOINTMENTS", "-1", None, None,
     "COUNT_OF_APPOINTMENTS must be a whole number >= 0"),
    ("gp_appointments", "NATIONAL_CATEGORY", None, None, None,
     "NATIONAL_CATEGORY must not be empty"),
    ("gp_encounters", "clinician_role", "Doctor", None, None,
     "clinician_role must be one of GP, Nurse, Pharmacist, Paramedic, Physiotherapist, "
     "Mental health practitioner, Other"),
    ("gp_encounters", "appt_mode", "Phone", None, None,
     "appt_mode must be one of Face-to-Face, Home Visit, Telephone, "
     "Video Conference/Online, Unknown"),
    ("gp_encounters", "encounter_date", "2024-07-32", None, None,
     "encounter_date must be a date written YYYY-MM-DD"),
    ("patients", "frailty", "Mild", None, None,
     "frailty must be one of fit, mild, moderate, severe"),
    ("patients", "ltc_count", "two", None, None, "ltc_count must be a whole number >= 0"),
    ("patients", "registered_to", "2009-01-31", "registered_from+registered_to",
     "2010-05-01 + 2009-01-31", "registered_to must not be before registered_from"),
    ("hospital_activity", "month", "2024-07-15", None, None,
     "month must be the first day of a month, written YYYY-MM-DD"),
    ("hospital_activity", "activity_type", "ae_type3", None, None,
     "activity_type must be one of ae_type1, ae_other, emergency_admission, "
     "elective_admission, outpatient_first, outpatient_followup"),
    ("hospital_activity", "acsc_category", "Chronic", None, None,
     "acsc_category must be one of none, chronic, acute, vaccine_preventable"),
    ("hospital_activity", "events", "1e3", None, None, "events must be a whole number >= 0"),
    ("hospital_activity", "cost_gbp", "£5", None, None, "cost_gbp must be a number"),
    ("community_activity", "service", "district nursing", None, None,
     "service must be one of district_nursing, urgent_community_response, virtual_ward, "
     "community_mental_health, community_pharmacy, social_prescribing, other_community"),
    ("community_activity", "contacts", "", None, None, "contacts must not be empty"),
    ("prem_responses", "survey_wave", "2025/27", None, None,
     "survey_wave must be a calendar year like 2025 or a financial year like 2025/26"),
    ("prem_responses", "survey_wave", "25", None, None,
     "survey_wave must be a calendar year like 2025 or a financial year like 2025/26"),
    ("prem_responses", "weight", "0", None, None, "weight must be a number greater than 0"),
    ("prem_responses", "question_id", "phone_ease", None, None,
     "question_id is not a question in the metric catalogue"),
    ("prem_responses", "response", "good", None, None,
     "response must be one of very_good, fairly_good, neither, fairly_poor, very_poor, "
     "dont_know"),
    ("prem_responses", "sex", "X", None, None, "sex must be one of F, M"),
    ("spend", "org_type", "region", None, None, "org_type must be one of icb, place"),
    ("spend", "spend_category", "gp", None, None,
     "spend_category must be one of acute, community, mental_health, primary_care_gp, "
     "primary_care_prescribing, primary_care_pharmacy, primary_care_dental, "
     "primary_care_ophthalmic, continuing_care, other"),
    ("spend", "amount_gbp", "1,250,000", None, None, "amount_gbp must be a number"),
    ("practice_payments", "payment_category", "QOF", None, None,
     "payment_category must be one of global_sum, qof, enhanced_services, pcn, arrs, "
     "premises, dispensing, other"),
    ("workforce", "staff_group", "doctor", None, None,
     "staff_group must be one of gp_partner, gp_salaried, gp_locum, gp_trainee, nurse, "
     "direct_patient_care, admin"),
    ("workforce", "is_arrs_funded", "yes", None, None, "is_arrs_funded must be true or false"),
    ("workforce", "fte", "-0.5", None, None, "fte must be a number >= 0"),
    ("workforce", "census_date", "30/09/2024", None, None,
     "census_date must be a date written YYYY-MM-DD"),
    ("maturity_assessments", "assessment_period", "2025 Q2", None, None,
     "assessment_period must be a financial-year quarter written like 2025/26 Q2"),
    ("maturity_assessments", "status", "done", None, None,
     "status must be one of met, partially_met, not_met, not_assessed"),
]  # fmt: skip


def bad_row_numbers() -> dict[int, int]:
    """Each case's row in its dataset's file: row 1 is good, the bad rows follow in order."""
    seen: dict[str, int] = {}
    rows = {}
    for index, case in enumerate(BAD_VALUES):
        seen[case[0]] = seen.get(case[0], 1) + 1
        rows[index] = seen[case[0]]
    return rows


@pytest.fixture(scope="module")
def bad_values_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ValidationReport]:
    """One validation of files holding a good row and then every bad row of BAD_VALUES."""
    tmp_path = tmp_path_factory.mktemp("bad_values")
    files: dict[str, list[dict[str, str | None]]] = {}
    for n, (dataset, column, bad, *_) in enumerate(BAD_VALUES, start=1):
        rows = files.setdefault(dataset, [dict(GOOD[dataset])])
        rows.append({**GOOD[dataset], **other_key(dataset, n), column: bad})
    return tmp_path, run(tmp_path, **files)


@pytest.mark.parametrize(
    ("case", "dataset", "column", "bad", "shown_column", "shown_value", "rule"),
    [(i, *case) for i, case in enumerate(BAD_VALUES)],
    ids=[f"{case[0]}.{case[1]}={case[2]!r}" for case in BAD_VALUES],
)
def test_a_bad_value_is_quarantined_with_its_problem(
    bad_values_run: tuple[Path, ValidationReport],
    case: int,
    dataset: str,
    column: str,
    bad: str | None,
    shown_column: str | None,
    shown_value: str | None,
    rule: str,
) -> None:
    tmp_path, report = bad_values_run
    row = bad_row_numbers()[case]

    expected_value = shown_value if shown_column else (bad or None)
    file = f"{dataset}.csv"
    found = [p for p in report.problems if p.file == file and p.row == row]
    assert found == [Problem(file, row, shown_column or column, expected_value, rule)]
    quarantine = pl.read_csv(tmp_path / "out" / "quarantine" / file, infer_schema=False)
    held = quarantine.filter(pl.col("row_number") == str(row))
    assert held.get_column("reason").to_list() == [rule]
    assert held.get_column(column).to_list() == [bad or None]


def test_bad_values_leave_only_the_good_rows_loaded(
    bad_values_run: tuple[Path, ValidationReport],
) -> None:
    tmp_path, report = bad_values_run
    bad_rows = {dataset: 0 for dataset, *_ in BAD_VALUES}
    for dataset, *_ in BAD_VALUES:
        bad_rows[dataset] += 1

    assert report.file_errors == []
    assert report.has_problems and not report.has_file_errors
    assert report.problem_count == len(BAD_VALUES)
    for dataset, bad in bad_rows.items():
        counts = report.datasets[dataset]
        assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (
            bad + 1,
            1,
            bad,
        ), dataset
        loaded = pl.read_parquet(tmp_path / "out" / f"{dataset}.parquet")
        assert loaded.height == 1, dataset


def test_a_row_breaking_several_rules_reports_each_and_is_quarantined_once(
    tmp_path: Path,
) -> None:
    bad = {
        **GOOD["registered_population"],
        "extract_date": "2024-04-31",
        "practice_code": "A81009",
        "sex": "U",
        "patients": "-1",
    }
    report = run(tmp_path, registered_population=[GOOD["registered_population"], bad])

    file = "registered_population.csv"
    assert report.problems == [
        Problem(file, 2, "extract_date", "2024-04-31",
                "extract_date must be a date written YYYY-MM-DD"),
        Problem(file, 2, "practice_code", "A81009",
                "practice_code is not a practice in organisations"),
        Problem(file, 2, "sex", "U", "sex must be one of F, M"),
        Problem(file, 2, "patients", "-1", "patients must be a whole number >= 0"),
    ]  # fmt: skip
    counts = report.datasets["registered_population"]
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (2, 1, 1)
    quarantine = pl.read_csv(tmp_path / "out" / "quarantine" / f"{file}", infer_schema=False)
    assert quarantine.get_column("reason").to_list() == [
        "extract_date must be a date written YYYY-MM-DD; "
        "practice_code is not a practice in organisations; sex must be one of F, M; "
        "patients must be a whole number >= 0"
    ]


def test_bed_days_are_only_for_admissions(tmp_path: Path) -> None:
    outpatients = {**GOOD["hospital_activity"], "activity_type": "outpatient_first"}
    report = run(tmp_path, hospital_activity=[GOOD["hospital_activity"], outpatients])

    assert report.problems == [
        Problem(
            "hospital_activity.csv",
            2,
            "activity_type+bed_days",
            "outpatient_first + 9",
            "bed_days must be 0 unless activity_type is an admission",
        )
    ]


def test_pcn_employed_staff_are_checked_against_pcns(tmp_path: Path) -> None:
    pcn_staff = {**GOOD["workforce"], "practice_code": None, "staff_group": "direct_patient_care"}
    unknown_pcn = {**pcn_staff, "pcn_code": "U99999"}
    nobody = {**pcn_staff, "pcn_code": None}
    report = run(tmp_path, workforce=[GOOD["workforce"], pcn_staff, unknown_pcn, nobody])

    assert report.problems == [
        Problem("workforce.csv", 3, "pcn_code", "U99999",
                "pcn_code of PCN-employed staff (no practice_code) is not a PCN in organisations"),
        Problem("workforce.csv", 4, "practice_code+pcn_code", " + ",
                "practice_code and pcn_code must not both be empty"),
    ]  # fmt: skip
    counts = report.datasets["workforce"]
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (4, 2, 2)
    loaded = pl.read_parquet(tmp_path / "out" / "workforce.parquet")
    assert loaded.get_column("practice_code").to_list() == ["A81001", None]


def test_organisation_periods_that_overlap_are_all_quarantined(tmp_path: Path) -> None:
    first, second = ORGANISATIONS
    before = {**second, "valid_from": "2015-01-01", "valid_to": "2019-06-30"}
    moved = {**second, "valid_to": "2022-03-31"}
    overlapping = {**second, "valid_from": "2022-03-31", "pcn_code": "U12345"}
    backwards = {**first, "practice_code": "A81004", "valid_to": "2019-06-30"}
    data = tmp_path / "in"
    write(data, "organisations", [first, before, moved, overlapping, backwards])
    write(data, "registered_population", [GOOD["registered_population"]])
    report = validate_directory(
        data, tmp_path / "out", catalogue=write_catalogue(tmp_path / "c.csv")
    )

    overlap = "this practice's validity periods overlap: every overlapping row is quarantined"
    shown = "practice_code+valid_from+valid_to"
    assert report.problems == [
        Problem("organisations.csv", 3, shown, "A81002 + 2019-07-01 + 2022-03-31", overlap),
        Problem("organisations.csv", 4, shown, "A81002 + 2022-03-31 + ", overlap),
        Problem("organisations.csv", 5, "valid_from+valid_to", "2019-07-01 + 2019-06-30",
                "valid_to must not be before valid_from"),
    ]  # fmt: skip
    counts = report.datasets["organisations"]
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (5, 2, 3)
    loaded = pl.read_parquet(tmp_path / "out" / "organisations.parquet")
    assert loaded.select("practice_code", "valid_from").rows() == [
        ("A81001", date(2019, 7, 1)),
        ("A81002", date(2015, 1, 1)),
    ]


RECORD_KEYS = [
    ("gp_encounters", {"clinician_id": "gp-2"}, "encounter_id", "enc-1",
     "encounter_id is repeated in the file: every copy is quarantined"),
    ("patients", {"sex": "F"}, "patient_id", "pat-1",
     "patient_id is repeated in the file: every copy is quarantined"),
    ("lsoa_deprivation", {"imd_decile": "4"}, "lsoa_code", "E01012345",
     "lsoa_code is repeated in the file: every copy is quarantined"),
    ("prem_responses", {"response": "neither"}, "survey_wave+respondent_id+question_id",
     "2025/26 + r-1 + overall_experience",
     "survey_wave + respondent_id + question_id is repeated in the file: "
     "every copy is quarantined"),
    ("maturity_assessments", {"status": "not_met"},
     "assessment_period+neighbourhood_code+criterion_id", "2025/26 Q2 + N1 + leadership_1_a",
     "assessment_period + neighbourhood_code + criterion_id is repeated in the file: "
     "every copy is quarantined"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("dataset", "change", "shown_column", "shown_value", "rule"),
    RECORD_KEYS,
    ids=[case[0] for case in RECORD_KEYS],
)
def test_every_copy_of_a_repeated_record_key_is_quarantined(
    tmp_path: Path,
    dataset: str,
    change: dict[str, str],
    shown_column: str,
    shown_value: str,
    rule: str,
) -> None:
    report = run(tmp_path, **{dataset: [GOOD[dataset], {**GOOD[dataset], **change}]})

    file = f"{dataset}.csv"
    assert report.problems == [
        Problem(file, 1, shown_column, shown_value, rule),
        Problem(file, 2, shown_column, shown_value, rule),
    ]
    counts = report.datasets[dataset]
    assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (2, 0, 2)


def test_repeated_organisation_keys_are_quarantined(tmp_path: Path) -> None:
    first, second = ORGANISATIONS
    renamed = {**first, "practice_name": "The Densham Surgery (renamed)"}
    data = tmp_path / "in"
    write(data, "organisations", [first, second, renamed])
    write(data, "registered_population", [GOOD["registered_population"]])
    report = validate_directory(data, tmp_path / "out", catalogue=write_catalogue(tmp_path / "c"))

    rules = {(p.row, p.rule) for p in report.problems if p.file == "organisations.csv"}
    assert rules == {
        (1, "practice_code + valid_from is repeated in the file: every copy is quarantined"),
        (3, "practice_code + valid_from is repeated in the file: every copy is quarantined"),
        (1, "this practice's validity periods overlap: every overlapping row is quarantined"),
        (3, "this practice's validity periods overlap: every overlapping row is quarantined"),
    }
    assert report.datasets["organisations"].rows_loaded == 1
    # A81001 did not load, so its registered population is an orphan.
    assert report.datasets["registered_population"].rows_quarantined == 1


def test_aggregated_datasets_may_repeat_their_key(tmp_path: Path) -> None:
    piece = GOOD["registered_population"]
    report = run(
        tmp_path,
        registered_population=[piece, piece],
        community_activity=[GOOD["community_activity"]] * 3,
    )

    assert report.problems == []
    assert report.datasets["registered_population"].rows_loaded == 2
    assert report.datasets["community_activity"].rows_loaded == 3


def test_every_good_row_of_every_dataset_loads(tmp_path: Path) -> None:
    report = run(tmp_path, **{dataset: [row] for dataset, row in GOOD.items()})

    assert report.problems == []
    assert report.file_errors == []
    assert not report.has_problems
    for dataset, counts in report.datasets.items():
        expected = 2 if dataset == "organisations" else 1
        assert (counts.rows_read, counts.rows_loaded, counts.rows_quarantined) == (
            expected,
            expected,
            0,
        ), dataset
