"""Issue 14, second round, on the output side: `nbhd import` and `nbhd generate` own their
output directories as validate, report and publish do; one command at a time writes an
output; an output is never the root or home directory."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from metrics_cli.build import check_arguments
from metrics_cli.cli import main
from metrics_cli.files import file_lock, output_lock_file

REPO = Path(__file__).resolve().parents[3]
EPCN = REPO / "tests" / "data" / "epcn_core_partner_details.csv"
MAPPING_HEADER = (
    "GP_CODE,GP_NAME,SUPPLIER,PCN_CODE,PCN_NAME,SUB_ICB_LOCATION_CODE,"
    "SUB_ICB_LOCATION_NAME,ICB_CODE,ICB_NAME,REGION_CODE,REGION_NAME\n"
)


def mapping(path: Path, practice_name: str = "The Surgery") -> Path:
    """A one-practice GPAD Mapping.csv."""
    path.write_text(
        MAPPING_HEADER
        + f"A81001,{practice_name},EMIS,U12345,Some PCN,16C,Tees Valley,QHM,North East,Y63,NE\n",
        encoding="utf-8",
    )
    return path


def one_sentence(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_two_importers_share_a_directory_and_the_later_organisations_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    source = mapping(tmp_path / "Mapping.csv")
    assert main(["import", "gpad", str(source), "--out", str(out)]) == 0
    assert main(["import", "epcn", str(EPCN), "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    assert "note: organisations.csv was replaced: it held the gpad import of Mapping.csv\n" in (
        printed
    )
    assert json.loads((out / "manifest.json").read_text()) == {
        "written_by": "nbhd import",
        "files": {"organisations.csv": {"kind": "epcn", "source": EPCN.name}},
    }
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "organisations.csv"]
    assert "A81001,The Surgery" not in (out / "organisations.csv").read_text()


def test_an_import_never_writes_into_a_directory_it_does_not_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "organisations.csv").write_text("hand,made\n")
    source = mapping(tmp_path / "Mapping.csv")

    assert main(["import", "gpad", str(source), "--out", str(data)]) == 2
    assert one_sentence(capsys) == (
        f"nbhd: --out {data} is not empty and was not written by nbhd import; "
        "choose a new or empty directory\n"
    )
    assert (data / "organisations.csv").read_text() == "hand,made\n"
    assert sorted(p.name for p in data.iterdir()) == ["organisations.csv"]


def test_an_import_into_the_directory_holding_its_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = mapping(tmp_path / "Mapping.csv")
    assert main(["import", "gpad", str(source), "--out", str(tmp_path)]) == 2
    assert one_sentence(capsys) == (
        f"nbhd: --out {tmp_path} holds the input {source}; choose a path outside it\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["Mapping.csv"]


def test_imported_csv_cells_cannot_start_a_formula(tmp_path: Path) -> None:
    out = tmp_path / "data"
    source = mapping(tmp_path / "Mapping.csv", practice_name='"=HYPERLINK(""http://x"")"')
    assert main(["import", "gpad", str(source), "--out", str(out)]) == 0
    row = (out / "organisations.csv").read_text().splitlines()[1]
    assert row == (
        'A81001,"\'=HYPERLINK(""http://x"")",U12345,Some PCN,U12345,Some PCN,'
        "16C,Tees Valley,QHM,North East,,,1900-01-01,"
    )


def test_a_second_command_writing_one_out_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "checked"
    with file_lock(output_lock_file(out)):
        assert main(["validate", str(data), "--out", str(out)]) == 2
        assert one_sentence(capsys) == (
            f"nbhd: another nbhd command is writing --out {out}; "
            "wait for it to finish and try again\n"
        )
        assert main(["publish", "--out", str(out), "--warehouse", str(tmp_path / "w")]) == 2
        assert "another nbhd command is writing --out" in one_sentence(capsys)
    assert not out.exists()

    output_lock_file(out).unlink()
    assert main(["validate", str(data), "--out", str(out)]) == 1  # no datasets: problems
    assert out.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checked", "data"]  # no lock left


@pytest.mark.parametrize("where", ["/", "~"])
def test_out_is_never_the_root_or_home_directory(
    where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert main(["validate", str(data), "--out", where]) == 2
    kind = "root" if where == "/" else "home"
    assert one_sentence(capsys) == (
        f"nbhd: --out {where} is the {kind} directory; give a directory of its own, such as out/\n"
    )


@pytest.mark.parametrize("command", ["publish", "report", "docs"])
def test_out_never_holds_the_warehouse_a_command_reads(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    scope = ["--all"] if command == "report" else []
    arguments = [command, "--warehouse", str(warehouse), "--out", str(tmp_path), *scope]

    assert main(arguments) == 2
    assert one_sentence(capsys) == (
        f"nbhd: --out {tmp_path} holds the input {warehouse}; choose a path outside it\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_a_build_never_replaces_another_tools_duckdb_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = tmp_path / "analysis.duckdb"
    with duckdb.connect(str(theirs)) as con:
        con.execute("create table notes as select 42 as answer")
    data = tmp_path / "data"
    data.mkdir()

    assert main(["build", "--data", str(data), "--warehouse", str(theirs)]) == 2
    assert one_sentence(capsys) == (
        f"nbhd: --warehouse {theirs} is a DuckDB database nbhd did not build, and a build "
        "would replace it; choose another path\n"
    )
    with duckdb.connect(str(theirs), read_only=True) as con:
        assert con.execute("select answer from notes").fetchall() == [(42,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis.duckdb", "data"]


def test_a_build_replaces_a_warehouse_nbhd_built(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ours = tmp_path / "wh" / "w.duckdb"
    ours.parent.mkdir()
    with duckdb.connect(str(ours)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.build_info (key varchar, value varchar)")
    assert check_arguments(data, ours) == ours.resolve()


def test_a_failed_first_import_leaves_no_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.touch()
    out = tmp_path / "data"

    assert main(["import", "epcn", str(empty), "--out", str(out)]) == 2
    assert one_sentence(capsys) == "nbhd: empty.csv could not be read as CSV: empty CSV\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv"]
