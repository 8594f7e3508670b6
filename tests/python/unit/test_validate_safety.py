"""Issue 14 on the input side: identifiers anywhere in a text, plausible dates and counts,
files named like a dataset that cannot be read, keys that differ only by white space, and
the validation output directory that never touches the inputs."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_validate_files import (
    POPULATION,
    catalogue,
    counts,
    encounter,
    inputs,
    organisation,
    write,
)

from metrics_cli.cli import main
from metrics_cli.errors import UsageError
from metrics_cli.files import HIDING_CHARACTERS
from metrics_cli.schemas import (
    DATASETS,
    is_full_postcode,
    is_name_column,
    may_be_split_part,
    may_identify,
    nhs_numbers_in,
    split_shaped,
)
from metrics_cli.validate import WITHHELD, ValidationReport, format_report, validate_directory

TODAY = date(2025, 6, 15)


def validate(tmp_path: Path, data: Path) -> ValidationReport:
    return validate_directory(data, tmp_path / "out", catalogue=catalogue(tmp_path), today=TODAY)


def everything_written(out: Path) -> str:
    """Every byte validation wrote, as text, to look for identifiers in."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in sorted(out.rglob("*")) if p.is_file()
    )


def assessment(evidence: str) -> dict[str, str | None]:
    return {
        "assessment_period": "2024/25 Q2",
        "neighbourhood_code": "N1",
        "submitted_by": "QHM",
        "criterion_id": "C1",
        "status": "met",
        "evidence": evidence,
        "evidence_url": None,
        "assessed_on": "2024-09-30",
    }


# ---------------------------------------------------------------- case 3: identifiers
@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Seen patient 943 476 5919 at MDT", True),
        ("NHS:9434765919", True),
        ("nhs no. 943-476-5919.", True),
        ("943.476.5919", True),
        ("9 4 3 4 7 6 5 9 1 9", True),
        ("on 2024 943 476 5919", True),
        ("9434765919", True),
        ("943 476 5918", False),  # wrong check digit
        ("0000000000", False),  # a placeholder, never issued
        ("94347659191", False),  # eleven digits in one run is not an NHS number
        ("943476591", False),
        ("2024-07-03", False),
        ("94347659.19", False),  # a spend in pounds whose ten digits pass the check
        ("-94347659.19", False),
        (None, False),
    ],
)
def test_nhs_numbers_are_found_in_any_spacing_inside_text(text: str | None, found: bool) -> None:
    series = pl.Series("value", [text, "nothing here"], dtype=pl.String)
    assert nhs_numbers_in(series).to_list() == [found, False]


# cells built from what identifiers are made of: digits (ASCII and not), the separators an
# NHS number may be grouped with, postcode letters, a hiding character
_CELL = st.text(alphabet=st.sampled_from("0123456789٣ -.AZaz \t\u00a0\x00\u202e"), max_size=16)


@settings(max_examples=400, deadline=None)
@given(first=_CELL, second=_CELL)
def test_the_quick_tests_of_a_batch_find_every_cell_the_exact_checks_find(
    first: str, second: str
) -> None:
    """Validation hands pandera only the rows `may_identify` and `may_be_split_part` (of
    both cells) find, so they must be true wherever the exact identifier and
    hidden-character checks are."""
    frame = pl.DataFrame(
        {
            "a": [first, "943 476 5919", "TS18 1AB", "a\u202eb", "943 476"],
            "b": [second, "x", "x", "x", "5919"],
        }
    )
    a, b = pl.col("a"), pl.col("b")
    found = frame.select(
        exact=nhs_numbers_in(frame["a"]) | is_full_postcode(a) | a.str.contains(HIDING_CHARACTERS),
        quick=may_identify(a),
        exact_split=split_shaped(a, b),
        quick_split=may_be_split_part(a) & may_be_split_part(b),
    )
    assert found["exact"].to_list()[1:] == [True, True, True, False]
    assert found["exact_split"].to_list()[4]
    assert found.filter(pl.col("exact") & ~pl.col("quick")).is_empty()
    assert found.filter(pl.col("exact_split") & ~pl.col("quick_split")).is_empty()


