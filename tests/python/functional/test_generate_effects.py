"""Planted effects that need more than one place or neighbourhood, the practice that moves
PCN, batch-by-batch streaming, and the shapes of the `icb` and `national` hierarchies.

The effects run on a reduced custom scale: 8 practices of about 6,000 patients in 4 PCNs,
4 neighbourhoods and 2 places, over 36 months (April 2022 to March 2025).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from metrics_cli.generate import generate_from_config
from metrics_cli.synthetic.config import SCALES, SCHEMAS, ScaleConfig
from metrics_cli.synthetic.geography import build_geography
from metrics_cli.synthetic.practice import rng_for

EFFECTS = ScaleConfig(
    name="effects",
    first_month=date(2022, 4, 1),
    months=36,
    icbs=1,
    practices=8,
    patients=48_000,
    practices_per_pcn=2,
    pcns_per_neighbourhood=1,
    neighbourhoods_per_place=2,
    hub_neighbourhood=0,
    hub_month=18,  # October 2023
    shift_place=0,
    mover_month=21,  # January 2024
    batch_practices=3,
    parquet=frozenset({"gp_encounters", "hospital_activity", "patients"}),
)
SEED = 11
SHIFTING = ("ae_type1", "ae_other", "emergency_admission", "outpatient_followup")


def read(directory: Path, dataset: str) -> pl.DataFrame:
    parquet = directory / f"{dataset}.parquet"
    if parquet.exists():
        return pl.read_parquet(parquet)
    return pl.read_csv(directory / f"{dataset}.csv", schema=SCHEMAS[dataset])


def financial_year(column: str) -> pl.Expr:
    year = pl.col(column).dt.year()
    return pl.when(pl.col(column).dt.month() >= 4).then(year).otherwise(year - 1)


@pytest.fixture(scope="module")
def effects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("effects")
    generate_from_config(EFFECTS, SEED, out)
    return out


@pytest.fixture(scope="module")
def places(effects: Path) -> pl.DataFrame:
    """practice_code -> place_code (the moving practice stays in its place)."""
    return read(effects, "organisations").select("practice_code", "place_code").unique()


def test_the_effects_scale_has_two_places_of_two_neighbourhoods(effects: Path) -> None:
    organisations = read(effects, "organisations")
    assert organisations["practice_code"].n_unique() == 8
    assert organisations["pcn_code"].n_unique() == 4
    assert organisations["neighbourhood_code"].n_unique() == 4
    assert organisations["place_code"].n_unique() == 2


def test_hospital_activity_falls_in_the_shift_place_relative_to_the_other(
    effects: Path, places: pl.DataFrame
) -> None:
    hospital = (
        read(effects, "hospital_activity")
        .filter(pl.col("activity_type").is_in(SHIFTING))
        .join(places, on="practice_code")
        .group_by("place_code", financial_year("month").alias("year"))
        .agg(pl.col("events").sum())
    )
    population = (
        read(effects, "registered_population")
        .join(places, on="practice_code")
        .group_by("place_code", financial_year("extract_date").alias("year"))
        .agg(pl.col("patients").sum() / 4)
    )
    rates = hospital.join(population, on=["place_code", "year"]).with_columns(
        (pl.col("events") / pl.col("patients")).alias("rate")
    )
    change = {
        place: float(rows.sort("year")["rate"][2] / rows.sort("year")["rate"][0])
        for (place,), rows in rates.group_by("place_code")
    }
    shift, other = change["E06900001"], change["E06900002"]
    assert shift / other < 0.95  # planted: -5% a year, about -10% from the first to third year


def test_community_contacts_and_spend_rise_in_the_shift_place(
    effects: Path, places: pl.DataFrame
) -> None:
    contacts = (
        read(effects, "community_activity")
        .join(places, on="practice_code")
        .group_by("place_code", financial_year("month").alias("year"))
        .agg(pl.col("contacts").sum())
        .sort("year")
    )
    growth = {
        place: float(rows["contacts"][2] / rows["contacts"][0])
        for (place,), rows in contacts.group_by("place_code")
    }
    assert growth["E06900001"] / growth["E06900002"] > 1.12  # +12% vs +2% a year
    primary_and_community = pl.col("spend_category").eq("community") | pl.col(
        "spend_category"
    ).str.starts_with("primary_care_")
    share = (
        read(effects, "spend")
        .group_by("org_code", "financial_year")
        .agg(pl.col("amount_gbp").filter(primary_and_community).sum() / pl.col("amount_gbp").sum())
        .sort("financial_year")
    )
    rise = {
        place: float(rows["amount_gbp"][2] - rows["amount_gbp"][0])
        for (place,), rows in share.group_by("org_code")
    }
    assert 0.025 < rise["E06900001"] < 0.035  # +1.5 points a year
    assert rise["E06900002"] < 0.01  # +0.2 points a year


def test_only_the_hub_neighbourhood_gains_same_day_appointments(effects: Path) -> None:
    organisations = read(effects, "organisations")
    settled = organisations.filter(pl.col("practice_code").is_unique())
    neighbourhood = dict(settled.select("practice_code", "neighbourhood_code").iter_rows())
    appointments = (
        read(effects, "gp_appointments")
        .filter(
            pl.col("GP_CODE").is_in(list(neighbourhood)),
            pl.col("TIME_BETWEEN_BOOK_AND_APPT") != "Unknown / Data Quality",
        )
        .with_columns(
            pl.col("GP_CODE").replace_strict(neighbourhood).alias("neighbourhood"),
            (
                pl.col("APPOINTMENT_MONTH_START_DATE").str.to_date("%d%b%Y") >= date(2023, 10, 1)
            ).alias("after"),
        )
    )
    count = pl.col("COUNT_OF_APPOINTMENTS")
    same_day = (
        appointments.group_by("neighbourhood", "after")
        .agg(count.filter(pl.col("TIME_BETWEEN_BOOK_AND_APPT") == "Same Day").sum() / count.sum())
        .sort("after")
    )
    for (code,), rows in same_day.group_by("neighbourhood"):
        before, after = rows["COUNT_OF_APPOINTMENTS"].to_list()
        if code == "NBH0001":
            assert 0.13 < after - before < 0.17
        else:
            assert abs(after - before) < 0.015, code


def test_one_practice_moves_pcn_and_every_dataset_follows(effects: Path) -> None:
    organisations = read(effects, "organisations")
    moved = organisations.filter(pl.col("practice_code").is_duplicated()).sort("valid_from")
    assert moved.height == 2
    first, second = moved.row(0, named=True), moved.row(1, named=True)
    assert first["valid_to"] == date(2023, 12, 31)
    assert second["valid_from"] == date(2024, 1, 1)
    assert second["valid_to"] is None
    assert first["pcn_code"] != second["pcn_code"]
    assert first["neighbourhood_code"] != second["neighbourhood_code"]
    assert first["place_code"] == second["place_code"]
    practice = first["practice_code"]
    gpad = (
        read(effects, "gp_appointments")
        .filter(pl.col("GP_CODE") == practice)
        .with_columns(pl.col("APPOINTMENT_MONTH_START_DATE").str.to_date("%d%b%Y").alias("month"))
    )
    assert set(gpad.filter(pl.col("month") < date(2024, 1, 1))["PCN_CODE"]) == {first["pcn_code"]}
    assert set(gpad.filter(pl.col("month") >= date(2024, 1, 1))["PCN_CODE"]) == {second["pcn_code"]}
    staff = read(effects, "workforce").filter(pl.col("practice_code") == practice)
    assert set(staff.filter(pl.col("census_date") < date(2024, 1, 1))["pcn_code"]) == {
        first["pcn_code"]
    }
    assert set(staff.filter(pl.col("census_date") > date(2024, 1, 1))["pcn_code"]) == {
        second["pcn_code"]
    }


def test_batches_change_the_row_groups_but_not_the_data(effects: Path, tmp_path: Path) -> None:
    generate_from_config(replace(EFFECTS, batch_practices=8), SEED, tmp_path)
    for dataset in SCHEMAS:
        assert read(effects, dataset).equals(read(tmp_path, dataset)), dataset
    assert pq.ParquetFile(effects / "gp_encounters.parquet").num_row_groups == 3
    assert pq.ParquetFile(tmp_path / "gp_encounters.parquet").num_row_groups == 1
    csv = (effects / "registered_population.csv").read_bytes()
    assert csv == (tmp_path / "registered_population.csv").read_bytes()


def test_the_icb_scale_hierarchy() -> None:
    config = SCALES["icb"]
    geography = build_geography(config, rng_for(2022, 1))
    organisations = geography.organisations()
    assert len(geography.practices) == 120
    assert organisations["pcn_code"].n_unique() == 25
    assert organisations["neighbourhood_code"].n_unique() == 11
    assert organisations["place_code"].n_unique() == 4
    assert organisations["icb_code"].n_unique() == 1
    assert organisations["provider_code"].drop_nulls().n_unique() == 2
    assert 0 < organisations["provider_code"].null_count() < organisations.height
    assert organisations.height == 121  # one practice moves PCN
    assert sum(p.list_size for p in geography.practices) == pytest.approx(1_100_000, rel=0.001)
    lsoas_per_practice = [len(p.lsoas) for p in geography.practices]
    assert min(lsoas_per_practice) >= 12 and max(lsoas_per_practice) <= 45
    assert config.months == 36 and config.last_month == date(2025, 3, 1)
    patient_level = {"gp_encounters", "patients", "registered_population", "hospital_activity"}
    assert all(config.file_format(d) == "parquet" for d in patient_level | {"prem_responses"})
    assert config.file_format("gp_appointments") == "csv"


def test_the_national_scale_hierarchy() -> None:
    config = SCALES["national"]
    geography = build_geography(config, rng_for(2022, 1))
    assert len(geography.icbs) == 42
    assert len(geography.practices) == 6_200
    assert sum(p.list_size for p in geography.practices) == pytest.approx(62_000_000, rel=0.001)
    per_icb = np.bincount([p.icb for p in geography.practices])
    assert per_icb.min() >= 20
    assert 1_100 < len(geography.pcns) < 1_500
    assert 25_000 < len(geography.lsoa_percentile) < 45_000
    assert config.file_format("gp_appointments") == "parquet"
    assert config.last_month == date(2025, 3, 1)
