"""Issue 14, third round: more inputs a careless or hostile user might give (docs/safety.md,
"Tried in the third round"). Each test failed before its fix."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from test_validate_files import catalogue, counts, encounter, inputs, organisation, write

from metrics_cli.cli import main
from metrics_cli.files import csv_bytes, safe_cell
from metrics_cli.report.run import report_filename
from metrics_cli.validate import ValidationReport, validate_directory

TODAY = date(2025, 6, 15)
HIDING = (
    "holds a character that hides or reorders text (a control character such as a NUL "
    "byte or a Unicode direction override)"
)
NOT_A_LABEL = "is not a code or label the warehouse could hold"


def validate(tmp_path: Path, data: Path) -> ValidationReport:
    return validate_directory(data, tmp_path / "out", catalogue=catalogue(tmp_path), today=TODAY)


def test_a_direction_override_or_a_nul_byte_in_a_name_is_refused_and_shown_escaped(
    tmp_path: Path,
) -> None:
    """Before: `St Anne's \\u202eedisreviR` loaded, and printed as "St Anne's Riverside" in
    reports; a NUL byte went into the warehouse and the published CSV."""
    data = inputs(tmp_path)
    spoofed = {**organisation("A81001"), "neighbourhood_name": "North \u202ehtuoS"}
    nul = {**organisation("A81002", "U07032"), "practice_name": "The\x00 Surgery"}
    write(data, "organisations", [spoofed, nul])

    report = validate(tmp_path, data)

    assert counts(report, "organisations") == (2, 0, 2, False)
    problems = (tmp_path / "out" / "problems.csv").read_text(encoding="utf-8").splitlines()
    assert problems[1:3] == [
        f"organisations.csv,1,neighbourhood_name,North <U+202E>htuoS,neighbourhood_name {HIDING}",
        f"organisations.csv,2,practice_name,The<U+0000> Surgery,practice_name {HIDING}",
    ]
    quarantined = (tmp_path / "out" / "quarantine" / "organisations.csv").read_bytes()
    assert b"\x00" not in quarantined and "\u202e".encode() not in quarantined
    assert b"North <U+202E>htuoS" in quarantined


def test_tabs_and_new_lines_in_free_text_are_not_hiding_characters() -> None:
    assert safe_cell("line one\nline two\tend") == "line one\nline two\tend"
    assert safe_cell("=\u2067x") == "'=<U+2067>x"
    assert csv_bytes(pl.DataFrame({"a": ["\x1bx", None]})) == b"a\n<U+001B>x\n\n"


def test_a_column_named_with_spaces_around_it_is_explained(tmp_path: Path) -> None:
    """Before: "required column icb_name is missing" and "column  icb_name is not part of
    organisations and is ignored", with nothing to say the two are one column."""
    data = inputs(tmp_path)
    row = organisation("A81001")
    row[" icb_name"] = row.pop("icb_name")
    write(data, "organisations", [row])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "organisations.csv: required column icb_name is missing "
        "(a column ' icb_name' has spaces around its name: remove them)"
    ]
    assert report.warnings[0] == (
        "organisations.csv: column ' icb_name' is not part of organisations and is ignored "
        "(remove the spaces around its name to read it as icb_name)"
    )


