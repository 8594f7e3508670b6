"""`nbhd import population` and `nbhd import imd`: NHS Digital's list-size files and the
English Indices of Deprivation, on the real files in ../shared/reference/nhs and on small
files in the published layouts (the five-year age and LSOA files are not in ../shared: their
layouts are NHS Digital's, as documented in docs/validation.md).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from metrics_cli.cli import main
from metrics_cli.errors import UsageError
from metrics_cli.importers import import_published
from metrics_cli.population_import import ESP2013
from metrics_cli.schemas import AGE_BANDS
from metrics_cli.validate import validate_directory

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO.parent / "shared" / "reference" / "nhs"
LIST_SIZES = REFERENCE / "gp-reg-pat-prac-all_Jan2021.csv"
IMD = REFERENCE / "imd2019_england_lsoa11_decile_rank.csv"
MAPPING = REFERENCE / "gpad_Mapping_Aug25.csv"

needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"the published NHS reference files are not at {REFERENCE}"
)

ALL_AGES_HEADER = (
    "PUBLICATION,EXTRACT_DATE,TYPE,SUB_ICB_LOCATION_CODE,ONS_SUB_ICB_LOCATION_CODE,CODE,"
    "POSTCODE,SEX,AGE,NUMBER_OF_PATIENTS\n"
)
QUIN_AGE = (
    "PUBLICATION,EXTRACT_DATE,ORG_TYPE,ORG_CODE,ONS_CODE,POSTCODE,SEX,AGE_GROUP_5,"
    "NUMBER_OF_PATIENTS\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,ALL,ALL,8\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,FEMALE,ALL,4\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,FEMALE,0_4,3\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,FEMALE,5_9,1\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,MALE,ALL,4\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,MALE,0_4,2\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,MALE,90_94,1\n"
    "GP_PRAC_PAT_LIST,01JAN2021,GP,A81001,E38000001,TS18 1HU,MALE,95+,1\n"
    "GP_PRAC_PAT_LIST,01JAN2021,ICB,QHM,E54000050,,MALE,0_4,900\n"
)
LSOA = (
    "PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,LSOA_CODE,SEX,NUMBER_OF_PATIENTS\n"
    "GP_PRAC_PAT_LIST,01JAN2021,A81001,THE DENSHAM SURGERY,E01000001,ALL,6\n"
    "GP_PRAC_PAT_LIST,01JAN2021,A81001,THE DENSHAM SURGERY,E01000002,ALL,2\n"
)
# A81001 of QUIN_AGE over the LSOAs of LSOA. The first LSOA (6 of 8) takes its share of
# F 0-4 3, F 5-9 1, M 0-4 2, M 90+ 2: quotas 2.25, 0.75, 1.5, 1.5; floors 2, 0, 1, 1 leave 2,
# given to the largest remainders (0.75, then 0.5 and 0.5 tied: the earlier, M 0-4).
# The second LSOA takes what is left, so both the LSOA and the age-sex totals are kept.
COMBINED = [
    ("2021-01-01", "A81001", "E01000001", "F", "0-4", 2),
    ("2021-01-01", "A81001", "E01000001", "F", "5-9", 1),
    ("2021-01-01", "A81001", "E01000001", "M", "0-4", 2),
    ("2021-01-01", "A81001", "E01000001", "M", "90+", 1),
    ("2021-01-01", "A81001", "E01000002", "F", "0-4", 1),
    ("2021-01-01", "A81001", "E01000002", "M", "90+", 1),
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def population_rows(directory: Path) -> list[tuple[object, ...]]:
    frame = pl.read_csv(directory / "registered_population.csv", infer_schema=False)
    return (
        frame.with_columns(pl.col("patients").cast(pl.Int64, strict=False))
        .sort(
            "practice_code",
            "lsoa_code",
            "sex",
            pl.col("age_band").cast(pl.Enum(AGE_BANDS), strict=False),
            nulls_last=True,
        )
        .rows()
    )


def organisations(directory: Path, practices: list[str]) -> None:
    rows = "".join(f"{p},P,U1,PCN,U1,PCN,16C,Place,QHM,ICB,,,2019-01-01,\n" for p in practices)
    write(
        directory / "organisations.csv",
        "practice_code,practice_name,pcn_code,pcn_name,neighbourhood_code,neighbourhood_name,"
        "place_code,place_name,icb_code,icb_name,provider_code,provider_name,valid_from,"
        "valid_to\n" + rows,
    )


# ---------------------------------------------------------------- the all-ages file
def test_the_fallback_age_profile_is_the_shipped_esp2013() -> None:
    seed = pl.read_csv(REPO / "seeds" / "esp2013.csv")
    assert tuple(seed["age_band"]) == AGE_BANDS
    assert tuple(seed["standard_population"]) == ESP2013


def test_a_list_size_without_age_or_sex_is_spread_over_esp2013_half_and_half(
    tmp_path: Path,
) -> None:
    published = write(
        tmp_path / "gp-reg-pat-prac-all.csv",
        ALL_AGES_HEADER + "GP_PRAC_PAT_LIST,01JAN2021,GP,16C,E38000247,A81001,TS18 1HU,"
        "ALL,ALL,1000\n",
    )
    notes: list[str] = []

    written = import_published("population", published, tmp_path / "in", notes=notes)

    assert written == [tmp_path / "in" / "registered_population.csv"]
    rows = population_rows(tmp_path / "in")
    # 500 a sex; band = 500 x ESP2013 / 100,000: quotas of 27.5 and 32.5 round down, and the
    # 4 patients left go to the earliest half remainders (5-9, 10-14, 15-19, 30-34).
    female = [25, 28, 28, 28, 30, 30, 33, 35, 35, 35, 35, 32, 30, 27, 25, 20, 12, 7, 5]
    assert [r[5] for r in rows if r[3] == "F"] == female
    assert [r[5] for r in rows if r[3] == "M"] == female
    assert {r[0] for r in rows} == {"2021-01-01"} and {r[2] for r in rows} == {"UNKNOWN"}
    assert notes == [
        "1 of 1 practices of 2021-01 have no age or sex breakdown: their list sizes were "
        "spread over the ESP2013 age profile, half female and half male (import the "
        "five-year age file of the same month for their own)",
        "1 of 1 practices of 2021-01 have no LSOA breakdown: their patients are in LSOA "
        "UNKNOWN (import the LSOA file of the same month to split them)",
    ]


@needs_reference
def test_the_real_all_ages_file_keeps_every_list_size(tmp_path: Path) -> None:
    import_published("population", LIST_SIZES, tmp_path)

    ours = (
        pl.read_csv(tmp_path / "registered_population.csv")
        .group_by("practice_code")
        .agg(pl.col("patients").sum())
    )
    published = pl.read_csv(LIST_SIZES).select(
        pl.col("CODE").alias("practice_code"), pl.col("NUMBER_OF_PATIENTS").alias("published")
    )
    compared = ours.join(published, on="practice_code", how="full", coalesce=True)
    assert compared.height == 6658
    assert (compared["patients"] == compared["published"]).all()
    assert compared["patients"].sum() == 60_606_345
    assert compared.filter(pl.col("practice_code") == "A84002")["patients"].item() == 5903


@needs_reference
def test_the_real_list_sizes_pass_validation_but_practices_closed_by_2025(tmp_path: Path) -> None:
    data = tmp_path / "in"
    import_published("gpad", MAPPING, data)
    import_published("population", LIST_SIZES, data)

    report = validate_directory(
        data, tmp_path / "out", catalogue=REPO / "seeds" / "metric_catalogue.csv"
    )

    assert report.file_errors == []
    assert {p.rule for p in report.problems} == {"practice_code is not a practice in organisations"}
    counts = report.datasets["registered_population"]
    # 6,658 practices' non-empty age-sex cells (26 practices have fewer than 38 patients);
    # the 501 practices of January 2021 not in the August 2025 mapping (closed or merged
    # since), with 2,728,044 patients, are quarantined.
    assert (counts.rows_read, counts.rows_quarantined) == (252_306, 18_379)
    loaded = pl.read_parquet(tmp_path / "out" / "registered_population.parquet")
    assert loaded["practice_code"].n_unique() == 6658 - 501
    assert loaded["patients"].sum() == 60_606_345 - 2_728_044


# ---------------------------------------------------------------- five-year age and LSOA
def test_the_five_year_file_keeps_practices_at_their_finest_breakdown(tmp_path: Path) -> None:
    import_published("population", write(tmp_path / "quin.csv", QUIN_AGE), tmp_path / "in")

    assert population_rows(tmp_path / "in") == [
        ("2021-01-01", "A81001", "UNKNOWN", "F", "0-4", 3),
        ("2021-01-01", "A81001", "UNKNOWN", "F", "5-9", 1),
        ("2021-01-01", "A81001", "UNKNOWN", "M", "0-4", 2),
        ("2021-01-01", "A81001", "UNKNOWN", "M", "90+", 2),
    ]


@pytest.mark.parametrize("order", [("quin", "lsoa"), ("lsoa", "quin")])
def test_age_sex_is_spread_over_lsoas_keeping_both_totals(
    tmp_path: Path, order: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "quin": write(tmp_path / "gp-reg-pat-prac-quin-age.csv", QUIN_AGE),
        "lsoa": write(tmp_path / "gp-reg-pat-prac-lsoa-all.csv", LSOA),
    }
    # the README's commands
    for name in order:
        assert main(["import", "population", str(files[name]), "--out", str(tmp_path / "in")]) == 0

    assert population_rows(tmp_path / "in") == COMBINED
    printed = capsys.readouterr().out.splitlines()
    # the LSOA file alone has no age or sex; with the five-year file there is nothing to say
    assert printed[-1] == f"wrote {tmp_path / 'in' / 'registered_population.csv'}"
    assert any("no age or sex breakdown" in line for line in printed) == (order[0] == "lsoa")
    stored = sorted(p.name for p in (tmp_path / "in" / "registered_population_published").iterdir())
    assert stored == ["2021-01_age_sex_F-M.csv", "2021-01_lsoa_ALL.csv"]


def test_an_lsoa_file_without_age_sex_uses_esp2013_and_the_lsoa_counts(tmp_path: Path) -> None:
    lsoa = write(tmp_path / "lsoa.csv", LSOA.replace(",6\n", ",994\n").replace(",2\n", ",6\n"))

    import_published("population", lsoa, tmp_path / "in")

    rows = pl.read_csv(tmp_path / "in" / "registered_population.csv")
    by_lsoa = dict(rows.group_by("lsoa_code").agg(pl.col("patients").sum()).iter_rows())
    assert by_lsoa == {"E01000001": 994, "E01000002": 6}
    by_cell = rows.group_by("sex", "age_band").agg(pl.col("patients").sum())
    assert by_cell.filter(sex="F", age_band="5-9")["patients"].item() == 28
    assert rows["patients"].sum() == 1000


def test_a_repeated_breakdown_is_refused_and_a_new_month_is_added(tmp_path: Path) -> None:
    quin = write(tmp_path / "quin.csv", QUIN_AGE)
    import_published("population", quin, tmp_path / "in")

    with pytest.raises(UsageError, match="already holds the 2021-01 age and sex breakdown"):
        import_published("population", quin, tmp_path / "in")
    february = write(tmp_path / "quin_feb.csv", QUIN_AGE.replace("01JAN2021", "01FEB2021"))
    import_published("population", february, tmp_path / "in")

    rows = pl.read_csv(tmp_path / "in" / "registered_population.csv")
    assert rows.group_by("extract_date").agg(pl.col("patients").sum()).sort(
        "extract_date"
    ).rows() == [("2021-01-01", 8), ("2021-02-01", 8)]


def test_single_year_files_are_banded_and_unreadable_rows_left_for_validation(
    tmp_path: Path,
) -> None:
    female = write(
        tmp_path / "gp-reg-pat-prac-sing-age-female.csv",
        ALL_AGES_HEADER
        + "".join(
            f"GP_PRAC_PAT_LIST,01JAN2021,GP,16C,E38000247,A81001,TS18 1HU,FEMALE,{age},{n}\n"
            for age, n in (("ALL", 19), ("3", 4), ("4", 5), ("92", 7), ("95+", 2), ("X", 1))
        )
        + "GP_PRAC_PAT_LIST,01JAN2021,GP,16C,E38000247,A81001,TS18 1HU,FEMALE,7,n/a\n",
    )
    data = tmp_path / "in"
    notes: list[str] = []
    import_published("population", female, data, notes=notes)
    organisations(data, ["A81001"])

    # in file order: the banded rows, then the two rows as published
    assert pl.read_csv(data / "registered_population.csv", infer_schema=False).rows() == [
        ("2021-01-01", "A81001", "UNKNOWN", "F", "0-4", "9"),
        ("2021-01-01", "A81001", "UNKNOWN", "F", "90+", "9"),
        ("2021-01-01", "A81001", "UNKNOWN", "F", "X", "1"),
        ("2021-01-01", "A81001", "UNKNOWN", "F", "5-9", "n/a"),
    ]
    assert notes[-2:] == [
        "the age breakdown of 2021-01 holds only sex F: import the other sex's single-age "
        "file too, or the list sizes hold only these patients",
        "2 published rows could not be read; they are written as published, for validation "
        "to quarantine with the reason",
    ]
    report = validate_directory(
        data, tmp_path / "out", catalogue=REPO / "seeds" / "metric_catalogue.csv"
    )
    problems = sorted((p.row, p.column, p.value) for p in report.problems)
    assert problems == [(3, "age_band", "X"), (4, "patients", "n/a")]
    assert report.datasets["registered_population"].rows_loaded == 2


def test_a_file_of_another_kind_or_two_extracts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a Patients Registered at a GP Practice file"):
        import_published("population", write(tmp_path / "x.csv", "a,b\n1,2\n"), tmp_path / "in")
    two = write(
        tmp_path / "two.csv",
        QUIN_AGE + QUIN_AGE.splitlines()[3].replace("01JAN2021", "01FEB2021") + "\n",
    )
    with pytest.raises(UsageError, match="must hold one extract"):
        import_published("population", two, tmp_path / "in")


# ---------------------------------------------------------------- IMD
@needs_reference
def test_the_imd_file_becomes_lsoa_deprivation_and_validates(tmp_path: Path) -> None:
    data = tmp_path / "in"
    assert main(["import", "imd", str(IMD), "--out", str(data)]) == 0
    import_published("population", write(tmp_path / "quin.csv", QUIN_AGE), data)
    organisations(data, ["A81001"])

    deprivation = pl.read_csv(data / "lsoa_deprivation.csv")
    assert deprivation.columns == ["lsoa_code", "imd_decile", "imd_rank"]
    assert deprivation.row(0) == ("E01000001", 9, 29199)
    report = validate_directory(
        data, tmp_path / "out", catalogue=REPO / "seeds" / "metric_catalogue.csv"
    )
    assert not report.has_problems
    counts = report.datasets["lsoa_deprivation"]
    assert (counts.rows_read, counts.rows_loaded) == (32_844, 32_844)


def test_the_published_imd_file_7_columns_are_read(tmp_path: Path) -> None:
    file_7 = write(
        tmp_path / "File_7_IoD2019.csv",
        '"LSOA code (2011)","LSOA name (2011)","Index of Multiple Deprivation (IMD) Score",'
        '"Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",'
        '"Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",'
        '"Income Decile (where 1 is most deprived 10% of LSOAs)"\n'
        'E01000001,City of London 001A,6.208,"29,199",9,10\n'
        "E01000005,City of London 001E,32.4,8,11,3\n",
    )

    assert main(["import", "imd", str(file_7), "--out", str(tmp_path / "in")]) == 0

    assert pl.read_csv(tmp_path / "in" / "lsoa_deprivation.csv", infer_schema=False).rows() == [
        ("E01000001", "9", "29199"),
        ("E01000005", "11", "8"),
    ]
    with pytest.raises(UsageError, match="is not an English Indices of Deprivation LSOA file"):
        import_published(
            "imd", write(tmp_path / "x.csv", "lsoa_code,score\nE01000001,3\n"), tmp_path / "in"
        )


def test_a_registered_population_the_importer_did_not_write_is_not_replaced(
    tmp_path: Path,
) -> None:
    data = tmp_path / "in"
    data.mkdir()
    own = write(data / "registered_population.csv", "extract_date,practice_code\n")

    with pytest.raises(UsageError) as raised:
        import_published("population", write(tmp_path / "quin.csv", QUIN_AGE), data)
    assert str(raised.value) == (
        f"--out {data} is not empty and was not written by nbhd import; "
        "choose a new or empty directory"
    )
    assert own.read_text() == "extract_date,practice_code\n"
    assert not (data / "registered_population_published").exists()

    # in a directory an import owns, a file the user put there is not replaced either
    owned = tmp_path / "owned"
    import_published(
        "imd", write(tmp_path / "imd.csv", "lsoa11cd,IMD_decile\nE01000001,3\n"), owned
    )
    mine = write(owned / "registered_population.csv", "extract_date,practice_code\n")
    with pytest.raises(UsageError) as raised:
        import_published("population", tmp_path / "quin.csv", owned)
    assert str(raised.value) == (
        f"{mine} was not written by nbhd import population: move it away first, "
        "or import into another directory"
    )
    assert mine.read_text() == "extract_date,practice_code\n"
