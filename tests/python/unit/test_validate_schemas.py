"""The registry and the text tests in schemas.py, against the specification."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_cli.schemas import (
    AGE_BANDS,
    DATASETS,
    SchemaContext,
    dataset_schema,
    is_financial_year,
    is_full_postcode,
    is_name_column,
    is_nhs_number,
    normalise_booking_interval,
    parse_gpad_month,
    question_ids,
)

REPO = Path(__file__).resolve().parents[3]
SPEC = REPO.parent / "shared" / "spec" / "inputs.md"


def spec_columns() -> dict[str, list[str]]:
    """Each dataset's columns as inputs.md states them: a table, or a backticked list."""
    text = SPEC.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)[1:]
    found: dict[str, list[str]] = {}
    for section in sections:
        name = section.split()[0]
        rows = re.findall(r"^\| ([A-Za-z_]+) \|", section, flags=re.MULTILINE)
        if rows:
            found[name] = [r for r in rows if r != "column"]
        else:
            listed = re.search(r"^`([^`]+,[^`]+)`", section, flags=re.MULTILINE)
            assert listed, name
            plain = re.sub(r"\s*\(.*?\)", "", listed.group(1))  # `org_type (icb|place)`
            found[name] = [c.strip() for c in plain.split(",")]
    return found


@pytest.mark.skipif(not SPEC.is_file(), reason=f"the specification is not at {SPEC}")
def test_the_registry_has_exactly_the_specified_datasets_and_columns() -> None:
    specified = spec_columns()

    assert set(specified) == set(DATASETS)
    for name, columns in specified.items():
        assert list(DATASETS[name].columns) == columns, name


def test_the_registry_states_keys_requirements_and_patient_level_datasets() -> None:
    assert {n for n, s in DATASETS.items() if s.required} == {
        "organisations",
        "registered_population",
    }
    assert {n for n, s in DATASETS.items() if s.patient_level} == {
        "gp_encounters",
        "patients",
        "prem_responses",
    }
    assert {n: s.record_key for n, s in DATASETS.items() if s.record_key} == {
        "organisations": ("practice_code", "valid_from"),
        "lsoa_deprivation": ("lsoa_code",),
        "gp_encounters": ("encounter_id",),
        "patients": ("patient_id",),
        "prem_responses": ("survey_wave", "respondent_id", "question_id"),
        "maturity_assessments": ("assessment_period", "neighbourhood_code", "criterion_id"),
    }
    assert {n: s.optional_columns for n, s in DATASETS.items() if s.optional_columns} == {
        "lsoa_deprivation": ("imd_rank",),
        "hospital_activity": ("cost_gbp",),
    }
    dtypes = {dtype for spec in DATASETS.values() for dtype in spec.columns.values()}
    assert dtypes == {pl.String(), pl.Int64(), pl.Float64(), pl.Date(), pl.Boolean()}


def test_the_age_bands_are_the_19_esp2013_bands() -> None:
    assert len(AGE_BANDS) == 19
    assert AGE_BANDS[0] == "0-4" and AGE_BANDS[-2] == "85-89" and AGE_BANDS[-1] == "90+"
    assert all(AGE_BANDS[i] == f"{5 * i}-{5 * i + 4}" for i in range(18))


def flags(function: object, values: list[str | None]) -> list[bool]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert callable(function)
    return frame.select(function(pl.col("v"))).to_series().to_list()


def test_nhs_numbers_are_recognised_by_their_check_digit() -> None:
    values = [
        "9434765919",  # 9x10+4x9+3x8+4x7+7x6+6x5+5x4+9x3+1x2 = 299; 11 - 299 % 11 = 9
        "943 476 5919",
        "943-476-5919",
        " 9434765919 ",
        "9434765918",  # wrong check digit
        "0000000310",  # 3x3 + 1x2 = 11; 11 - 0 = 11, written 0
        "0000000311",
        "4444444444",  # passes the arithmetic but one digit ten times is never issued
        "94347659190",  # eleven digits
        "9434 765919",  # not spaced 3-3-4
        "A81001",
        None,
    ]
    assert flags(is_nhs_number, values) == [
        True, True, True, True, False, True, False, False, False, False, False, False,
    ]  # fmt: skip


def test_a_check_digit_of_ten_is_never_valid() -> None:
    # 000000040: 4x3 = 12, remainder 1, check digit 11 - 1 = 10: no tenth digit fits.
    assert flags(is_nhs_number, [f"000000040{d}" for d in range(10)]) == [False] * 10


def modulus_11(number: str) -> bool:
    """The NHS number check, written out plainly."""
    total = sum(int(digit) * (10 - i) for i, digit in enumerate(number[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9]) and len(set(number)) > 1


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=10, max_size=10), min_size=200))
def test_the_check_digit_matches_a_plain_implementation(numbers: list[str]) -> None:
    assert flags(is_nhs_number, list(numbers)) == [modulus_11(n) for n in numbers]


def test_full_postcodes_are_recognised_in_any_case_and_spacing() -> None:
    values = ["TS18 1HU", "ts18 1hu", "TS5  8SB", "M1 1AE", "EC1A 1BB", "SW1A1AA", "TS18",
              "E01012345", "A81001", "1HU", None]  # fmt: skip
    assert flags(is_full_postcode, values) == [
        True, True, True, True, True, True, False, False, False, False, False,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("column", "names_people"),
    [
        ("surname", True),
        ("Surname", True),
        ("FIRST_NAME", True),
        ("Given Name", True),
        ("family-name", True),
        (" name ", True),
        ("patient_name", True),
        ("full_name", True),
        ("practice_name", False),
        ("GP_NAME", False),
        ("pcn_name", False),
        ("named_gp", False),
    ],
)
def test_name_columns_are_recognised(column: str, names_people: bool) -> None:
    assert is_name_column(column) is names_people


