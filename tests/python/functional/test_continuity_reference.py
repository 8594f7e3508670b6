"""The continuity family built by dbt on the tiny synthetic ICB equals a plain Python
recomputation from the raw encounters and patients: every practice-level count of
int_continuity_metric_counts and every row of int_frequent_attender_concentration."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.slow

MIN_ENCOUNTERS = 2
COHORT_BANDS = {"75-79", "80-84", "85-89", "90+"}

Key = tuple[str, str, date, str, str, str]  # metric, grain, start, practice, type, value
Sums = list[float]  # numerator, denominator, unweighted count, sum of squares


@dataclass(frozen=True)
class Period:
    grain: str
    start: date
    end: date


@dataclass(frozen=True)
class Patient:
    practice_code: str
    usual_gp_id: str | None
    imd_quintile: int | None
    sex: str | None
    age_band: str | None
    ltc_count: int | None
    frailty: str | None

    def breakdowns(self) -> list[tuple[str, str]]:
        rows = [("all", "all")]
        if self.imd_quintile is not None:
            rows.append(("imd_quintile", str(self.imd_quintile)))
            rows.append(("core20", "core20" if self.imd_quintile == 1 else "rest"))
        if self.age_band is not None:
            rows.append(("age_band", self.age_band))
        if self.sex is not None:
            rows.append(("sex", self.sex))
        if self.age_band in COHORT_BANDS:
            rows.append(("cohort", "age_75_plus"))
        if (self.ltc_count or 0) >= 2:
            rows.append(("cohort", "multimorbid"))
        if self.frailty in ("moderate", "severe"):
            rows.append(("cohort", "frail"))
        return rows


def _rows(warehouse: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _periods(first: date, last: date) -> Iterator[Period]:
    """Months, financial years and rolling 12 months wholly inside first..last."""
    month = first
    while month <= last:
        end = _add_months(month, 1) - timedelta(days=1)
        yield Period("month", month, end)
        if month.month == 4 and _add_months(month, 11) <= last:
            yield Period("financial_year", month, _add_months(month, 12) - timedelta(days=1))
        if month.month in (3, 6, 9, 12) and _add_months(month, -11) >= first:
            yield Period("rolling_12m", _add_months(month, -11), end)
        month = _add_months(month, 1)


def _patients(warehouse: Path) -> dict[str, Patient]:
    deciles = dict(_rows(warehouse, "select lsoa_code, imd_decile from raw.lsoa_deprivation"))
    patients = {}
    for row in _rows(
        warehouse,
        "select patient_id, practice_code, lsoa_code, usual_gp_id, sex, age_band, ltc_count, "
        "frailty from raw.patients",
    ):
        patient_id, practice, lsoa, usual_gp, sex, age_band, ltc_count, frailty = row
        decile = deciles.get(lsoa)
        quintile = None if decile is None else math.ceil(decile / 2)
        patients[patient_id] = Patient(
            practice, usual_gp, quintile, sex, age_band, ltc_count, frailty
        )
    return patients


def _expected_counts(warehouse: Path) -> dict[Key, Sums]:
    encounters = _rows(
        warehouse,
        "select practice_code, patient_id, encounter_date, encounter_id, clinician_id, "
        "clinician_role from raw.gp_encounters",
    )
    months = [date(day.year, day.month, 1) for _, _, day, _, _, _ in encounters]
    gp = sorted(
        (row for row in encounters if row[5] == "GP"),
        key=lambda row: (row[0], row[1], row[2], row[3]),
    )
    patients = _patients(warehouse)
    list_holders = {(p.practice_code, p.usual_gp_id) for p in patients.values() if p.usual_gp_id}
    expected: dict[Key, Sums] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])

    def add(metric: str, period: Period, practice: str, patient_id: str, values: Sums) -> None:
        patient = patients.get(patient_id)
        breakdowns = patient.breakdowns() if patient else [("all", "all")]
        for breakdown_type, breakdown_value in breakdowns:
            key = (metric, period.grain, period.start, practice, breakdown_type, breakdown_value)
            for i, value in enumerate(values):
                expected[key][i] += value

    for period in _periods(min(months), max(months)):
        sequences: dict[tuple[str, str], list[str]] = defaultdict(list)
        for practice, patient_id, day, _, clinician, _ in gp:
            if period.start <= day <= period.end:
                sequences[(practice, patient_id)].append(clinician)
        for (practice, patient_id), sequence in sequences.items():
            n = len(sequence)
            if period.grain != "month" and n >= MIN_ENCOUNTERS:
                counts = Counter(sequence)
                same = sum(a == b for a, b in pairwise(sequence))
                indices = {
                    "upc": max(counts.values()) / n,
                    "coc": (sum(c * c for c in counts.values()) - n) / (n * (n - 1)),
                    "secon": same / (n - 1),
                    "mmci": (1 - len(counts) / (n + 0.1)) / (1 - 1 / (n + 0.1)),
                }
                for name, value in indices.items():
                    add(f"continuity_{name}", period, practice, patient_id, [value, 1, 1, value**2])
            patient = patients.get(patient_id)
            usual_gp = patient.usual_gp_id if patient else None
            for clinician in sequence:
                if usual_gp and period.grain in ("month", "financial_year"):
                    own = float(clinician == usual_gp)
                    add("continuity_slicc", period, practice, patient_id, [own, 1, 1, 0])
                if (practice, clinician) in list_holders and period.grain == "financial_year":
                    own = float(clinician == usual_gp)
                    metric = "continuity_own_patient_ratio"
                    add(metric, period, practice, patient_id, [own, 1, 1, 0])
    return expected


def test_continuity_counts_match_a_python_recomputation(tiny_warehouse: Path) -> None:
    expected = _expected_counts(tiny_warehouse)
    rows = _rows(
        tiny_warehouse,
        "select metric_id, period_grain, period_start, practice_code, breakdown_type, "
        "breakdown_value, numerator, denominator, unweighted_count, sum_sq "
        "from int_continuity_metric_counts",
    )
    built = {row[:6]: row[6:] for row in rows}
    assert len(expected) > 1000
    assert built.keys() == expected.keys()
    for key, sums in expected.items():
        numerator, denominator, count, sum_sq = built[key]
        assert numerator == pytest.approx(sums[0], abs=1e-9), key
        assert denominator == sums[1], key
        assert count == sums[2], key
        if key[0] in ("continuity_slicc", "continuity_own_patient_ratio"):
            assert sum_sq is None, key
        else:
            assert sum_sq == pytest.approx(sums[3], abs=1e-9), key


def test_frequent_attender_concentration_matches_a_python_recomputation(
    tiny_warehouse: Path,
) -> None:
    encounters = _rows(
        tiny_warehouse,
        "select practice_code, patient_id, encounter_date, clinician_role from raw.gp_encounters",
    )
    months = [date(day.year, day.month, 1) for _, _, day, _ in encounters]
    geographies: dict[tuple[date, str], list[tuple[str, str]]] = defaultdict(list)
    for period_end, practice, geography_type, geography_code in _rows(
        tiny_warehouse,
        "select period_end, practice_code, geography_type, geography_code "
        "from int_practice_geographies",
    ):
        geographies[(period_end, practice)].append((geography_type, geography_code))
    expected = {}
    for period in _periods(min(months), max(months)):
        if period.grain != "financial_year":
            continue
        counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        for practice, patient_id, day, role in encounters:
            if role == "GP" and period.start <= day <= period.end:
                for geography in geographies[(period.end, practice)]:
                    counts[geography][patient_id] += 1
        for (geography_type, geography_code), by_patient in counts.items():
            top = sorted(by_patient.items(), key=lambda item: (-item[1], item[0]))
            k = -(-len(by_patient) // 20)
            expected[(period.start, geography_type, geography_code)] = (
                float(sum(count for _, count in top[:k])),
                float(sum(by_patient.values())),
                float(len(by_patient)),
            )
    built = {
        (start, geography_type, geography_code): (numerator, denominator, count)
        for start, geography_type, geography_code, numerator, denominator, count in _rows(
            tiny_warehouse,
            "select period_start, geography_type, geography_code, numerator, denominator, "
            "unweighted_count from int_frequent_attender_concentration",
        )
    }
    assert len(expected) >= 10
    assert built == expected