# Every kind of column whose own rule stands in for its identifier searches
# (`Field.identifier_free_shapes`), named by dataset and column.
_FREE_KINDS = {
    f"{name}.{column}": kind
    for name, spec in DATASETS.items()
    for column, kind in spec.fields.items()
    if kind.identifier_free_shapes
}


def test_dates_codes_and_formatted_columns_are_searched_by_their_own_rule_only() -> None:
    kinds = {key.split(".", 1)[1] for key in _FREE_KINDS}
    assert {"encounter_date", "clinician_role", "lsoa_code", "month", "sex"} <= kinds
    numbers = {c for s in DATASETS.values() for c, k in s.fields.items() if k.dtype.is_numeric()}
    assert numbers and not numbers & kinds  # ten digits are a whole number: always searched


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("key", sorted(_FREE_KINDS))
def test_no_text_a_free_kind_accepts_can_identify(key: str, data: st.DataObject) -> None:
    """What `identifier_free_shapes` claims: every text of its shapes is found by neither
    quick search, so no row whose value passes the column's rule can fail an identifier
    check (and a row whose value fails it is suspect anyway)."""
    shapes = _FREE_KINDS[key].identifier_free_shapes
    text = data.draw(st.one_of(*(st.from_regex(s, fullmatch=True) for s in shapes)))
    found = pl.DataFrame({"t": [text]}).select(
        may_identify(pl.col("t")) | may_be_split_part(pl.col("t"))
    )
    assert not found.item(), (key, text)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("key", sorted(_FREE_KINDS))
def test_every_text_a_free_kind_accepts_has_one_of_its_shapes(
    key: str, data: st.DataObject
) -> None:
    """The other half: the shapes cover what the rule accepts. Texts near the shapes (one
    drawn, then a character inserted, dropped or changed) that the rule accepts match a
    shape."""
    kind = _FREE_KINDS[key]
    assert kind.valid is not None
    shapes = kind.identifier_free_shapes
    near = data.draw(st.one_of(*(st.from_regex(s, fullmatch=True) for s in shapes)))
    where = data.draw(st.integers(0, len(near)))
    extra = data.draw(st.sampled_from("0123456789 -/QEWJULANaz\t"))
    how = data.draw(st.sampled_from(["insert", "drop", "change", "keep"]))
    text = {
        "insert": near[:where] + extra + near[where:],
        "drop": near[:where] + near[where + 1 :],
        "change": near[:where] + extra + near[where + 1 :],
        "keep": near,
    }[how]
    accepted = pl.DataFrame({"t": [text]}).select(kind.valid(pl.col("t")).fill_null(False))
    if accepted.item():
        assert any(re.fullmatch(s, text) for s in shapes), (key, text)


def test_an_nhs_number_inside_maturity_evidence_refuses_the_file(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "maturity_assessments", [assessment("Seen patient 943 476 5919 at MDT")])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "maturity_assessments.csv: direct identifiers found: NHS numbers in column evidence "
        "(1 rows); the whole file is refused"
    ]
    assert counts(report, "maturity_assessments") == (1, 0, 1, True)
    problems = pl.read_csv(tmp_path / "out" / "problems.csv", infer_schema=False)
    flagged = problems.filter(pl.col("column") == "evidence").row(0, named=True)
    assert flagged["row"] == "1" and flagged["value"] == WITHHELD
    assert "5919" not in everything_written(tmp_path / "out")
    assert "5919" not in format_report(report)


def test_an_nhs_number_with_a_prefix_in_a_patient_level_file_is_refused(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1), encounter(2, clinician_id="NHS:9434765919")])

    report = validate(tmp_path, data)

    assert report.datasets["gp_encounters"].refused
    assert "NHS numbers in column clinician_id (1 rows)" in report.file_errors[0]
    assert "9434765919" not in everything_written(tmp_path / "out")