def test_gpad_months_and_booking_intervals_parse_as_published() -> None:
    frame = pl.DataFrame({"when": ["01JUL2024", "01jul2024", "2024-07-01", "1JUL2024", "JUL-24"]})
    parsed = frame.select(parse_gpad_month(pl.col("when"))).to_series().to_list()
    assert [str(d) if d else None for d in parsed] == [
        "2024-07-01",
        "2024-07-01",
        "2024-07-01",
        None,
        None,
    ]
    waits = pl.DataFrame({"w": ["8 to 14 Days", "15   to 21 Days", "Same Day", "same day"]})
    normalised = waits.select(normalise_booking_interval(pl.col("w"))).to_series().to_list()
    assert normalised == ["8  to 14 Days", "15  to 21 Days", "Same Day", None]


def test_financial_years_are_consecutive() -> None:
    values = ["2024/25", "1999/00", "2024/26", "2024-25", "24/25", None]
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    result = frame.select(is_financial_year(pl.col("v"))).to_series().to_list()
    assert result == [True, True, False, False, False, False]


def test_question_ids_come_from_the_catalogue(tmp_path: Path) -> None:
    catalogue = tmp_path / "metric_catalogue.csv"
    catalogue.write_text(
        "\ufeffmetric_id,title\nprem_needs_met_positive,x\nprem_phone_ease_positive,y\n"
        "same_day_share,z\nprem_positive,w\n",
        encoding="utf-8",
    )
    assert question_ids(catalogue) == frozenset({"needs_met", "phone_ease"})


def test_the_shipped_catalogue_knows_the_specified_questions() -> None:
    known = question_ids(REPO / "seeds" / "metric_catalogue.csv")
    assert {
        "overall_experience",
        "contact_ease",
        "phone_ease",
        "preferred_clinician",
        "needs_met",
    } <= known


def test_docs_list_every_rule() -> None:
    docs = (REPO / "docs" / "validation.md").read_text(encoding="utf-8")
    everything = SchemaContext(
        practice_codes=frozenset(),
        pcn_codes=frozenset(),
        question_ids=frozenset(),
        duplicate_keys=frozenset(),
    )
    rule_ids = {
        rule.rule_id
        for spec in DATASETS.values()
        for rule in dataset_schema(spec, everything).rules.values()
        if not rule.rule_id.endswith((".not_null", ".hidden_character"))  # every column's
    }
    assert "`<column>.not_null`" in docs and "`<column>.hidden_character`" in docs
    assert len(rule_ids) > 50
    assert sorted(r for r in rule_ids if f"`{r}`" not in docs) == []


# texts around the edges of the date rules: real and impossible dates, the first of a
# month and other days, GPAD's form in any case, years out of the bulk and after the
# build date, a year 24, words, spaces and nothing
_DATE_TEXTS = [
    "2024-05-01", "2024-05-17", "2024-02-29", "2023-02-29", "2024-13-01", "2024-5-1",
    "01MAY2024", "01may2024", "17MAY2024", "31FEB2024", "0024-05-01", "1900-01-01",
    "2019-01-01", "2021-06-01", "2027-01-01", "2026-12-01", "2026-12-02", "soon", " ",
    "", None,
]


_DATED = ["not_after_build_date", "near_the_rest_of_the_file"]


@pytest.mark.parametrize(
    ("dataset", "column", "rules"),
    [
        ("gp_encounters", "encounter_date", ["iso_date", *_DATED]),
        ("gp_appointments", "APPOINTMENT_MONTH_START_DATE", ["month_start", *_DATED]),
        ("hospital_activity", "month", ["month_start", *_DATED]),
        ("patients", "registered_to", ["iso_date", "not_after_build_date"]),
    ],
)
def test_date_rules_read_from_the_value_parsed_once_fail_the_same_rows(
    dataset: str, column: str, rules: list[str]
) -> None:
    """Where a batch's suspect rows are found, a date column is parsed once
    (`BuiltSchema.flags`) and its own rule and plausibility rules read that value
    (`Field.valid_parsed`, `RowRule.on_parsed`): each must fail exactly the rows its
    check, reading the text, fails."""
    from datetime import date

    from pandera.api.polars import types as pa_types

    spec = DATASETS[dataset]
    context = SchemaContext(
        today=date(2026, 12, 1), date_ranges={column: (date(2024, 4, 1), date(2025, 3, 1))}
    )
    built = dataset_schema(spec, context)
    frame = pl.DataFrame(
        {name: _DATE_TEXTS if name == column else [None] * len(_DATE_TEXTS)
         for name in spec.columns},
        schema=dict.fromkeys(spec.columns, pl.String),
    )
    flagged = frame.with_columns(**built.flags).lazy()
    compared = []
    for check in built.schema.columns[column].checks:
        stand_in = built.may_fail.get((column, check.name))
        if stand_in is None or not check.name.startswith(f"{column}."):
            continue
        passed = check._check_fn(pa_types.PolarsData(frame.lazy(), column)).collect()
        failed_by_check = passed.to_series().fill_null(False).not_().to_list()
        assert flagged.select(stand_in).collect().to_series().to_list() == failed_by_check
        compared.append(check.name.split(".", 1)[1])
    assert compared == rules
