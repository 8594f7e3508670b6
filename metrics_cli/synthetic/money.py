"""The yearly and census datasets: weighted population, practice payments, spend, workforce.

They are built after the practices, from each practice's registered population by month.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from metrics_cli.synthetic import config as c
from metrics_cli.synthetic.geography import Geography
from metrics_cli.synthetic.timeline import Timeline

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# The need weights average 1 over an England-like age-sex structure.
_ENGLAND = np.stack([c.AGE_SHARE * c.FEMALE_SHARE, c.AGE_SHARE * (1 - c.FEMALE_SHARE)])
NEED_WEIGHT = c.NEED_WEIGHT / float((c.NEED_WEIGHT * _ENGLAND).sum() / _ENGLAND.sum())


def weighted_patients(
    geography: Geography, populations: list[IntArray], timeline: Timeline
) -> FloatArray:
    """Need-weighted list size, by practice and financial year."""
    result = np.zeros((len(geography.practices), len(timeline.financial_years)))
    for practice, population in zip(geography.practices, populations, strict=True):
        factor = practice.need_factor * (1.0 + c.NEED_DEPRIVATION * (practice.deprivation - 0.5))
        for year in timeline.financial_years:
            mean = population[list(year.months)].mean(axis=0)
            result[practice.index, year.index] = float((mean * NEED_WEIGHT).sum()) * factor
    return result


def weighted_population_frame(
    geography: Geography, weighted: FloatArray, timeline: Timeline
) -> pl.DataFrame:
    """The `weighted_population` dataset."""
    rows = [
        (year.label, practice.code, round(float(weighted[practice.index, year.index]), 2))
        for year in timeline.financial_years
        for practice in geography.practices
    ]
    return pl.DataFrame(rows, schema=c.SCHEMAS["weighted_population"], orient="row")


def practice_payments_frame(
    geography: Geography,
    populations: list[IntArray],
    weighted: FloatArray,
    timeline: Timeline,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Payments by practice, financial year and category (categories with money only).

    Every payment but dispensing follows weighted patients; all but global sum, PCN and ARRS
    fall with practice deprivation (`PAYMENT_PER_WEIGHTED`): the inverse care law.
    """
    rows = []
    for year in timeline.financial_years:
        for practice, population in zip(geography.practices, populations, strict=True):
            registered = float(population[list(year.months)].sum(axis=(1, 2)).mean())
            growth = (1.0 + c.PAYMENT_GROWTH) ** year.index
            amounts = {
                "global_sum": weighted[practice.index, year.index]
                * c.GLOBAL_SUM_PER_WEIGHTED
                * growth
            }
            for category, (per_patient, gradient) in c.PAYMENT_PER_WEIGHTED.items():
                noise = rng.lognormal(0.0, 0.15 if category == "other" else 0.04)
                yearly = (
                    (1.0 + c.ARRS_PAYMENT_GROWTH) ** year.index if category == "arrs" else growth
                )
                amounts[category] = (
                    weighted[practice.index, year.index]
                    * per_patient
                    * (1 - gradient * practice.deprivation)
                    * noise
                    * yearly
                )
            if practice.dispensing:
                amounts["dispensing"] = registered * 45.0 * rng.uniform(0.8, 1.2)
            rows += [
                (year.label, practice.code, category, round(float(amounts[category]), 2))
                for category in c.PAYMENT_CATEGORIES
                if category in amounts
            ]
    return pl.DataFrame(rows, schema=c.SCHEMAS["practice_payments"], orient="row")


def spend_frame(
    geography: Geography,
    populations: list[IntArray],
    timeline: Timeline,
    config: c.ScaleConfig,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Spend by place, financial year and category (place rows only; no ICB rows).

    The shift place moves 1.5 percentage points of spend a year from acute to community.
    """
    rows = []
    for place_index, place in enumerate(geography.places):
        members = [p.index for p in geography.practices if p.place == place_index]
        scale = rng.uniform(0.97, 1.03)
        drift = (
            c.SHIFT_SPEND_PP_PER_YEAR
            if place_index == config.shift_place
            else c.SPEND_DRIFT_PP_PER_YEAR
        )
        for year in timeline.financial_years:
            people = sum(
                float(populations[i][list(year.months)].sum(axis=(1, 2)).mean()) for i in members
            )
            total = people * c.SPEND_PER_HEAD * (1.0 + c.SPEND_GROWTH) ** year.index * scale
            shares = dict(c.SPEND_SHARE)
            shares["community"] += drift * year.index
            shares["acute"] -= drift * year.index
            noise = rng.normal(1.0, 0.005, len(shares))
            rows += [
                (year.label, "place", place.code, category, round(total * share * float(wobble), 2))
                for (category, share), wobble in zip(shares.items(), noise, strict=True)
            ]
    return pl.DataFrame(rows, schema=c.SCHEMAS["spend"], orient="row")


def workforce_frame(
    geography: Geography, timeline: Timeline, rng: np.random.Generator
) -> pl.DataFrame:
    """Quarterly census: FTE and headcount by practice (or PCN for ARRS staff) and role.

    Practice staff are in post at 97% of censuses; ARRS staff build up from 60% of the last
    census's headcount at the first census.
    """
    staff = geography.staff
    people = staff.height
    arrs = staff["is_arrs_funded"].to_numpy()
    threshold = rng.random(people)
    fte_mean = staff["fte_mean"].to_numpy()
    practice = staff["practice"].fill_null(-1).to_numpy()
    pcn = staff["pcn"].fill_null(-1).to_numpy()
    censuses = timeline.censuses
    parts = []
    for position, (day, census) in enumerate(censuses):
        progress = position / max(1, len(censuses) - 1)
        arrs_share = c.ARRS_GROWTH_START + (1.0 - c.ARRS_GROWTH_START) * progress
        present = np.where(arrs, threshold < arrs_share, rng.random(people) < 0.97)
        fte = np.clip(fte_mean * rng.uniform(0.8, 1.2, people), 0.1, 1.0)
        month = int(timeline.day_month[day])
        pcn_now = np.array(
            [
                geography.practices[p].pcn_at(month) if p >= 0 else q
                for p, q in zip(practice, pcn, strict=True)
            ]
        )
        parts.append(
            pl.DataFrame(
                {
                    "census_date": census,
                    "practice_code": [
                        geography.practices[p].code if p >= 0 else None for p in practice
                    ],
                    "pcn_code": [geography.pcns[q].code for q in pcn_now],
                    "staff_group": staff["staff_group"],
                    "role": staff["role"],
                    "is_arrs_funded": staff["is_arrs_funded"],
                    "fte": fte,
                }
            ).filter(pl.Series(present))
        )
    keys = ["census_date", "practice_code", "pcn_code", "staff_group", "role", "is_arrs_funded"]
    return (
        pl.concat(parts)
        .group_by(keys, maintain_order=True)
        .agg(pl.col("fte").sum().round(2), pl.len().cast(pl.Int64).alias("headcount"))
        .sort(keys, nulls_last=True, maintain_order=True)
    )