def test_identifiers_in_dates_and_coded_columns_are_still_found(tmp_path: Path) -> None:
    """Date and code columns are not searched for identifiers when suspect rows are found:
    their own rule refuses such a value, so its row is checked exactly like any other."""
    data = inputs(tmp_path)
    rows = [
        encounter(1, encounter_date="943 476 5919"),
        encounter(2, appt_mode="TS18 1AB"),
        encounter(3, clinician_role="943 476", appt_mode="5919"),
        encounter(4),
    ]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "gp_encounters.csv: direct identifiers found: NHS numbers in column encounter_date "
        "(1 rows), NHS numbers split across columns clinician_role and appt_mode (1 rows), "
        "full postcodes in column appt_mode (1 rows); the whole file is refused"
    ]
    written = everything_written(tmp_path / "out")
    assert "5919" not in written and "TS18" not in written


def test_an_nhs_number_for_a_practice_code_is_not_named_as_an_unknown_practice(
    tmp_path: Path,
) -> None:
    """A practice code that is not in organisations is named in the validation results
    (and from there in data_quality); one that holds an NHS number, whole or split with
    the cell beside it, is withheld there as in problems.csv."""
    data = inputs(tmp_path)
    rows = [
        encounter(1, practice_code="9434765919"),
        encounter(2, practice_code="943 476", patient_id="5919"),
        encounter(3, practice_code="Z99999"),
    ]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data)

    assert report.datasets["gp_encounters"].refused
    results = pl.read_parquet(tmp_path / "out" / "validation_results.parquet")
    unknown = results.filter(pl.col("check_name") == "unknown_practice_code")
    assert set(unknown["practice_code"].to_list()) == {WITHHELD, "Z99999"}
    assert unknown.filter(pl.col("practice_code") == WITHHELD)["rows_affected"].item() == 2
    shown = "\n".join(str(row) for row in results.rows()) + everything_written(tmp_path / "out")
    assert "5919" not in shown and "943 476" not in shown
    assert "5919" not in format_report(report)


def test_a_postcode_inside_a_note_of_a_patient_level_file_is_refused(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [{**encounter(1), "note": "lives at ts18 1ab, alone"}, {**encounter(2), "note": "ok"}]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "gp_encounters.csv: direct identifiers found: full postcodes in column note (1 rows); "
        "the whole file is refused"
    ]
    written = everything_written(tmp_path / "out").lower()
    assert "ts18" not in written
    assert "ts18" not in format_report(report).lower()


def test_a_postcode_in_free_text_of_an_aggregate_file_is_allowed(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "maturity_assessments", [assessment("Hub at TS18 1AB opened")])

    report = validate(tmp_path, data)

    assert not report.has_problems


@pytest.mark.parametrize(
    "column",
    ["FirstName", "patient_surname", "forenames", "LastName", "Given Name", "middle_name",
     "PatientName", "clinician_name", "name", "NAMES", "maidenName"],
)  # fmt: skip
def test_person_name_columns_are_found_by_pattern(tmp_path: Path, column: str) -> None:
    assert is_name_column(column)
    data = inputs(tmp_path)
    write(data, "gp_encounters", [{**encounter(1), column: "Smith"}])

    report = validate(tmp_path, data)

    assert report.datasets["gp_encounters"].refused
    assert report.file_errors == [
        f"gp_encounters.csv: direct identifier: column {column} names people; "
        "the whole file is refused"
    ]
    assert "Smith" not in everything_written(tmp_path / "out")


@pytest.mark.parametrize(
    "column", ["practice_name", "pcn_name", "file_name", "TeamName", "service_name", "named"]
)
def test_names_of_organisations_and_things_are_not_person_names(column: str) -> None:
    assert not is_name_column(column)


def test_no_canonical_column_is_taken_for_a_person_name() -> None:
    flagged = [c for spec in DATASETS.values() for c in spec.columns if is_name_column(c)]
    assert flagged == []