def test_a_column_given_twice_once_with_spaces_around_it_refuses_the_file(
    tmp_path: Path,
) -> None:
    """Before: the file loaded from one of the two, the other ignored with a warning."""
    data = inputs(tmp_path)
    row = {**organisation("A81001"), "icb_name ": "Another ICB"}
    write(data, "organisations", [row])

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "organisations.csv: column icb_name appears twice (once as 'icb_name ', with spaces "
        "around it)"
    ]
    assert counts(report, "organisations") == (1, 0, 1, True)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("N01", "neighbourhood_N01.pdf"),
        ("N_1", "neighbourhood_N_1.pdf"),
        ("N/1", "neighbourhood_N_1-8c073a9d.pdf"),
        ("..", "neighbourhood_..-5ec1f7e7.pdf"),
        ("../../etc/passwd", "neighbourhood_.._.._etc_passwd-3754d6cb.pdf"),
        ("x" * 300, f"neighbourhood_{'x' * 64}-0d4e2ca9.pdf"),
    ],
)
def test_report_file_names_are_safe_distinct_and_short(code: str, name: str) -> None:
    """Before: `N/1` and `N_1` both wrote `neighbourhood_N_1.pdf` (the later replaced the
    earlier within one `--all`), and a 300-character code failed: file name too long."""
    assert report_filename(("neighbourhood", code), "pdf") == name


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("", "--period is empty; give a code or label"),
        ("2025\u202e03", f"--period '2025<U+202E>03' {NOT_A_LABEL}"),
        ("20\t25", f"--period '20\\t25' {NOT_A_LABEL}"),
        ("9" * 500, f"--period '{'9' * 40}...' {NOT_A_LABEL}"),
    ],
)
def test_odd_period_labels_are_one_short_sentence(
    given: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a 5,000-character --period was echoed whole, and one ending in a new line
    split the message over two lines."""
    import duckdb

    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    arguments = ["report", "--icb", "Q1", "--period", given, "--warehouse", str(warehouse)]
    assert main([*arguments, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == f"nbhd: {said}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


@pytest.mark.parametrize(
    ("first", "second"),
    [("943 476", "5919"), ("943", "476 5919"), ("943-476", "5919"), (" 943 ", "476-5919")],
)
def test_an_nhs_number_split_across_two_neighbouring_columns_refuses_the_file(
    first: str, second: str, tmp_path: Path
) -> None:
    """Before: not detected (the second round left it). The grouping NHS numbers are
    written in shows the split, and the check digit must be right."""
    data = inputs(tmp_path)
    rows = [encounter(1, notes="seen", more="twice"), encounter(2, notes=first, more=second)]
    write(data, "gp_encounters", rows)

    report = validate(tmp_path, data)

    assert report.file_errors == [
        "gp_encounters.csv: direct identifiers found: NHS numbers split across columns notes "
        "and more (1 rows); the whole file is refused"
    ]
    assert counts(report, "gp_encounters") == (2, 0, 2, True)
    problems = (tmp_path / "out" / "problems.csv").read_text(encoding="utf-8")
    assert (
        "gp_encounters.csv,2,notes+more,[withheld: direct identifier],direct identifier: a "
        "valid NHS number split across two neighbouring columns (the whole file is refused)"
    ) in problems
    assert "5919" not in problems
    assert not (tmp_path / "out" / "quarantine" / "gp_encounters.csv").exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("943476", "5919"),  # unspaced: a six-digit code beside a four-digit count
        ("943.476", "5919"),  # a decimal amount beside a four-digit count
        ("943", "476.5919"),  # a count beside a decimal amount
        ("943 476", "5918"),  # the check digit is wrong
        ("943 476", "59190"),  # eleven digits
        ("123 456", "7890"),  # shaped, but not a valid number
        ("943 476", None),
    ],
)
def test_neighbouring_numbers_that_are_not_a_split_nhs_number_load(
    first: str, second: str | None, tmp_path: Path
) -> None:
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1, notes=first, more=second)])

    report = validate(tmp_path, data)

    assert report.file_errors == []
    assert counts(report, "gp_encounters") == (1, 1, 0, False)


def test_column_and_file_names_are_printed_on_one_line_and_as_written(tmp_path: Path) -> None:
    """Before: a column named `notes\\u202e` or `a<new line>b` was printed as it is, so a
    warning could run over lines or show reordered text."""
    data = inputs(tmp_path)
    write(data, "gp_encounters", [encounter(1, **{"notes\u202e": "x", "a\nb": "y"})])
    (data / "evil\u202egpj.csv").write_text("a\n1\n", encoding="utf-8")

    report = validate(tmp_path, data)

    assert report.warnings == [
        "evil<U+202E>gpj.csv: not an input dataset name; ignored",
        "gp_encounters.csv: column notes<U+202E> is not part of gp_encounters and is ignored",
        "gp_encounters.csv: column a\\nb is not part of gp_encounters and is ignored",
    ]


def test_stale_staging_beside_an_output_is_swept_and_a_live_one_kept(tmp_path: Path) -> None:
    """Before: a `nbhd validate` killed outright (SIGKILL, a power cut, a closed terminal)
    left `.out.nbhd-new-*`, holding patient-level Parquet, beside `--out` for ever."""
    from metrics_cli.files import file_lock

    data = inputs(tmp_path)
    killed = tmp_path / ".out.nbhd-new-0123"
    killed.mkdir()
    (killed / "gp_encounters.parquet").write_bytes(b"PAR1")
    aside = tmp_path / ".out.nbhd-old-1-2"
    aside.mkdir()
    live = tmp_path / ".out.nbhd-new-4567"
    live.mkdir()

    with file_lock(live / ".nbhd-staging-lock"):
        validate(tmp_path, data)
        assert not killed.exists() and not aside.exists()
        assert live.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [
        ".out.nbhd-new-4567"
    ]


def test_codes_and_labels_lose_the_spaces_and_line_end_around_them() -> None:
    from metrics_cli.cli import _label

    assert _label("--neighbourhood", " NBH0001 ") == "NBH0001"
    assert _label("--period", "2025-03\n") == "2025-03"
    assert _label("--period", None) is None
