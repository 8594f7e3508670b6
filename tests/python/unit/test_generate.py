"""The synthetic data generator at `tiny` scale: determinism, the spec's columns, identifier
shapes, GPAD's published format, and every planted effect that tiny data can show
(docs/synthetic-data.md lists them with their sizes)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from metrics_cli.errors import UsageError
from metrics_cli.generate import generate
from metrics_cli.synthetic import gpad, names
from metrics_cli.synthetic.config import SCALES, SCHEMAS
from metrics_cli.synthetic.geography import apportion
from metrics_cli.synthetic.practice import draw_categorical, identifiers
from metrics_cli.synthetic.timeline import build_timeline, gpad_month_text, seasonal

SEED = 2022  # the conftest's tiny_data seed

# The columns of ../shared/spec/inputs.md, in its order (maturity_assessments is not ours).
SPEC_COLUMNS = {
    "organisations": "practice_code practice_name pcn_code pcn_name neighbourhood_code "
    "neighbourhood_name place_code place_name icb_code icb_name provider_code provider_name "
    "valid_from valid_to",
    "registered_population": "extract_date practice_code lsoa_code sex age_band patients",
    "lsoa_deprivation": "lsoa_code imd_decile imd_rank",
    "weighted_population": "financial_year practice_code weighted_patients",
    "gp_appointments": "APPOINTMENT_MONTH_START_DATE GP_CODE GP_NAME SUPPLIER PCN_CODE PCN_NAME "
    "SUB_ICB_LOCATION_CODE SUB_ICB_LOCATION_NAME ICB_CODE ICB_NAME REGION_CODE REGION_NAME "
    "HCP_TYPE APPT_MODE NATIONAL_CATEGORY TIME_BETWEEN_BOOK_AND_APPT APPT_STATUS "
    "COUNT_OF_APPOINTMENTS",
    "gp_encounters": "encounter_id encounter_date practice_code patient_id clinician_id "
    "clinician_role appt_mode",
    "patients": "patient_id practice_code lsoa_code sex age_band usual_gp_id ltc_count frailty "
    "registered_from registered_to",
    "hospital_activity": "month practice_code lsoa_code sex age_band activity_type acsc_category "
    "events bed_days cost_gbp",
    "community_activity": "month practice_code service contacts patients",
    "prem_responses": "survey_wave practice_code respondent_id lsoa_code sex age_band weight "
    "question_id response",
    "spend": "financial_year org_type org_code spend_category amount_gbp",
    "practice_payments": "financial_year practice_code payment_category amount_gbp",
    "workforce": "census_date practice_code pcn_code staff_group role is_arrs_funded fte headcount",
}
PUBLISHED_CATEGORIES = {
    "General Consultation Routine", "General Consultation Acute", "Clinical Triage",
    "Planned Clinics", "Planned Clinical Procedure", "Unplanned Clinical Activity",
    "Structured Medication Review", "Home Visit", "Care Home Visit",
    "Patient contact during Care Home Round",
    "Care Home Needs Assessment & Personalised Care and Support Planning",
    "Social Prescribing Service", "Service provided by organisation external to the practice",
    "Walk-in", "Group Consultation and Group Education", "Non-contractual chargeable work",
    "Unmapped", "Inconsistent Mapping",
}  # fmt: skip
WINTER, SUMMER = (12, 1, 2), (6, 7, 8)


def read(directory: Path, dataset: str) -> pl.DataFrame:
    return pl.read_csv(directory / f"{dataset}.csv", schema=SCHEMAS[dataset])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_quintile(frame: pl.DataFrame, tiny_data: Path) -> pl.DataFrame:
    """`frame` with the IMD quintile of its lsoa_code (null for UNKNOWN)."""
    quintiles = read(tiny_data, "lsoa_deprivation").select(
        "lsoa_code", ((pl.col("imd_decile") + 1) // 2).alias("quintile")
    )
    return frame.join(quintiles, on="lsoa_code", how="left")


def financial_year(column: str) -> pl.Expr:
    year = pl.col(column).dt.year()
    return pl.when(pl.col(column).dt.month() >= 4).then(year).otherwise(year - 1)


def patient_years(tiny_data: Path) -> pl.DataFrame:
    """Each patient with the years they were registered within the series, and their quintile."""
    first, last = date(2023, 4, 1), date(2025, 3, 31)
    patients = read(tiny_data, "patients").with_columns(
        pl.max_horizontal("registered_from", pl.lit(first)).alias("start"),
        pl.min_horizontal(pl.col("registered_to").fill_null(last), pl.lit(last)).alias("end"),
    )
    return with_quintile(
        patients.with_columns(
            (((pl.col("end") - pl.col("start")).dt.total_days() + 1) / 365.25).alias("years")
        ),
        tiny_data,
    )


def standardised_ratio(events: pl.DataFrame, exposure: pl.DataFrame, by: str) -> float:
    """Mantel-Haenszel rate ratio of `by` == 1 over `by` == 5 within age bands.

    `events` and `exposure` have columns age_band, `by` and `events` / `exposure`.
    """
    joined = events.join(exposure, on=["age_band", by])
    first = joined.filter(pl.col(by) == 1).drop(by)
    last = joined.filter(pl.col(by) == 5).drop(by)
    pairs = first.join(last, on="age_band", suffix="_5")
    total = pl.col("exposure") + pl.col("exposure_5")
    ratio = pairs.select(
        (pl.col("events") * pl.col("exposure_5") / total).sum()
        / (pl.col("events_5") * pl.col("exposure") / total).sum()
    )
    return float(ratio.item())


def mean_population(tiny_data: Path, *by: str) -> pl.DataFrame:
    """Mean registered patients over the quarterly extracts, by `by`."""
    population = with_quintile(read(tiny_data, "registered_population"), tiny_data)
    extracts = population["extract_date"].n_unique()
    return population.group_by(*by).agg((pl.col("patients").sum() / extracts).alias("people"))


# ---------------------------------------------------------------- helpers, exactly
def test_apportion_splits_by_largest_remainder() -> None:
    assert apportion(10, np.array([1.0, 1.0, 1.0])).tolist() == [4, 3, 3]
    assert apportion(7, np.array([3.0, 1.0]), minimum=2).tolist() == [4, 3]
    with pytest.raises(ValueError):
        apportion(3, np.ones(4))


def test_codes_and_published_month_text() -> None:
    assert names.practice_code(0) == "Y01001"
    assert names.pcn_code(0) == "U91001"
    assert names.icb_code(0) == "Q9A"
    assert names.icb_code(26) == "Q8A"
    assert names.lsoa_code(0) == "E01040001"
    assert gpad_month_text(date(2024, 7, 1)) == "01JUL2024"
    assert identifiers("P", np.array([1, 123]), 8).to_list() == ["P00000001", "P00000123"]
    with pytest.raises(ValueError):
        identifiers("C", np.array([1_000_000]), 6)


def test_categorical_draws_and_seasons() -> None:
    shares = np.array([0.5, 0.0, 0.25, 0.25])
    draws = draw_categorical(shares, np.array([0.0, 0.49, 0.5, 0.74, 0.75, 0.999]))
    assert draws.tolist() == [0, 0, 2, 2, 3, 3]
    factors = seasonal([date(2024, 1, 1), date(2024, 4, 1), date(2024, 7, 1)], 0.1)
    assert factors == pytest.approx([1.1, 1.0, 0.9])


def test_same_day_uplift_adds_fifteen_points_of_known_intervals() -> None:
    routine = gpad.INTERVAL_PROFILES["routine"]
    raised = gpad.with_same_day_uplift(routine, 0.15)
    known = routine[:-1].sum()  # 0.98
    assert raised[0] / known == pytest.approx(0.22 / 0.98 + 0.15)
    assert raised[1] / known == pytest.approx(
        0.08 / 0.98 * (1 - 0.22 / 0.98 - 0.15) / (1 - 0.22 / 0.98)
    )
    assert raised.sum() == pytest.approx(1.0)
    assert raised[-1] == routine[-1]


def test_tiny_calendar() -> None:
    timeline = build_timeline(SCALES["tiny"])
    assert [year.label for year in timeline.financial_years] == ["2023/24", "2024/25"]
    assert [extract for _, extract in timeline.extracts][:3] == [
        date(2023, 4, 1), date(2023, 7, 1), date(2023, 10, 1),
    ]  # fmt: skip
    assert len(timeline.extracts) == 8
    assert [census for _, census in timeline.censuses][:2] == [date(2023, 6, 30), date(2023, 9, 30)]
    assert [census for _, census in timeline.censuses][-1] == date(2025, 3, 31)
    assert [(wave, number) for wave, _, number in timeline.waves] == [("2024", 0), ("2025", 1)]
    uniform = np.random.default_rng(1).random(10_000) * timeline.encounter_cumulative[-1]
    binary = np.searchsorted(timeline.encounter_cumulative, uniform, side="right") - 1
    assert np.array_equal(timeline.day_at(uniform), binary)


def test_unknown_scale_and_negative_seed_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        generate("county", 1, tmp_path)
    with pytest.raises(UsageError):
        generate("tiny", -1, tmp_path)


# ---------------------------------------------------------------- files
@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("tiny_again")
    return out, generate("tiny", SEED, out)


def test_same_seed_gives_the_same_bytes(
    tiny_data: Path, regenerated: tuple[Path, dict[str, int]]
) -> None:
    again, _ = regenerated
    first = {p.name: digest(p) for p in sorted(tiny_data.iterdir())}
    second = {p.name: digest(p) for p in sorted(again.iterdir())}
    assert first == second
    assert len(first) == 15  # 14 datasets and the manifest


def test_another_seed_gives_other_data(tmp_path: Path, tiny_data: Path) -> None:
    generate("tiny", SEED + 1, tmp_path)
    assert digest(tmp_path / "patients.csv") != digest(tiny_data / "patients.csv")
    assert digest(tmp_path / "organisations.csv") != digest(tiny_data / "organisations.csv")


def test_counts_are_the_rows_written_and_tiny_is_all_csv(
    regenerated: tuple[Path, dict[str, int]],
) -> None:
    out, counts = regenerated
    assert set(counts) == {*SPEC_COLUMNS, "maturity_assessments"}
    for dataset, rows in counts.items():
        if dataset == "maturity_assessments":
            assert pl.read_csv(out / f"{dataset}.csv").height == rows > 0
        else:
            assert read(out, dataset).height == rows, dataset
    assert sorted(p.suffix for p in out.iterdir()) == [".csv"] * 14 + [".json"]


def test_every_file_has_exactly_the_spec_columns(tiny_data: Path) -> None:
    for dataset, columns in SPEC_COLUMNS.items():
        header = (tiny_data / f"{dataset}.csv").read_text().split("\n", 1)[0]
        assert header.split(",") == columns.split(), dataset


def test_rerun_replaces_its_own_directory_whole(tmp_path: Path) -> None:
    out = tmp_path / "data"
    generate("tiny", SEED + 1, out)
    (out / "patients.parquet").write_bytes(b"left over from an icb run")
    generate("tiny", SEED, out)
    assert not (out / "patients.parquet").exists()
    assert (out / "patients.csv").exists()
    assert json.loads((out / "manifest.json").read_text()) == {
        "written_by": "nbhd generate",
        "scale": "tiny",
        "seed": SEED,
    }
    assert [p.name for p in tmp_path.iterdir()] == ["data"]


def test_a_directory_of_real_inputs_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "spend.csv").write_text("real,inputs\n")
    with pytest.raises(UsageError) as raised:
        generate("tiny", SEED, tmp_path)
    assert str(raised.value) == (
        f"--out {tmp_path} is not empty and was not written by nbhd generate; "
        "choose a new or empty directory"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["spend.csv"]


# ---------------------------------------------------------------- shape of tiny
def test_tiny_is_one_neighbourhood_of_three_practices_over_24_months(tiny_data: Path) -> None:
    organisations = read(tiny_data, "organisations")
    assert organisations.height == 3
    for column in ("pcn_code", "neighbourhood_code", "place_code", "icb_code", "provider_code"):
        assert organisations[column].n_unique() == 1, column
    assert organisations["valid_to"].null_count() == 3
    months = read(tiny_data, "hospital_activity")["month"].unique().sort()
    assert months.len() == 24
    assert (months.min(), months.max()) == (date(2023, 4, 1), date(2025, 3, 1))
    population = read(tiny_data, "registered_population")
    assert population["extract_date"].n_unique() == 8
    latest = population.filter(pl.col("extract_date") == date(2025, 1, 1))
    lists = latest.group_by("practice_code").agg(pl.col("patients").sum())["patients"].to_list()
    assert min(lists) > 4_500
    assert max(lists) < 5_800
    assert 14_500 < sum(lists) < 16_500
    assert read(tiny_data, "spend")["financial_year"].unique().sort().to_list() == [
        "2023/24", "2024/25",
    ]  # fmt: skip
    assert read(tiny_data, "prem_responses")["survey_wave"].unique().sort().to_list() == [
        "2024", "2025",
    ]  # fmt: skip


def test_identifiers_have_real_shapes_and_nothing_looks_like_a_person(tiny_data: Path) -> None:
    patients = read(tiny_data, "patients")
    encounters = read(tiny_data, "gp_encounters")
    assert patients["patient_id"].str.contains(r"^P\d{8}$").all()
    assert patients["patient_id"].is_unique().all()
    assert encounters["encounter_id"].str.contains(r"^E\d{9}$").all()
    assert encounters["encounter_id"].is_unique().all()
    assert encounters["clinician_id"].str.contains(r"^C\d{6}$").all()
    assert read(tiny_data, "prem_responses")["respondent_id"].str.contains(r"^R\d{7}$").all()
    assert read(tiny_data, "organisations")["pcn_code"].str.contains(r"^U9\d{4}$").all()
    assert read(tiny_data, "organisations")["icb_code"].str.contains(r"^Q9[A-Z]$").all()
    assert read(tiny_data, "organisations")["practice_code"].str.contains(r"^Y0\d{4}$").all()
    lsoas = read(tiny_data, "lsoa_deprivation")["lsoa_code"]
    assert lsoas.str.contains(r"^E01\d{6}$").all()
    ten_digits = re.compile(r"(?<![\d.])\d{10}(?![\d.])")
    postcode = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")
    for path in tiny_data.iterdir():
        text = path.read_text()
        assert not ten_digits.search(text), path.name
        assert not postcode.search(text), path.name
        header = text.split("\n", 1)[0].lower()
        for name_column in ("forename", "surname", "first_name", "last_name", "full_name"):
            assert name_column not in header


def test_names_include_an_apostrophe_and_an_ampersand(tiny_data: Path) -> None:
    organisations = read(tiny_data, "organisations")
    assert "St Mary's & Priory Surgery" in organisations["practice_name"].to_list()
    assert organisations["neighbourhood_name"][0] == "St Anne's & Riverside"
    appointments = read(tiny_data, "gp_appointments")
    assert "ST MARY'S & PRIORY SURGERY" in appointments["GP_NAME"].to_list()


def test_gpad_is_in_the_published_format(tiny_data: Path) -> None:
    appointments = read(tiny_data, "gp_appointments")
    assert appointments["APPOINTMENT_MONTH_START_DATE"].str.contains(r"^01[A-Z]{3}20\d\d$").all()
    assert appointments["APPOINTMENT_MONTH_START_DATE"][0] == "01APR2023"
    assert set(appointments["TIME_BETWEEN_BOOK_AND_APPT"]) == {
        "Same Day", "1 Day", "2 to 7 Days", "8  to 14 Days", "15  to 21 Days",
        "22  to 28 Days", "More than 28 Days", "Unknown / Data Quality",
    }  # fmt: skip
    assert set(appointments["HCP_TYPE"]) == {"GP", "Other Practice staff", "Unknown"}
    assert set(appointments["APPT_STATUS"]) == {"Attended", "DNA", "Unknown"}
    assert set(appointments["APPT_MODE"]) == {
        "Face-to-Face", "Home Visit", "Telephone", "Video Conference/Online", "Unknown",
    }  # fmt: skip
    categories = set(appointments["NATIONAL_CATEGORY"])
    assert categories <= PUBLISHED_CATEGORIES
    assert {"Unmapped", "Inconsistent Mapping", "Clinical Triage", "Home Visit"} <= categories
    assert (appointments["COUNT_OF_APPOINTMENTS"] > 0).all()
    cells = appointments.columns[:-1]
    assert appointments.select(cells).is_unique().all()
    assert appointments.select("GP_CODE", "APPOINTMENT_MONTH_START_DATE").n_unique() == 3 * 24


def test_hospital_activity_is_at_the_spec_grain_with_only_events(tiny_data: Path) -> None:
    hospital = read(tiny_data, "hospital_activity")
    key = [c for c in hospital.columns if c not in ("events", "bed_days", "cost_gbp")]
    assert hospital.select(key).is_unique().all()
    assert (hospital["events"] > 0).all()
    admissions = pl.col("activity_type").is_in(["emergency_admission", "elective_admission"])
    assert (hospital.filter(~admissions)["bed_days"] == 0).all()
    assert hospital.filter(admissions)["bed_days"].sum() > 0
    assert hospital.filter(pl.col("activity_type") != "emergency_admission")[
        "acsc_category"
    ].unique().to_list() == ["none"]
    assert set(hospital["acsc_category"]) == {"none", "chronic", "acute", "vaccine_preventable"}
    assert set(hospital["lsoa_code"]) >= {"UNKNOWN"}


def test_every_practice_has_gps_with_lists_and_other_staff(tiny_data: Path) -> None:
    encounters = read(tiny_data, "gp_encounters")
    patients = read(tiny_data, "patients")
    for practice, rows in encounters.group_by("practice_code"):
        roles = set(rows["clinician_role"])
        assert {"GP", "Nurse", "Pharmacist", "Other"} <= roles, practice
        assert rows.filter(pl.col("clinician_role") == "GP")["clinician_id"].n_unique() >= 3
    holders = patients.group_by("practice_code").agg(pl.col("usual_gp_id").drop_nulls().n_unique())
    assert (holders["usual_gp_id"] >= 2).all()
    assert 0.80 < patients["usual_gp_id"].is_not_null().mean() < 0.92  # type: ignore[operator]
    pharmacists = encounters.filter(pl.col("clinician_role") == "Pharmacist")
    shared = pharmacists.group_by("clinician_id").agg(pl.col("practice_code").n_unique())
    assert shared["practice_code"].max() == 3  # PCN-employed: seen at every practice


def test_about_five_encounters_a_patient_year_half_with_a_gp(tiny_data: Path) -> None:
    encounters = read(tiny_data, "gp_encounters")
    years = patient_years(tiny_data)["years"].sum()
    assert 4.5 < encounters.height / years < 5.5
    assert 0.45 < (encounters["clinician_role"] == "GP").mean() < 0.55  # type: ignore[operator]


# ---------------------------------------------------------------- planted effects
def test_age_sex_structure_in_the_19_esp_bands(tiny_data: Path) -> None:
    patients = read(tiny_data, "patients")
    assert patients["age_band"].n_unique() == 19
    female = patients.group_by("age_band").agg((pl.col("sex") == "F").mean().alias("female"))
    share = dict(female.iter_rows())
    assert 0.44 < share["30-34"] < 0.56
    old = patients.filter(pl.col("age_band").is_in(["80-84", "85-89", "90+"]))
    assert (old["sex"] == "F").mean() > 0.56  # type: ignore[operator]


def test_each_practice_has_its_own_deprivation_mix(tiny_data: Path) -> None:
    patients = with_quintile(read(tiny_data, "patients"), tiny_data)
    mix = patients.group_by("practice_code").agg(
        (pl.col("quintile") <= 2).mean().alias("deprived"),
        (pl.col("quintile") >= 4).mean().alias("affluent"),
    )
    rows = {row["practice_code"]: row for row in mix.iter_rows(named=True)}
    assert rows["Y01001"]["deprived"] > 0.8
    assert rows["Y01003"]["affluent"] > 0.8
    assert rows["Y01002"]["deprived"] < 0.8 and rows["Y01002"]["affluent"] < 0.8
    assert patients.filter(pl.col("practice_code") == "Y01002")["quintile"].n_unique() >= 4
    assert set(patients["quintile"].drop_nulls()) == {1, 2, 3, 4, 5}
    assert (patients["lsoa_code"] == "UNKNOWN").sum() > 0


def test_encounters_rise_with_age_frailty_conditions_and_deprivation(tiny_data: Path) -> None:
    people = patient_years(tiny_data)
    counts = read(tiny_data, "gp_encounters").group_by("patient_id").len("encounters")
    people = people.join(counts, on="patient_id", how="left").with_columns(
        pl.col("encounters").fill_null(0),
        pl.col("age_band").is_in(["75-79", "80-84", "85-89", "90+"]).alias("old"),
        pl.col("age_band").is_in(["20-24", "25-29", "30-34", "35-39"]).alias("young"),
    )

    def rate(condition: pl.Expr) -> float:
        chosen = people.filter(condition)
        return float(chosen.select(pl.col("encounters").sum() / pl.col("years").sum()).item())

    assert rate(pl.col("old")) > 2.5 * rate(pl.col("young"))
    assert rate(pl.col("frailty") == "severe") > 4 * rate(pl.col("frailty") == "fit")
    assert rate(pl.col("ltc_count") >= 3) > 2 * rate(pl.col("ltc_count") == 0)
    by_quintile = people.group_by("age_band", "quintile")
    ratio = standardised_ratio(
        by_quintile.agg(pl.col("encounters").sum().alias("events")),
        by_quintile.agg(pl.col("years").sum().alias("exposure")),
        "quintile",
    )
    assert ratio > 1.15


def test_continuity_falls_with_deprivation_and_over_time(tiny_data: Path) -> None:
    patients = with_quintile(read(tiny_data, "patients"), tiny_data)
    seen = (
        read(tiny_data, "gp_encounters")
        .filter(pl.col("clinician_role") == "GP")
        .join(patients.select("patient_id", "usual_gp_id", "quintile"), on="patient_id")
        .filter(pl.col("usual_gp_id").is_not_null())
        .with_columns(
            (pl.col("clinician_id") == pl.col("usual_gp_id")).alias("usual"),
            financial_year("encounter_date").alias("year"),
        )
    )
    by_quintile = (
        seen.group_by("quintile").agg(pl.col("usual").mean()).drop_nulls().sort("quintile")
    )
    shares = by_quintile["usual"].to_list()
    assert shares[4] - shares[0] > 0.12  # 20 points planted, 5 between neighbours
    assert all(later > earlier - 0.02 for earlier, later in pairwise(shares))
    by_year = seen.group_by("year").agg(pl.col("usual").mean()).sort("year")["usual"].to_list()
    assert by_year[0] - by_year[1] > 0.015


def test_winter_peaks_in_appointments_ae_and_admissions(tiny_data: Path) -> None:
    encounters = read(tiny_data, "gp_encounters").with_columns(
        pl.col("encounter_date").dt.month().alias("m")
    )
    hospital = read(tiny_data, "hospital_activity").with_columns(
        pl.col("month").dt.month().alias("m")
    )
    appointments = read(tiny_data, "gp_appointments").with_columns(
        pl.col("APPOINTMENT_MONTH_START_DATE").str.to_date("%d%b%Y").dt.month().alias("m")
    )

    def winter_over_summer(frame: pl.DataFrame, weight: str | None) -> float:
        value = pl.col(weight).sum() if weight else pl.len()
        winter = frame.filter(pl.col("m").is_in(WINTER)).select(value).item()
        summer = frame.filter(pl.col("m").is_in(SUMMER)).select(value).item()
        return float(winter / summer)

    assert winter_over_summer(encounters, None) > 1.1
    assert winter_over_summer(appointments, "COUNT_OF_APPOINTMENTS") > 1.1
    ae = hospital.filter(pl.col("activity_type").str.starts_with("ae_"))
    assert winter_over_summer(ae, "events") > 1.08
    emergency = hospital.filter(pl.col("activity_type") == "emergency_admission")
    assert winter_over_summer(emergency, "events") > 1.1


def test_the_shift_place_moves_spend_and_contacts_to_community(tiny_data: Path) -> None:
    spend = read(tiny_data, "spend")
    primary_and_community = pl.col("spend_category").eq("community") | pl.col(
        "spend_category"
    ).str.starts_with("primary_care_")
    share = (
        spend.group_by("financial_year")
        .agg(pl.col("amount_gbp").filter(primary_and_community).sum() / pl.col("amount_gbp").sum())
        .sort("financial_year")["amount_gbp"]
        .to_list()
    )
    assert 0.008 < share[1] - share[0] < 0.022  # +1.5 points a year
    assert spend["org_type"].unique().to_list() == ["place"]
    contacts = (
        read(tiny_data, "community_activity")
        .group_by(financial_year("month").alias("year"))
        .agg(pl.col("contacts").sum())
        .sort("year")["contacts"]
        .to_list()
    )
    assert contacts[1] / contacts[0] > 1.08


def test_the_same_day_hub_raises_same_day_share_by_fifteen_points(tiny_data: Path) -> None:
    appointments = read(tiny_data, "gp_appointments").with_columns(
        pl.col("APPOINTMENT_MONTH_START_DATE").str.to_date("%d%b%Y").alias("month")
    )
    known = appointments.filter(pl.col("TIME_BETWEEN_BOOK_AND_APPT") != "Unknown / Data Quality")
    same_day = pl.col("TIME_BETWEEN_BOOK_AND_APPT") == "Same Day"
    count = pl.col("COUNT_OF_APPOINTMENTS")
    share = known.group_by(pl.col("month") >= date(2024, 4, 1)).agg(
        count.filter(same_day).sum() / count.sum()
    )
    before, after = (share.sort("month")["COUNT_OF_APPOINTMENTS"]).to_list()
    assert 0.13 < after - before < 0.17


def test_acsc_admissions_are_more_common_in_deprived_and_frail_populations(
    tiny_data: Path,
) -> None:
    emergency = with_quintile(read(tiny_data, "hospital_activity"), tiny_data).filter(
        pl.col("activity_type") == "emergency_admission"
    )
    acsc = pl.col("events").filter(pl.col("acsc_category") != "none").sum() / pl.col("events").sum()
    share = dict(emergency.group_by("quintile").agg(acsc).drop_nulls().iter_rows())
    assert share[1] - share[5] > 0.05
    # Frailty works through each cell's mix of patients: among patients aged 75 and over,
    # cells where most are frail have clearly more ACSC admissions per person.
    frail = (
        read(tiny_data, "patients")
        .filter(pl.col("age_band").is_in(["75-79", "80-84", "85-89", "90+"]))
        .group_by("practice_code", "lsoa_code", "sex", "age_band")
        .agg(pl.col("frailty").is_in(["moderate", "severe"]).mean().alias("frail"))
    )
    cells = ["practice_code", "lsoa_code", "sex", "age_band"]
    events = (
        emergency.filter(pl.col("acsc_category") != "none")
        .group_by(cells)
        .agg(pl.col("events").sum())
    )
    people = read(tiny_data, "registered_population").group_by(cells).agg(pl.col("patients").mean())
    joined = frail.join(people, on=cells).join(events, on=cells, how="left").fill_null(0)

    def rate(condition: pl.Expr) -> float:
        chosen = joined.filter(condition)
        return float(chosen.select(pl.col("events").sum() / pl.col("patients").sum()).item())

    assert rate(pl.col("frail") >= 0.5) > 1.5 * rate(pl.col("frail") == 0)


def test_ae_and_admissions_rise_with_age_and_deprivation(tiny_data: Path) -> None:
    hospital = with_quintile(read(tiny_data, "hospital_activity"), tiny_data)
    population = mean_population(tiny_data, "age_band", "quintile").rename({"people": "exposure"})
    by_band = population.group_by("age_band").agg(pl.col("exposure").sum())
    for activity in ("ae_", "emergency_admission"):
        chosen = hospital.filter(pl.col("activity_type").str.starts_with(activity))
        per_band = (
            chosen.group_by("age_band").agg(pl.col("events").sum()).join(by_band, on="age_band")
        )
        rate = dict(per_band.select("age_band", pl.col("events") / pl.col("exposure")).iter_rows())
        assert rate["85-89"] > 3 * rate["30-34"], activity
        events = chosen.group_by("age_band", "quintile").agg(pl.col("events").sum())
        assert standardised_ratio(events, population, "quintile") > 1.3, activity


def test_emergency_bed_days_rise_with_age(tiny_data: Path) -> None:
    emergency = read(tiny_data, "hospital_activity").filter(
        pl.col("activity_type") == "emergency_admission"
    )
    old = pl.col("age_band").is_in(["75-79", "80-84", "85-89", "90+"])
    young = pl.col("age_band").is_in(["20-24", "25-29", "30-34", "35-39", "40-44"])
    per_admission = {
        label: float(emergency.filter(condition)["bed_days"].sum())
        / float(emergency.filter(condition)["events"].sum())
        for label, condition in (("old", old), ("young", young))
    }
    assert per_admission["old"] > 3 * per_admission["young"]
    assert per_admission["old"] > 6


def test_dna_rate_is_higher_in_the_deprived_practice(tiny_data: Path) -> None:
    appointments = read(tiny_data, "gp_appointments").filter(
        pl.col("APPT_STATUS").is_in(["Attended", "DNA"])
    )
    count = pl.col("COUNT_OF_APPOINTMENTS")
    rates = dict(
        appointments.group_by("GP_CODE")
        .agg(count.filter(pl.col("APPT_STATUS") == "DNA").sum() / count.sum())
        .iter_rows()
    )
    assert rates["Y01001"] > rates["Y01003"] + 0.01


def test_survey_waves_weights_and_questions(tiny_data: Path) -> None:
    responses = read(tiny_data, "prem_responses")
    assert set(responses["question_id"]) == {
        "overall_experience", "contact_ease", "phone_ease", "preferred_clinician", "needs_met",
    }  # fmt: skip
    key = ["survey_wave", "respondent_id", "question_id"]
    assert responses.select(key).is_unique().all()
    weights = responses.unique(["survey_wave", "respondent_id"])["weight"]
    assert (weights > 0).all()
    assert 0.97 < weights.mean() < 1.03  # type: ignore[operator]
    assert weights.std() > 0.25  # type: ignore[operator]
    assert responses["lsoa_code"].null_count() > 0
    positive = (
        responses.filter(pl.col("response") != "dont_know")
        .group_by("question_id")
        .agg(pl.col("response").is_in(["very_good", "fairly_good"]).mean())
    )
    share = dict(positive.iter_rows())
    assert share["needs_met"] > share["overall_experience"] > share["preferred_clinician"]


def test_payments_per_weighted_patient_are_lower_in_the_deprived_practice(tiny_data: Path) -> None:
    payments = read(tiny_data, "practice_payments").filter(
        pl.col("payment_category") != "dispensing"
    )
    weighted = read(tiny_data, "weighted_population")
    per_patient = (
        payments.group_by("financial_year", "practice_code")
        .agg(pl.col("amount_gbp").sum())
        .join(weighted, on=["financial_year", "practice_code"])
        .select(
            "financial_year", "practice_code", pl.col("amount_gbp") / pl.col("weighted_patients")
        )
    )
    for year in ("2023/24", "2024/25"):
        rows = dict(
            per_patient.filter(pl.col("financial_year") == year).drop("financial_year").iter_rows()
        )
        assert rows["Y01001"] < 0.97 * rows["Y01003"]
        assert 150 < rows["Y01002"] < 210


def test_workforce_has_pcn_arrs_staff_that_grow(tiny_data: Path) -> None:
    workforce = read(tiny_data, "workforce")
    arrs = workforce.filter(pl.col("is_arrs_funded"))
    assert arrs["practice_code"].null_count() == arrs.height
    assert arrs["pcn_code"].null_count() == 0
    assert workforce.filter(~pl.col("is_arrs_funded"))["practice_code"].null_count() == 0
    headcount = arrs.group_by("census_date").agg(pl.col("headcount").sum()).sort("census_date")
    counts = headcount["headcount"].to_list()
    assert counts == sorted(counts)  # ARRS posts are filled and stay filled
    assert counts[-1] == 6  # every post by the last census (1 of each of 6 roles)
    groups = set(workforce["staff_group"])
    assert {"gp_partner", "gp_salaried", "nurse", "direct_patient_care", "admin"} <= groups
    assert workforce["census_date"].n_unique() == 8
