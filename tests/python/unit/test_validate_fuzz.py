"""`nbhd validate` fed malformed files (hypothesis): whatever the bytes, the command ends
with exit 0, 1 or 2, at most one sentence on stderr and never a traceback, and every
dataset's rows balance: read = loaded + quarantined, with the loaded Parquet and the
quarantine CSV holding exactly those rows."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics_cli.cli import main

ORGANISATIONS = (
    "practice_code,practice_name,pcn_code,pcn_name,neighbourhood_code,neighbourhood_name,"
    "place_code,place_name,icb_code,icb_name,provider_code,provider_name,valid_from,valid_to\n"
    "A81001,P,U1,PCN,N1,North,16C,Place,QHM,ICB,,,2019-07-01,\n"
)
HEADER = (
    "encounter_id,encounter_date,practice_code,patient_id,clinician_id,clinician_role,appt_mode"
)
GOOD_ROW = "enc-{n},2024-07-03,A81001,pat-{n},gp-1,GP,Telephone"

# pieces a malformed file is made of: good rows, broken quoting, stray separators,
# identifiers, formulas, odd encodings and line ends, binary noise
PIECES = st.one_of(
    st.integers(1, 50).map(lambda n: GOOD_ROW.format(n=n)),
    st.sampled_from([
        '"enc-1,2024-07-03', '""', '"', ",,,,,,", ",,,,,,,,,",
        "enc-9,2024-02-30,A81001,p,g,GP,Telephone",
        "enc-8,2024-07-03,A81001,p 943 476 5919,g,GP,Telephone", "=HYPERLINK(1),,,,,,",
        "\ufeffenc-7,2024-07-03,A81001,p,g,GP,Telephone",
        "enc-6,2024-07-03,A81001,p,g,GP,Telephone\r",
        " enc-1 ,2024-07-03,A81001,p,g,GP,Telephone", HEADER, "\x00\x01", "enc-5\t2024-07-03",
    ]),
    st.text(max_size=30),
)  # fmt: skip


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    header=st.sampled_from([HEADER, HEADER + ",note", "", "encounter_id", "a,a,b", HEADER.upper()]),
    lines=st.lists(PIECES, max_size=8),
    ending=st.sampled_from(["\n", "\r\n", ""]),
    encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]),
)
def test_validate_survives_any_malformed_file(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    header: str,
    lines: list[str],
    ending: str,
    encoding: str,
) -> None:
    place = tmp_path_factory.mktemp("fuzz")
    data = place / "in"
    data.mkdir()
    (data / "organisations.csv").write_text(ORGANISATIONS, encoding="utf-8")
    (data / "registered_population.csv").write_text(
        "extract_date,practice_code,lsoa_code,sex,age_band,patients\n"
        "2024-04-01,A81001,E01012345,F,0-4,10\n",
        encoding="utf-8",
    )
    body = ending.join([header, *lines]) + ending
    (data / "gp_encounters.csv").write_bytes(body.encode(encoding, errors="replace"))
    out = place / "out"

    code = main(["validate", str(data), "--out", str(out)])

    captured = capsys.readouterr()
    assert code in (0, 1, 2), captured
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert captured.err.count("\n") <= 1, captured.err
    if code == 2:
        assert captured.err.startswith("nbhd: ")
        return
    results = pl.read_parquet(out / "validation_results.parquet")
    totals = {
        check: int(rows)
        for check, rows in results.filter(
            (pl.col("dataset") == "gp_encounters") & pl.col("check_name").str.starts_with("rows_")
        )
        .select("check_name", "rows_affected")
        .iter_rows()
    }
    assert totals["rows_read"] == totals["rows_loaded"] + totals["rows_quarantined"]
    loaded = out / "gp_encounters.parquet"
    assert (pl.read_parquet(loaded).height if loaded.exists() else 0) == totals["rows_loaded"]
    held = out / "quarantine" / "gp_encounters.csv"
    if held.exists():
        quarantined = pl.read_csv(held, infer_schema=False)
        assert quarantined.height == totals["rows_quarantined"]
        assert "9434765919" not in held.read_text(encoding="utf-8").replace(" ", "")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["written_by"] == "nbhd validate"