def test_a_quarantined_row_never_repeats_an_identifier(tmp_path: Path) -> None:
    """A row that fails another rule in a file that is then refused: nothing of it is
    copied, and problems.csv withholds the identifier wherever it appears."""
    data = inputs(tmp_path)
    rows = [encounter(1, appt_mode="Phone", clinician_id="gp 943 476 5919")]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data)

    assert report.datasets["gp_encounters"].refused
    assert not (tmp_path / "out" / "quarantine" / "gp_encounters.csv").exists()
    assert "5919" not in everything_written(tmp_path / "out")


# ---------------------------------------------------------------- case 4: plausibility
def activity(month: str, events: str = "3", practice: str = "A81001") -> dict[str, str | None]:
    return {
        "month": month,
        "practice_code": practice,
        "lsoa_code": "E01012345",
        "sex": "F",
        "age_band": "0-4",
        "activity_type": "ae_type1",
        "acsc_category": "none",
        "events": events,
        "bed_days": "0",
        "cost_gbp": None,
    }


def months(first_year: int, count: int) -> list[str]:
    return [f"{first_year + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}-01" for m in range(1, count + 1)]


def test_a_row_dated_after_the_build_date_is_quarantined(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(
        data,
        "hospital_activity",
        [*(activity(m) for m in months(2024, 12)), activity("2031-01-01")],
    )

    report = validate(tmp_path, data)

    assert counts(report, "hospital_activity") == (13, 12, 1, False)
    problem = next(p for p in report.problems if p.file == "hospital_activity.csv")
    assert (problem.row, problem.column, problem.value) == (13, "month", "2031-01-01")
    assert problem.rule == "month is after the build date (2025-06-15)"
    loaded = pl.read_parquet(tmp_path / "out" / "hospital_activity.parquet")
    assert loaded.get_column("month").max() == date(2024, 12, 1)


def test_a_row_far_before_the_rest_of_the_dataset_is_quarantined(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    rows = [activity("2004-01-01"), *(activity(m) for m in months(2023, 24))]
    write(data, "hospital_activity", rows)

    report = validate(tmp_path, data)

    assert counts(report, "hospital_activity") == (25, 24, 1, False)
    problem = next(p for p in report.problems if p.file == "hospital_activity.csv")
    assert (problem.row, problem.value) == (1, "2004-01-01")
    assert problem.rule == (
        "month is far outside the rest of hospital_activity "
        "(2023-01-01 to 2024-12-01, more than 24 months away)"
    )


@pytest.mark.parametrize("stored_as", [pl.Date(), pl.Datetime("us"), pl.Datetime("ms", "UTC")])
def test_a_parquet_file_of_dates_finds_the_bulk_of_its_dates_as_the_csv_does(
    tmp_path: Path, stored_as: pl.DataType
) -> None:
    """The dates of a Parquet date column are read as they are, not written as text and
    parsed back; the dates holding the bulk and the row far from them are the same. The
    year-24 row (`0024-01-01` as text) takes part in both; nulls in neither."""
    rows = [activity("0024-01-01"), *(activity(m) for m in months(2023, 24))]
    as_text = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String), orient="row")
    typed = as_text.with_columns(pl.col("month").str.to_date("%Y-%m-%d").cast(stored_as))
    undated = typed.head(1).with_columns(pl.lit(None).cast(stored_as).alias("month"))
    typed = pl.concat([typed, undated])

    reports = validated_as_csv_and_parquet(tmp_path, rows, typed)

    for name, report in reports.items():
        far = next(p for p in report.problems if p.rule.startswith("month is far outside"))
        assert (far.row, far.value) == (1, "0024-01-01"), name
        assert far.rule.endswith("(2023-01-01 to 2024-12-01, more than 24 months away)")
    assert counts(reports["parquet"], "hospital_activity") == (26, 24, 2, False)


def validated_as_csv_and_parquet(
    tmp_path: Path, rows: list[dict[str, str | None]], typed: pl.DataFrame
) -> dict[str, ValidationReport]:
    """`rows` as hospital_activity.csv and `typed` (the same rows, stored typed) as
    hospital_activity.parquet, each validated in its own directory (`csv/`, `parquet/`)."""
    reports = {}
    for name in ("csv", "parquet"):
        data = inputs(tmp_path / name)
        if name == "csv":
            write(data, "hospital_activity", rows)
        else:
            typed.write_parquet(data / "hospital_activity.parquet")
        reports[name] = validate(tmp_path / name, data)
    return reports


