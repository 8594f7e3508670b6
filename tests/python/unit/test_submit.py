"""Consolidated returns: `submit` checks completeness and writes one bundle; `consolidate`
merges bundles into an input directory without losing or double counting a row.

The fixture ICB (Q99), quarter 2025/26 Q1 (April to June 2025):
  A1, A2 -> PCN U1, neighbourhood N1, provider P1
  B1     -> PCN U2, neighbourhood N2, provider P2; B2 -> U2, N2, no provider (tie: P2 owns N2)
  C1     -> PCN U3, neighbourhood N3, no provider (the ICB returns N3 itself)
The matrix has two self-assessed criteria, c1 and c2 (m1 is a metric criterion).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.errors import DataError, UsageError
from metrics_cli.returns.consolidate import consolidate
from metrics_cli.returns.datasets import read_organisations
from metrics_cli.returns.membership import neighbourhood_owners, parse_quarter
from metrics_cli.returns.submit import submit

PERIOD = "2025/26 Q1"
MONTHS = ("01MAR2025", "01APR2025", "01MAY2025", "01JUN2025", "01JUL2025")
ORGANISATIONS = [
    # practice, pcn, neighbourhood, provider, valid_from, valid_to
    ("A1", "U1", "N1", "P1", "2020-04-01", None),
    ("A2", "U1", "N1", "P1", "2020-04-01", None),
    ("B1", "U2", "N2", "P2", "2020-04-01", None),
    ("B2", "U2", "N2", None, "2020-04-01", None),
    ("C1", "U3", "N3", None, "2020-04-01", None),
]


def organisations_frame(
    rows: list[tuple[str, str, str, str | None, str, str | None]],
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "practice_code": [r[0] for r in rows],
            "practice_name": [f"Practice {r[0]}" for r in rows],
            "pcn_code": [r[1] for r in rows],
            "pcn_name": [f"PCN {r[1]}" for r in rows],
            "neighbourhood_code": [r[2] for r in rows],
            "neighbourhood_name": [f"Neighbourhood {r[2]}" for r in rows],
            "place_code": ["PL1"] * len(rows),
            "place_name": ["Place"] * len(rows),
            "icb_code": ["Q99"] * len(rows),
            "icb_name": ["Test ICB"] * len(rows),
            "provider_code": [r[3] for r in rows],
            "provider_name": [None if r[3] is None else f"Provider {r[3]}" for r in rows],
            "valid_from": [r[4] for r in rows],
            "valid_to": [r[5] for r in rows],
        },
        schema_overrides={"provider_code": pl.Utf8, "provider_name": pl.Utf8, "valid_to": pl.Utf8},
    )


def make_warehouse(
    path: Path, rows: list[tuple[str, str, str, str | None, str, str | None]]
) -> Path:
    """The two warehouse relations submit reads: practice_memberships and maturity_matrix."""
    organisations = organisations_frame(rows).with_columns(
        pl.col("valid_from", "valid_to").str.to_date("%Y-%m-%d")
    )
    criteria = pl.DataFrame(
        {"criterion_id": ["c1", "c2", "m1"], "criterion_kind": ["self_assessed"] * 2 + ["metric"]}
    )
    with duckdb.connect(str(path)) as connection:
        connection.register("organisations_view", organisations)
        connection.register("criteria_view", criteria)
        connection.execute("create table practice_memberships as select * from organisations_view")
        connection.execute("create table maturity_matrix as select * from criteria_view")
    return path


def appointment_rows(practices: list[str], months: tuple[str, ...] = MONTHS) -> pl.DataFrame:
    """Two GPAD rows per practice and month, in the published layout."""
    rows = []
    for practice in practices:
        for month in months:
            for status, count in (("Attended", 100), ("DNA", 5)):
                rows.append(
                    {
                        "APPOINTMENT_MONTH_START_DATE": month,
                        "GP_CODE": practice,
                        "GP_NAME": f"Practice {practice} & Partners",
                        "PCN_CODE": "U1",
                        "HCP_TYPE": "GP",
                        "APPT_MODE": "Face-to-Face",
                        "NATIONAL_CATEGORY": "General Consultation Acute",
                        "TIME_BETWEEN_BOOK_AND_APPT": "8  to 14 Days",
                        "APPT_STATUS": status,
                        "COUNT_OF_APPOINTMENTS": str(count),
                    }
                )
    return pl.DataFrame(rows)


def assessment_rows(
    neighbourhoods: list[str], period: str = PERIOD, note: str = ""
) -> pl.DataFrame:
    rows = [
        {
            "assessment_period": period,
            "neighbourhood_code": code,
            "submitted_by": "P1",
            "criterion_id": criterion,
            "status": "met",
            "evidence": f'Minutes, "board" <b>{code}</b> & partners{note}',
            "evidence_url": None,
            "assessed_on": "2025-07-10",
        }
        for code in neighbourhoods
        for criterion in ("c1", "c2")
    ]
    return pl.DataFrame(rows, schema_overrides={"evidence_url": pl.Utf8})


def write_provider_data(directory: Path) -> Path:
    """A full input directory: every practice, every month from March to July 2025."""
    directory.mkdir(parents=True, exist_ok=True)
    organisations_frame(ORGANISATIONS).write_csv(directory / "organisations.csv")
    appointment_rows(["A1", "A2", "B1", "B2", "C1"]).write_csv(directory / "gp_appointments.csv")
    pl.concat(
        [assessment_rows(["N1", "N2", "N3"]), assessment_rows(["N1"], period="2024/25 Q4")]
    ).write_csv(directory / "maturity_assessments.csv")
    pl.DataFrame(
        {
            "patient_id": ["P001", "P002", "P003", "P004", "P005"],
            "practice_code": ["A1", "A1", "A2", "B1", "C1"],
            "lsoa_code": ["E01000001"] * 5,
            "sex": ["F", "M", "F", "M", "F"],
            "age_band": ["40-44"] * 5,
            "usual_gp_id": ["C000001", None, "C000002", "C000003", None],
            "ltc_count": ["0", "2", "1", "3", "0"],
            "frailty": ["fit"] * 5,
            "registered_from": ["2020-01-01"] * 5,
            "registered_to": [None] * 5,
        },
        schema_overrides={"registered_to": pl.Utf8},
    ).write_csv(directory / "patients.csv")
    pl.DataFrame(
        {
            "census_date": ["2025-06-30", "2025-06-30", "2025-03-31", "2025-06-30"],
            "practice_code": ["A1", None, "A1", "C1"],
            "pcn_code": ["U1", "U1", "U1", "U3"],
            "staff_group": ["gp_partner", "direct_patient_care", "gp_partner", "nurse"],
            "role": ["GP Partner", "Clinical Pharmacist", "GP Partner", "Practice Nurse"],
            "is_arrs_funded": ["false", "true", "false", "false"],
            "fte": ["0.8", "1.0", "0.8", "0.6"],
            "headcount": ["1", "1", "1", "1"],
        },
        schema_overrides={"practice_code": pl.Utf8},
    ).write_csv(directory / "workforce.csv")
    pl.DataFrame(
        {
            "financial_year": ["2024/25", "2024/25", "2025/26"],
            "practice_code": ["A1", "A2", "A1"],
            "payment_category": ["global_sum"] * 3,
            "amount_gbp": ["1000.5", "2000.25", "1100.0"],
        }
    ).write_csv(directory / "practice_payments.csv")
    return directory


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return make_warehouse(tmp_path / "warehouse.duckdb", ORGANISATIONS)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_provider_data(tmp_path / "provider")


@pytest.fixture
def icb_dir(tmp_path: Path) -> Path:
    """The ICB's input directory before any return: its reference data and its own
    practice C1's appointments (C1 reports through no provider)."""
    directory = tmp_path / "icb"
    directory.mkdir()
    organisations_frame(ORGANISATIONS).write_csv(directory / "organisations.csv")
    appointment_rows(["C1"]).write_csv(directory / "gp_appointments.csv")
    return directory


