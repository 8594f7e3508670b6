"""Every usage error is one sentence on stderr and exit code 2, never a traceback, and is
found before any work is done (issue 14, case 8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from metrics_cli.cli import main


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NBHD_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "a_file.txt").write_text("not a directory\n", encoding="utf-8")
    (tmp_path / "spend.csv").write_text("financial_year\n2024/25\n", encoding="utf-8")
    (tmp_path / "a_directory").mkdir()
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    data = tmp_path / "data"  # organisations missing: a build would stop after validation
    data.mkdir()
    (data / "registered_population.csv").write_text(
        "extract_date,practice_code,lsoa_code,sex,age_band,patients\n", encoding="utf-8"
    )
    return tmp_path


def one_sentence(capsys: pytest.CaptureFixture[str], run: Callable[[], int]) -> str:
    code = run()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code == 2, captured.err
    assert captured.err.startswith("nbhd: ")
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


CASES = {
    "validate-out-under-a-file": (
        ["validate", "{data}", "--out", "{place}/a_file.txt/out"],
        "a_file.txt is a file",
    ),
    "publish-out-under-a-file": (
        ["publish", "--warehouse", "{place}/empty.duckdb", "--out", "{place}/a_file.txt/pub"],
        "a_file.txt is a file",
    ),
    "report-out-under-a-file": (
        ["report", "--all", "--warehouse", "{place}/empty.duckdb", "--out",
         "{place}/a_file.txt/r"],
        "a_file.txt is a file",
    ),
    "generate-out-is-a-file": (
        ["generate", "--scale", "tiny", "--out", "{place}/a_file.txt"],
        "a_file.txt is a file",
    ),
    "publish-warehouse-is-a-directory": (
        ["publish", "--warehouse", "{place}/a_directory", "--out", "{place}/pub"],
        "is a directory, not a DuckDB warehouse",
    ),
    "report-warehouse-is-a-csv": (
        ["report", "--all", "--warehouse", "{place}/spend.csv", "--out", "{place}/r"],
        "is not a DuckDB warehouse",
    ),
    "docs-warehouse-missing": (
        ["docs", "--warehouse", "{place}/nothing.duckdb", "--out", "{place}/d"],
        "no warehouse at",
    ),
    "submit-warehouse-is-a-directory": (
        ["submit", "--provider", "P1", "--data", "{data}", "--out", "{place}/r.zip",
         "--warehouse", "{place}/a_directory"],
        "is a directory, not a DuckDB warehouse",
    ),
    "build-warehouse-is-a-directory": (
        ["build", "--data", "{data}", "--warehouse", "{place}/a_directory"],
        "is a directory, not a DuckDB warehouse",
    ),
    "build-warehouse-would-overwrite-a-csv": (
        ["build", "--data", "{data}", "--warehouse", "{place}/spend.csv"],
        "is not a DuckDB warehouse",
    ),
    "build-var-not-a-number": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "disclosure_threshold=abc"],
        "--vars disclosure_threshold must be a whole number",
    ),
    "build-var-unknown": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "disclosure_treshold=7"],
        "--vars disclosure_treshold is not a var of this project",
    ),
    "build-var-not-boolean": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "spc_screen_outliers=maybe"],
        "--vars spc_screen_outliers must be true or false",
    ),
    "build-var-out-of-range": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "sii_repetitions=0"],
        "--vars sii_repetitions must be a whole number of at least 1",
    ),
    "build-var-weight-out-of-range": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "funding_need_weight=1.5"],
        "--vars funding_need_weight must be a number from 0 to 1",
    ),
    "build-var-financial-year": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "baseline_financial_year=2024"],
        "--vars baseline_financial_year must be a financial year written like 2024/25",
    ),
    "build-var-matrix-dir-missing": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars",
         "maturity_matrix_dir={place}/no_matrix"],
        "no_matrix",
    ),
    "build-var-without-equals": (
        ["build", "--data", "{data}", "--warehouse", "{place}/w.duckdb", "--vars", "seed"],
        "--vars takes key=value pairs",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_usage_error_is_one_sentence_and_exit_2(
    place: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    arguments, expected = CASES[case]
    filled = [a.format(place=place, data=place / "data") for a in arguments]
    before = sorted(p.name for p in place.iterdir())

    error = one_sentence(capsys, lambda: main(filled))

    assert expected in error
    # nothing was done: no validation report, no build directory, no warehouse
    assert sorted(p.name for p in place.iterdir()) == before


def test_vars_are_checked_before_any_work(
    place: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import metrics_cli.build as build_module

    def must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("validation ran before --vars were checked")

    monkeypatch.setattr(build_module, "validate_directory", must_not_run)
    arguments = ["build", "--data", str(place / "data"), "--warehouse", str(place / "w.duckdb")]
    one_sentence(capsys, lambda: main([*arguments, "--vars", "continuity_min_encounters=-1"]))


def test_good_vars_are_read_as_their_types() -> None:
    from metrics_cli.dbt_vars import checked_vars

    assert checked_vars(
        {
            "disclosure_threshold": "10",
            "spc_screen_outliers": "false",
            "funding_need_weight": "0.75",
            "baseline_financial_year": "2023/24",
        }
    ) == {
        "disclosure_threshold": 10,
        "spc_screen_outliers": False,
        "funding_need_weight": 0.75,
        "baseline_financial_year": "2023/24",
    }


def test_an_output_file_over_an_input_of_submit_is_refused(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = place / "data" / "registered_population.csv"
    before = target.read_bytes()
    arguments = ["submit", "--provider", "P1", "--data", str(place / "data"), "--out", str(target)]
    error = one_sentence(
        capsys, lambda: main([*arguments, "--warehouse", str(place / "empty.duckdb")])
    )
    assert "--out" in error
    assert target.read_bytes() == before


def test_a_pipe_named_as_the_warehouse_is_refused_without_blocking(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    os.mkfifo(place / "pipe.duckdb")
    for arguments in (
        ["publish", "--warehouse", str(place / "pipe.duckdb"), "--out", str(place / "pub")],
        ["build", "--data", str(place / "data"), "--warehouse", str(place / "pipe.duckdb")],
    ):
        error = one_sentence(capsys, lambda arguments=arguments: main(arguments))
        assert "is not a DuckDB warehouse" in error