@pytest.mark.parametrize("stored_as", [pl.Date(), pl.Datetime("us"), pl.Datetime("ms", "UTC")])
def test_a_parquet_file_of_dates_validates_and_loads_as_its_csv_does(
    tmp_path: Path, stored_as: pl.DataType
) -> None:
    """A Parquet date column is written as text once per day and its rules read its own
    dates (`_dates_as_text`): every problem, and every loaded row, is the CSV's. A date
    that is not the first of its month, one far from the rest and an empty one among
    them."""
    dates = ["2024-03-15", "0024-01-01", *months(2023, 24), "2024-05-01"]
    rows = [activity(month) for month in dates]
    as_text = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.String), orient="row")
    typed = as_text.with_columns(pl.col("month").str.to_date("%Y-%m-%d").cast(stored_as))
    typed = typed.with_columns(
        pl.when(pl.int_range(pl.len()) == pl.len() - 1)
        .then(None)
        .otherwise(pl.col("month"))
        .alias("month")
    )
    blank = len(rows) - 1
    rows[blank] = {**rows[blank], "month": ""}

    reports = validated_as_csv_and_parquet(tmp_path, rows, typed)

    found = {}
    for name, report in reports.items():
        problems = [(p.row, p.column, p.value, p.rule) for p in report.problems]
        loaded = pl.read_parquet(tmp_path / name / "out" / "hospital_activity.parquet")
        found[name] = (problems, loaded.rows())
    assert found["parquet"] == found["csv"]
    problems, loaded = found["csv"]
    assert [(row, value) for row, _, value, _ in problems] == [
        (1, "2024-03-15"),
        (2, "0024-01-01"),
        (len(rows), None),
    ]
    assert len(loaded) == 24


def test_dates_spread_evenly_are_all_plausible(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "hospital_activity", [activity(m) for m in months(2019, 72)])

    report = validate(tmp_path, data)

    assert counts(report, "hospital_activity") == (72, 72, 0, False)


def test_a_count_above_the_practice_list_size_is_quarantined(tmp_path: Path) -> None:
    data = inputs(tmp_path)  # A81001 has 100 registered patients
    write(data, "hospital_activity", [activity("2024-04-01", "100"), activity("2024-05-01", "101")])

    report = validate(tmp_path, data)

    assert counts(report, "hospital_activity") == (2, 1, 1, False)
    problem = next(p for p in report.problems if p.file == "hospital_activity.csv")
    assert (problem.row, problem.column, problem.value) == (2, "events", "101")
    assert problem.rule == (
        "events is more than the practice's registered list size: "
        "implausible for one row of one month"
    )


# ---------------------------------------------------------------- case 9: names and keys
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "spend.CSV").write_text("x\n"),
         "spend.CSV: dataset file names are lower-case, extension too; rename it spend.csv"),
        (lambda d: (d / "Spend.csv").write_text("x\n"),
         "Spend.csv: dataset file names are lower-case, extension too; rename it spend.csv"),
        (lambda d: (d / "spend.csv.gz").write_bytes(b"\x1f\x8b"),
         "spend.csv.gz: compressed files are not read; decompress it to spend.csv"),
        (lambda d: (d / "spend.csv").mkdir(),
         "spend.csv: it is a directory, not a file"),
        (lambda d: os.mkfifo(d / "spend.csv"),
         "spend.csv: it is not a regular file (a pipe, socket or device)"),
        (lambda d: (d / "spend.parquet.zip").write_bytes(b"PK"),
         "spend.parquet.zip: compressed files are not read; decompress it to spend.parquet"),
    ],
    ids=["upper-case", "capital", "gzip", "directory", "fifo", "zip"],
)  # fmt: skip
def test_a_file_named_like_a_dataset_that_cannot_be_read_is_reported(
    tmp_path: Path, make: object, message: str
) -> None:
    data = inputs(tmp_path)
    make(data)  # type: ignore[operator]

    report = validate(tmp_path, data)

    assert report.file_errors == [message]
    assert report.datasets["spend"].refused
    assert report.datasets["spend"].file is not None