def rows_of(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def tree_digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def manifest_of(bundle: Path) -> dict[str, object]:
    with zipfile.ZipFile(bundle) as archive:
        loaded: dict[str, object] = json.loads(archive.read("manifest.json"))
    return loaded


def bundle_frame(bundle: Path, dataset: str) -> pl.DataFrame:
    with zipfile.ZipFile(bundle) as archive:
        return pl.read_csv(archive.read(f"{dataset}.csv"), infer_schema=False)


# ---------------------------------------------------------------- membership and periods


def test_quarters_parse_and_bad_labels_are_usage_errors() -> None:
    quarter = parse_quarter("2025/26 Q2")
    assert (quarter.start, quarter.end) == (dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert parse_quarter("2024/25 Q4").end == dt.date(2025, 3, 31)
    for bad in ("2025/27 Q1", "2025-26 Q1", "2025/26 Q5", "Q1"):
        with pytest.raises(UsageError, match="financial-year quarter"):
            parse_quarter(bad)


def test_neighbourhood_owners_follow_most_practices(tmp_path: Path) -> None:
    write_provider_data(tmp_path / "d")
    organisations = read_organisations(tmp_path / "d" / "organisations.csv")
    assert neighbourhood_owners(organisations, dt.date(2025, 6, 30)) == {
        "N1": "P1",
        "N2": "P2",
        "N3": None,
    }


# ---------------------------------------------------------------- submit


def test_a_complete_return_is_written_with_its_checksums(
    warehouse: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "returns" / "p1.zip"
    outcome = submit(warehouse, "P1", PERIOD, data_dir, out)
    assert outcome.ok
    assert outcome.neighbourhoods == ("N1",)
    assert outcome.practices == ("A1", "A2")
    # 2 practices x 3 months x 2 rows; March and July are other quarters' returns.
    assert dict(outcome.rows) == {
        "gp_appointments": 12,
        "maturity_assessments": 2,
        "patients": 3,
        "practice_payments": 0,
        "workforce": 2,
    }
    manifest = manifest_of(out)
    assert manifest["provider"] == "P1"
    assert manifest["period"] == PERIOD
    assert manifest["period_start"] == "2025-04-01"
    assert manifest["neighbourhoods"] == ["N1"]
    datasets = manifest["datasets"]
    assert isinstance(datasets, dict)
    with zipfile.ZipFile(out) as archive:
        for name, entry in datasets.items():
            content = archive.read(entry["file"])
            assert hashlib.sha256(content).hexdigest() == entry["sha256"], name
    workforce = bundle_frame(out, "workforce")
    assert sorted(workforce["pcn_code"].to_list()) == ["U1", "U1"]
    assert workforce["practice_code"].null_count() == 1
    evidence = bundle_frame(out, "maturity_assessments")["evidence"].to_list()
    assert evidence == ['Minutes, "board" <b>N1</b> & partners'] * 2
    assert "written to" in outcome.summary()


def test_the_same_data_gives_the_same_bytes(
    warehouse: Path, data_dir: Path, tmp_path: Path
) -> None:
    first = submit(warehouse, "P1", PERIOD, data_dir, tmp_path / "a.zip")
    second = submit(warehouse, "P1", PERIOD, data_dir, tmp_path / "b.zip")
    assert first.ok and second.ok
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_the_default_period_is_the_latest_assessed(
    warehouse: Path, data_dir: Path, tmp_path: Path
) -> None:
    outcome = submit(warehouse, "P1", None, data_dir, tmp_path / "p1.zip")
    assert outcome.period == PERIOD


def test_a_missing_practice_month_stops_the_return(
    warehouse: Path, data_dir: Path, tmp_path: Path
) -> None:
    appointments = rows_of(data_dir / "gp_appointments.csv")
    appointments.filter(
        ~((pl.col("GP_CODE") == "A2") & (pl.col("APPOINTMENT_MONTH_START_DATE") == "01MAY2025"))
    ).write_csv(data_dir / "gp_appointments.csv")
    out = tmp_path / "p1.zip"
    outcome = submit(warehouse, "P1", PERIOD, data_dir, out)
    assert not outcome.ok
    assert outcome.problems == ("practice A2 has no gp_appointments rows for 2025-05",)
    assert not out.exists()
    assert "nothing was written" in outcome.summary()


def test_missing_and_duplicate_criteria_stop_the_return(
    warehouse: Path, data_dir: Path, tmp_path: Path
) -> None:
    assessments = rows_of(data_dir / "maturity_assessments.csv")
    n1 = (pl.col("neighbourhood_code") == "N1") & (pl.col("assessment_period") == PERIOD)
    c1 = assessments.filter(n1 & (pl.col("criterion_id") == "c1"))
    pl.concat([assessments.filter(~n1), c1, c1]).write_csv(data_dir / "maturity_assessments.csv")
    outcome = submit(warehouse, "P1", PERIOD, data_dir, tmp_path / "p1.zip")
    assert outcome.problems == (
        "neighbourhood N1 has not assessed 1 criterion(s) for 2025/26 Q1: c2",
        "neighbourhood N1 assessed c1 more than once for 2025/26 Q1",
    )


def test_a_practice_joining_mid_quarter_owes_only_its_months(
    tmp_path: Path, data_dir: Path
) -> None:
    joined = [*ORGANISATIONS, ("A3", "U1", "N1", "P1", "2025-05-15", None)]
    warehouse = make_warehouse(tmp_path / "w.duckdb", joined)
    appointments = rows_of(data_dir / "gp_appointments.csv")
    pl.concat([appointments, appointment_rows(["A3"], ("01JUN2025",))]).write_csv(
        data_dir / "gp_appointments.csv"
    )
    outcome = submit(warehouse, "P1", PERIOD, data_dir, tmp_path / "p1.zip")
    assert outcome.problems == ("practice A3 has no gp_appointments rows for 2025-05",)


def test_user_errors_are_one_sentence(warehouse: Path, data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="provider 'P9' is not in the organisations"):
        submit(warehouse, "P9", PERIOD, data_dir, tmp_path / "x.zip")
    with pytest.raises(UsageError, match="no warehouse at"):
        submit(tmp_path / "none.duckdb", "P1", PERIOD, data_dir, tmp_path / "x.zip")
    with pytest.raises(UsageError, match="input directory"):
        submit(warehouse, "P1", PERIOD, tmp_path / "none", tmp_path / "x.zip")
    with pytest.raises(UsageError, match="is a directory"):
        submit(warehouse, "P1", PERIOD, data_dir, tmp_path)
    with pytest.raises(UsageError, match="give --period"):
        submit(warehouse, "P2", None, _without_assessments(data_dir), tmp_path / "x.zip")
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(DataError, match="rebuild it"):
        submit(empty, "P1", PERIOD, data_dir, tmp_path / "x.zip")


def _without_assessments(data_dir: Path) -> Path:
    (data_dir / "maturity_assessments.csv").unlink()
    return data_dir


# ---------------------------------------------------------------- consolidate


@pytest.fixture
def returns(warehouse: Path, data_dir: Path, tmp_path: Path) -> dict[str, Path]:
    """P1's and P2's returns for the quarter."""
    paths = {}
    for provider in ("P1", "P2"):
        paths[provider] = tmp_path / "returns" / f"{provider}.zip"
        assert submit(warehouse, provider, PERIOD, data_dir, paths[provider]).ok
    return paths


def test_returns_merge_without_loss_or_double_counting(
    returns: dict[str, Path], icb_dir: Path
) -> None:
    before = rows_of(icb_dir / "gp_appointments.csv")
    outcome = consolidate([returns["P1"], returns["P2"]], icb_dir, replace=False)
    assert outcome.ok
    assert [(r.provider, r.action, r.rows_added) for r in outcome.results] == [
        ("P1", "accepted", 12 + 2 + 3 + 2),
        ("P2", "accepted", 6 + 2 + 1),
    ]
    after = rows_of(icb_dir / "gp_appointments.csv")
    # B2 reports through no provider: the ICB supplies its data itself.
    assert after.height == before.height + 12 + 6 == 10 + 18
    expected = pl.concat(
        [
            before,
            bundle_frame(returns["P1"], "gp_appointments"),
            bundle_frame(returns["P2"], "gp_appointments"),
        ]
    )
    assert sorted(after.rows()) == sorted(expected.rows())
    assert rows_of(icb_dir / "maturity_assessments.csv").height == 4
    assert rows_of(icb_dir / "workforce.csv").height == 2
    log = rows_of(icb_dir / "_returns" / "log.csv")
    assert log.select("action", "provider", "period").rows() == [
        ("accepted", "P1", PERIOD),
        ("accepted", "P2", PERIOD),
    ]
    assert (icb_dir / "_returns" / "P1" / "2025-26-Q1.zip").read_bytes() == returns[
        "P1"
    ].read_bytes()


def test_an_identical_resubmission_is_a_no_op(returns: dict[str, Path], icb_dir: Path) -> None:
    assert consolidate([returns["P1"]], icb_dir, replace=False).ok
    digest = tree_digest(icb_dir)
    outcome = consolidate([returns["P1"]], icb_dir, replace=False)
    assert outcome.ok
    assert outcome.results[0].action == "unchanged"
    assert tree_digest(icb_dir) == digest


def test_the_same_return_twice_in_one_run_counts_once(
    returns: dict[str, Path], icb_dir: Path
) -> None:
    outcome = consolidate([returns["P1"], returns["P1"]], icb_dir, replace=False)
    assert [r.action for r in outcome.results] == ["accepted", "unchanged"]
    assert rows_of(icb_dir / "gp_appointments.csv").height == 10 + 12


def test_a_changed_resubmission_needs_replace_and_removes_the_old_rows_exactly(
    warehouse: Path, data_dir: Path, returns: dict[str, Path], icb_dir: Path, tmp_path: Path
) -> None:
    assert consolidate([returns["P1"]], icb_dir, replace=False).ok
    # The corrected return: A2's May counts change and N1's evidence is reworded.
    appointments = rows_of(data_dir / "gp_appointments.csv").with_columns(
        pl.when(
            (pl.col("GP_CODE") == "A2") & (pl.col("APPOINTMENT_MONTH_START_DATE") == "01MAY2025")
        )
        .then(pl.lit("999"))
        .otherwise(pl.col("COUNT_OF_APPOINTMENTS"))
        .alias("COUNT_OF_APPOINTMENTS")
    )
    appointments.write_csv(data_dir / "gp_appointments.csv")
    corrected = tmp_path / "returns" / "P1-v2.zip"
    assert submit(warehouse, "P1", PERIOD, data_dir, corrected).ok

    digest = tree_digest(icb_dir)
    refused = consolidate([corrected], icb_dir, replace=False)
    assert not refused.ok
    assert refused.results[0].action == "refused"
    assert "--replace" in refused.results[0].detail
    assert tree_digest(icb_dir) == digest

    replaced = consolidate([corrected], icb_dir, replace=True)
    assert replaced.ok
    result = replaced.results[0]
    assert (result.action, result.rows_added, result.rows_removed) == ("replaced", 19, 19)
    after = rows_of(icb_dir / "gp_appointments.csv")
    assert after.height == 10 + 12
    counts = after.filter(pl.col("GP_CODE") == "A2")["COUNT_OF_APPOINTMENTS"].to_list()
    assert sorted(counts) == ["100", "100", "5", "5", "999", "999"]
    assert after.filter(pl.col("GP_CODE") == "C1").height == 10
    log = rows_of(icb_dir / "_returns" / "log.csv")
    assert log["action"].to_list() == ["accepted", "replaced"]
    assert log["rows_removed"].to_list() == ["0", "19"]


def test_rows_of_another_provider_s_practice_are_refused(
    data_dir: Path, icb_dir: Path, tmp_path: Path
) -> None:
    # P2's warehouse wrongly believes A1 reports through P2.
    claimed = [("A1", "U1", "N1", "P2", "2020-04-01", None), *ORGANISATIONS[1:]]
    wrong = make_warehouse(tmp_path / "wrong.duckdb", claimed)
    bundle = tmp_path / "p2.zip"
    assert submit(wrong, "P2", PERIOD, data_dir, bundle).ok
    digest = tree_digest(icb_dir)
    outcome = consolidate([bundle], icb_dir, replace=False)
    assert not outcome.ok
    detail = outcome.results[0].detail
    assert "gp_appointments rows for practice A1, which does not report through P2" in detail
    assert "patients rows for practice A1" in detail
    assert tree_digest(icb_dir) == digest


def test_overlapping_returns_are_refused(warehouse: Path, data_dir: Path, tmp_path: Path) -> None:
    # A2 moves from P1 to P2 on 16 May: both providers return its May appointments.
    moved = [
        *ORGANISATIONS[:1],
        ("A2", "U1", "N1", "P1", "2020-04-01", "2025-05-15"),
        ("A2", "U2", "N2", "P2", "2025-05-16", None),
        *ORGANISATIONS[2:],
    ]
    moved_warehouse = make_warehouse(tmp_path / "moved.duckdb", moved)
    icb = tmp_path / "icb-moved"
    icb.mkdir()
    organisations_frame(moved).write_csv(icb / "organisations.csv")
    p1, p2 = tmp_path / "p1.zip", tmp_path / "p2.zip"
    assert submit(moved_warehouse, "P1", PERIOD, data_dir, p1).ok
    assert submit(moved_warehouse, "P2", PERIOD, data_dir, p2).ok
    outcome = consolidate([p1, p2], icb, replace=False)
    assert [r.action for r in outcome.results] == ["accepted", "refused"]
    assert "gp_appointments for A2 2025-05 is already supplied by the return P1|2025/26 Q1" in (
        outcome.results[1].detail
    )
    assert not (icb / "gp_appointments.csv").exists()
    assert not (icb / "_returns" / "log.csv").exists()


def test_rows_already_in_the_directory_are_never_doubled(
    returns: dict[str, Path], icb_dir: Path
) -> None:
    existing = rows_of(icb_dir / "gp_appointments.csv")
    pl.concat([existing, appointment_rows(["A1"], ("01APR2025",))]).write_csv(
        icb_dir / "gp_appointments.csv"
    )
    outcome = consolidate([returns["P1"]], icb_dir, replace=False)
    assert not outcome.ok
    assert "gp_appointments for A1 2025-04 is already in icb from outside any return" in (
        outcome.results[0].detail
    )


def test_a_tampered_return_is_refused(
    returns: dict[str, Path], icb_dir: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(returns["P1"]) as source, zipfile.ZipFile(tampered, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name == "gp_appointments.csv":
                content = content.replace(b",100\n", b",1000\n", 1)
            target.writestr(name, content)
    not_a_zip = tmp_path / "notes.zip"
    not_a_zip.write_text("hello", encoding="utf-8")
    outcome = consolidate([tampered, not_a_zip], icb_dir, replace=False)
    assert [r.detail for r in outcome.results] == [
        "gp_appointments.csv does not match its checksum: the file was changed",
        "not a return file (it is not a zip written by `nbhd submit`)",
    ]
    assert "refused   (unreadable) (notes.zip): not a return file" in outcome.summary()


def test_nothing_is_written_when_any_return_is_refused(
    returns: dict[str, Path], icb_dir: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK")
    digest = tree_digest(icb_dir)
    outcome = consolidate([returns["P1"], broken], icb_dir, replace=False)
    assert [r.action for r in outcome.results] == ["accepted", "refused"]
    assert not outcome.ok
    assert tree_digest(icb_dir) == digest
    assert "Nothing was written" in outcome.summary()


def test_a_later_patients_snapshot_replaces_the_earlier_one(
    warehouse: Path, data_dir: Path, icb_dir: Path, tmp_path: Path
) -> None:
    q1 = tmp_path / "q1.zip"
    assert submit(warehouse, "P1", PERIOD, data_dir, q1).ok
    # In Q2, P001 has left A1 and P006 joined; July's data and Q2 assessments are added.
    patients = rows_of(data_dir / "patients.csv")
    later = pl.concat(
        [
            patients.filter(pl.col("patient_id") != "P001"),
            patients.filter(pl.col("patient_id") == "P002").with_columns(
                pl.lit("P006").alias("patient_id")
            ),
        ]
    )
    later.write_csv(data_dir / "patients.csv")
    pl.concat(
        [
            rows_of(data_dir / "gp_appointments.csv"),
            appointment_rows(["A1", "A2"], ("01AUG2025", "01SEP2025")),
        ]
    ).write_csv(data_dir / "gp_appointments.csv")
    pl.concat(
        [
            rows_of(data_dir / "maturity_assessments.csv"),
            assessment_rows(["N1"], period="2025/26 Q2"),
        ]
    ).write_csv(data_dir / "maturity_assessments.csv")
    q2 = tmp_path / "q2.zip"
    assert submit(warehouse, "P1", "2025/26 Q2", data_dir, q2).ok

    outcome = consolidate([q2, q1], icb_dir, replace=False)
    assert outcome.ok
    assert outcome.results[1].detail == (
        "2 patients snapshot(s) older than those already merged were not used"
    )
    merged = rows_of(icb_dir / "patients.csv")
    assert sorted(merged["patient_id"].to_list()) == ["P002", "P003", "P006"]
    assert rows_of(icb_dir / "gp_appointments.csv").height == 10 + 12 + 12


def test_parquet_files_keep_their_types(returns: dict[str, Path], icb_dir: Path) -> None:
    existing = pl.DataFrame(
        {
            "patient_id": ["P900"],
            "practice_code": ["C1"],
            "lsoa_code": ["E01000002"],
            "sex": ["M"],
            "age_band": ["90+"],
            "usual_gp_id": [None],
            "ltc_count": [4],
            "frailty": ["severe"],
            "registered_from": [dt.date(2001, 1, 1)],
            "registered_to": [None],
        },
        schema_overrides={"usual_gp_id": pl.Utf8, "registered_to": pl.Date},
    )
    existing.write_parquet(icb_dir / "patients.parquet")
    assert consolidate([returns["P1"]], icb_dir, replace=False).ok
    merged = pl.read_parquet(icb_dir / "patients.parquet")
    assert merged.schema == existing.schema
    assert sorted(merged["patient_id"].to_list()) == ["P001", "P002", "P003", "P900"]
    assert merged.filter(pl.col("patient_id") == "P002")["ltc_count"].to_list() == [2]
    assert not (icb_dir / "patients.csv").exists()


def test_consolidate_needs_an_input_directory_with_organisations(
    returns: dict[str, Path], icb_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        consolidate([returns["P1"]], tmp_path / "none", replace=False)
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(UsageError, match="no organisations file"):
        consolidate([returns["P1"]], bare, replace=False)
    with pytest.raises(UsageError, match="not found"):
        consolidate([tmp_path / "missing.zip"], icb_dir, replace=False)