def test_keys_that_differ_only_by_surrounding_space_are_one_key(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1), encounter(1, encounter_id=" enc-1 "), encounter(2)])

    report = validate(tmp_path, data)

    assert counts(report, "gp_encounters") == (3, 1, 2, False)
    loaded = pl.read_parquet(tmp_path / "out" / "gp_encounters.parquet")
    assert loaded.get_column("encounter_id").to_list() == ["enc-2"]


def test_surrounding_space_is_trimmed_from_every_value(tmp_path: Path) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1, practice_code=" A81001\t", appt_mode=" Telephone ")])

    report = validate(tmp_path, data)

    assert not report.has_problems
    loaded = pl.read_parquet(tmp_path / "out" / "gp_encounters.parquet")
    assert loaded.select("practice_code", "appt_mode").row(0) == ("A81001", "Telephone")


# ---------------------------------------------------------------- case 2: the output directory
def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def parquet_inputs(tmp_path: Path) -> Path:
    data = tmp_path / "in"
    data.mkdir()
    orgs = [organisation("A81001")]
    pl.DataFrame(orgs, schema=dict.fromkeys(orgs[0], pl.String)).write_parquet(
        data / "organisations.parquet"
    )
    pl.DataFrame([POPULATION]).write_parquet(data / "registered_population.parquet")
    return data


@pytest.mark.parametrize("where", ["same", "inside", "parent"])
def test_validate_never_writes_into_or_over_its_input(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = parquet_inputs(tmp_path)
    before = snapshot(data)
    out = {"same": data, "inside": data / "out", "parent": tmp_path}[where]

    code = main(["validate", str(data), "--out", str(out)])

    error = capsys.readouterr().err
    assert code == 2
    assert error.count("\n") == 1 and error.startswith("nbhd: --out ")
    assert snapshot(data) == before
    assert sorted(p.name for p in data.iterdir()) == sorted(before)


def test_validate_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    data = parquet_inputs(tmp_path)
    out = tmp_path / "reports"
    out.mkdir()
    (out / "board.xlsx").write_bytes(b"keep me")

    with pytest.raises(UsageError, match="not written by nbhd"):
        validate_directory(data, out, today=TODAY)
    assert snapshot(out) == {"board.xlsx": b"keep me"}


def test_validate_replaces_its_own_earlier_output(tmp_path: Path) -> None:
    data = parquet_inputs(tmp_path)
    first = validate_directory(data, tmp_path / "out", today=TODAY)
    second = validate_directory(data, tmp_path / "out", today=TODAY)
    assert not first.has_problems and not second.has_problems
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert (tmp_path / "out" / "organisations.parquet").is_file()


def test_a_full_disk_during_validate_is_one_sentence_and_keeps_the_last_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    import pyarrow.parquet as pq

    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1)])
    out = tmp_path / "out"
    assert main(["validate", str(data), "--out", str(out)]) == 0
    before = snapshot(out)
    capsys.readouterr()

    def disk_full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_full)
    code = main(["validate", str(data), "--out", str(out)])

    error = capsys.readouterr().err
    assert code == 2
    assert error == "nbhd: the disk is full (No space left on device); nothing was replaced\n"
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no staging left


def test_an_nhs_number_as_a_column_name_refuses_the_file(tmp_path: Path) -> None:
    """A pivoted file, one column per patient: the header is checked too, never repeated."""
    data = inputs(tmp_path)
    write(data, "gp_encounters", [{**encounter(1), "943 476 5919": "3"}])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "gp_encounters.csv: direct identifier: the name of column 8 (counting from 1) holds an "
        "NHS number or postcode; the whole file is refused"
    ]
    assert "5919" not in everything_written(tmp_path / "out")
    assert "5919" not in format_report(report)
