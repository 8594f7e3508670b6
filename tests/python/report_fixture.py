"""A small, realistic warehouse of marts for report tests: one ICB, 2 places, 3 neighbourhoods.

`build_report_warehouse(path)` writes a DuckDB file holding the marts the reports read
(disclosed_metric_values, disclosed_metric_spc, disclosed_inequality_gaps, maturity_levels,
maturity_criteria_results, data_quality), the exact marts beside them as a build leaves them
(metric_values, metric_spc, inequality_gaps: reports must never read these), the seeds
(metric_catalogue, spc_targets, spc_phases, maturity_domains, maturity_criteria), the
hierarchy tables (int_practice_geographies, int_geography_parents, int_quintile_populations)
and raw.build_info, with the spec's columns.

Six practices report 24 months (July 2023 to June 2025). Values are made from practice-level
counts summed up the hierarchy, with Wilson, Byar and t limits, so parents and children agree.
metric_spc and inequality_gaps come from the project's own `spc_frame` and
`inequality_frame`. The disclosed marts are made as the build makes them: the withheld rows
are the build's own decision (`disclosure_decisions`, default threshold) with their figures
null and the shown counts rounded; then the real `disclosed_metric_spc` and
`disclosed_inequality_gaps` dbt models run over them. Deliberate features for the tests:

- neighbourhood NB3 has few patients in IMD quintile 1, so its quintile-1 ACSC admissions
  (5) are a small count, and only 7 of its eligible patients are frail: neither may ever be
  printed;
- same-day share rises steadily in NB1 (special-cause improvement) and the DNA rate steps up
  in NB2 for the last eight months (special-cause concern);
- the workforce dataset is absent: no workforce metric has any row;
- spend metrics exist for places and the ICB only;
- NB2 self-assesses urgent access above what its metric evidence supports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from metrics_cli.build import run_dbt
from metrics_cli.disclosure import (
    CELL_KEY,
    DEFAULT_ROUNDING,
    HIDDEN_COLUMNS,
    KIND_COUNT_COLUMNS,
    MetricKind,
    disclosure_decisions,
    metric_kinds,
    round_to_base,
)
from metrics_cli.engines import DuckDBEngine
from metrics_cli.marts import (
    MATURITY_CRITERIA_RESULTS_COLUMNS,
    MATURITY_LEVELS_COLUMNS,
    METRIC_VALUES_COLUMNS,
)
from metrics_cli.python_stage import Compute, disclosed_inequality_step, disclosed_spc_step
from metrics_cli.sii import inequality_frame
from metrics_cli.spc import spc_frame

REPO = Path(__file__).resolve().parents[2]
JUDGEMENT_MARTS = (
    "geography_snapshots",
    "assessment_periods",
    "metric_judgements",
    "inequality_judgements",
)
CATALOGUE_CSV = REPO / "seeds" / "metric_catalogue.csv"
Z95 = 1.959964
Z998 = 3.090232
FIRST_MONTH = date(2023, 7, 1)
MONTHS = 24

ICB = ("QXX", "Example Integrated Care Board")
PLACES = {"PL1": "Riverside Place", "PL2": "Hilltop Place"}
NEIGHBOURHOODS = {
    "NB1": ("North Riverside", "PL1", "PCN1", "North Riverside PCN"),
    "NB2": ("South Riverside", "PL1", "PCN2", "South Riverside PCN"),
    "NB3": ("Hilltop", "PL2", "PCN3", "Hilltop PCN"),
}
PROVIDER = ("PRV1", "Riverside GP Federation")


@dataclass(frozen=True)
class Practice:
    code: str
    name: str
    neighbourhood: str
    list_size: int
    quintile_patients: tuple[int, int, int, int, int]


PRACTICES = (
    Practice("P001", "Riverside Surgery", "NB1", 8200, (3400, 2300, 1300, 800, 400)),
    Practice("P002", "Quayside Medical Centre", "NB1", 6100, (2900, 1500, 900, 500, 300)),
    Practice("P003", "Mill Lane Practice", "NB2", 7400, (1500, 1800, 1700, 1400, 1000)),
    Practice("P004", "Bridge Street Surgery", "NB2", 5600, (900, 1200, 1400, 1200, 900)),
    Practice("P005", "Hilltop Health Centre", "NB3", 9100, (150, 600, 1800, 3100, 3450)),
    Practice("P006", "Upper Vale Surgery", "NB3", 6800, (200, 1100, 1500, 2000, 2000)),
)


@dataclass
class Names:
    """Names that tests may replace, e.g. with text holding HTML and template syntax."""

    neighbourhoods: dict[str, str] = field(
        default_factory=lambda: {code: spec[0] for code, spec in NEIGHBOURHOODS.items()}
    )
    evidence: str = "Same-day hub rota agreed across both practices; minutes of 3 March."


def month_start(index: int) -> date:
    year, month = divmod(FIRST_MONTH.month - 1 + index, 12)
    return date(FIRST_MONTH.year + year, month + 1, 1)


def month_end(day: date) -> date:
    following = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def practice_geographies(practice: Practice) -> list[tuple[str, str]]:
    neighbourhood = NEIGHBOURHOODS[practice.neighbourhood]
    pairs = [
        ("practice", practice.code),
        ("pcn", neighbourhood[2]),
        ("neighbourhood", practice.neighbourhood),
        ("place", neighbourhood[1]),
        ("icb", ICB[0]),
        ("all", "all"),
    ]
    if practice.neighbourhood in ("NB1", "NB2"):
        pairs.append(("provider", PROVIDER[0]))
    return pairs


PARENT_TYPE = {
    "practice": "pcn",
    "pcn": "neighbourhood",
    "neighbourhood": "place",
    "place": "icb",
    "icb": "all",
    "provider": "icb",
}


# ---------------------------------------------------------------- statistics (fixture only)


def wilson(x: float, n: float, z: float) -> tuple[float, float]:
    p = x / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return centre - half, centre + half


def byar(x: float, z: float) -> tuple[float, float]:
    lower = 0.0 if x == 0 else x * (1 - 1 / (9 * x) - z / (3 * math.sqrt(x))) ** 3
    upper = (x + 1) * (1 - 1 / (9 * (x + 1)) + z / (3 * math.sqrt(x + 1))) ** 3
    return lower, upper


@dataclass(frozen=True)
class Count:
    """One practice-level row of counts before aggregation."""

    metric_id: str
    grain: str
    start: date
    end: date
    label: str
    practice: str
    breakdown_type: str
    breakdown_value: str
    numerator: float
    denominator: float
    unweighted: float


def _statistic(
    method: str, multiplier: float, numerator: float, denominator: float
) -> tuple[float | None, float | None, float | None, float | None, float | None, str | None]:
    """value, lower_95, upper_95, lower_998, upper_998, not_calculated_reason."""
    if denominator <= 0:
        return None, None, None, None, None, "no denominator"
    if method == "wilson":
        low, high = wilson(numerator, denominator, Z95)
        low998, high998 = wilson(numerator, denominator, Z998)
        m = multiplier
        return numerator / denominator * m, low * m, high * m, low998 * m, high998 * m, None
    if method in ("byars", "dsr_dobson"):
        if method == "dsr_dobson" and numerator < 10:
            return None, None, None, None, None, "fewer than 10 events"
        low, high = byar(numerator, Z95)
        low998, high998 = byar(numerator, Z998)
        m = multiplier / denominator
        return numerator * m, low * m, high * m, low998 * m, high998 * m, None
    if method == "t_mean":
        mean = numerator / denominator
        half = 1.96 * 0.25 / math.sqrt(denominator)
        return mean, mean - half, mean + half, mean - 1.6 * half, mean + 1.6 * half, None
    return numerator / denominator * multiplier, None, None, None, None, None


# ---------------------------------------------------------------- practice-level counts


def _monthly_counts(rng: np.random.Generator) -> list[Count]:
    counts: list[Count] = []
    for t in range(MONTHS):
        start = month_start(t)
        end = month_end(start)
        label = start.strftime("%Y-%m")
        for p in PRACTICES:
            season = 1 + 0.08 * math.cos(2 * math.pi * (start.month - 1) / 12)
            appointments = round(p.list_size * 0.42 * season)
            same_day_p = 0.40 + (0.0045 * t if p.neighbourhood == "NB1" else 0.0)
            dna_p = 0.045 + (0.02 if p.neighbourhood == "NB2" and t >= MONTHS - 8 else 0.0)
            shares = {
                "same_day_share": same_day_p,
                "within_two_weeks_share": 0.78,
                "dna_rate": dna_p,
                "face_to_face_share": 0.66,
                "gp_appointment_share": 0.48,
            }
            for metric_id, share in shares.items():
                denominator = appointments
                noisy = min(max(share + rng.normal(0, 0.006), 0.01), 0.99)
                numerator = round(noisy * denominator)
                counts.append(
                    Count(
                        metric_id,
                        "month",
                        start,
                        end,
                        label,
                        p.code,
                        "all",
                        "all",
                        numerator,
                        denominator,
                        denominator,
                    )
                )
            counts.append(
                Count(
                    "appointments_per_1000",
                    "month",
                    start,
                    end,
                    label,
                    p.code,
                    "all",
                    "all",
                    appointments,
                    p.list_size,
                    appointments,
                )
            )
            ae = int(rng.poisson(p.list_size * 0.024))
            counts.append(
                Count(
                    "ae_attendance_rate",
                    "month",
                    start,
                    end,
                    label,
                    p.code,
                    "all",
                    "all",
                    ae,
                    p.list_size,
                    ae,
                )
            )
            community = round(appointments * 0.55)
            hospital = ae + round(p.list_size * 0.06)
            counts.append(
                Count(
                    "community_contact_share",
                    "month",
                    start,
                    end,
                    label,
                    p.code,
                    "all",
                    "all",
                    appointments + community,
                    appointments + community + hospital,
                    appointments + community + hospital,
                )
            )
            encounters = round(p.list_size * 0.05)
            named = round(encounters * min(max(0.46 + rng.normal(0, 0.01), 0.0), 1.0))
            counts.append(
                Count(
                    "continuity_slicc",
                    "month",
                    start,
                    end,
                    label,
                    p.code,
                    "all",
                    "all",
                    named,
                    encounters,
                    encounters,
                )
            )
    return counts


def _periods() -> list[tuple[str, date, date, str]]:
    periods = [("financial_year", date(2024, 4, 1), date(2025, 3, 31), "2024/25")]
    for end_month in (
        date(2024, 6, 1),
        date(2024, 9, 1),
        date(2024, 12, 1),
        date(2025, 3, 1),
        date(2025, 6, 1),
    ):
        start = date(end_month.year - 1, end_month.month, 1)
        start = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        periods.append(
            ("rolling_12m", start, month_end(end_month), f"12m to {end_month.strftime('%Y-%m')}")
        )
    return periods


def _annual_counts(rng: np.random.Generator) -> list[Count]:
    counts: list[Count] = []
    cohorts = {"age_75_plus": 0.09, "multimorbid": 0.22, "frail": 0.05}
    for grain, start, end, label in _periods():
        drift = (end.toordinal() - date(2024, 6, 30).toordinal()) / 365.0
        for p in PRACTICES:
            groups: list[tuple[str, str, float, int]] = [("all", "all", 0.0, p.list_size)]
            for q, patients in enumerate(p.quintile_patients, start=1):
                groups.append(("imd_quintile", str(q), (3 - q) * 0.5, patients))
            groups.append(("core20", "core20", 1.0, p.quintile_patients[0]))
            groups.append(("core20", "rest", -0.1, p.list_size - p.quintile_patients[0]))
            for breakdown_type, value, deprivation, people in groups:
                eligible = round(people * 0.4)
                for metric_id, base in (("continuity_upc", 0.62), ("continuity_coc", 0.38)):
                    lift = 0.03 * drift if p.neighbourhood == "NB1" else 0.0
                    mean = base - 0.02 * deprivation + lift + rng.normal(0, 0.004)
                    counts.append(
                        Count(
                            metric_id,
                            grain,
                            start,
                            end,
                            label,
                            p.code,
                            breakdown_type,
                            value,
                            mean * eligible,
                            eligible,
                            eligible,
                        )
                    )
                encounters = round(people * 0.6)
                named = round(encounters * (0.47 - 0.02 * deprivation))
                counts.append(
                    Count(
                        "continuity_slicc",
                        grain,
                        start,
                        end,
                        label,
                        p.code,
                        breakdown_type,
                        value,
                        named,
                        encounters,
                        encounters,
                    )
                )
                if grain != "financial_year":
                    continue
                ae = round(people * 0.29 * (1 + 0.12 * deprivation))
                counts.append(
                    Count(
                        "ae_attendance_rate",
                        grain,
                        start,
                        end,
                        label,
                        p.code,
                        breakdown_type,
                        value,
                        ae,
                        people,
                        ae,
                    )
                )
                acsc = round(people * 0.011 * (1 + 0.2 * deprivation))
                counts.append(
                    Count(
                        "acsc_emergency_admission_dsr",
                        grain,
                        start,
                        end,
                        label,
                        p.code,
                        breakdown_type,
                        value,
                        acsc,
                        people,
                        acsc,
                    )
                )
            if grain == "rolling_12m":
                eligible = round(p.list_size * 0.4)
                for cohort, share in cohorts.items():
                    if cohort == "frail" and p.neighbourhood == "NB3":
                        share = 0.0012
                    patients = round(eligible * share)
                    for metric_id, base in (("continuity_upc", 0.68), ("continuity_coc", 0.45)):
                        counts.append(
                            Count(
                                metric_id,
                                grain,
                                start,
                                end,
                                label,
                                p.code,
                                "cohort",
                                cohort,
                                base * patients,
                                patients,
                                patients,
                            )
                        )
            if grain == "financial_year":
                encounters = round(p.list_size * 0.6)
                counts.append(
                    Count(
                        "continuity_own_patient_ratio",
                        grain,
                        start,
                        end,
                        label,
                        p.code,
                        "all",
                        "all",
                        round(encounters * 0.52),
                        encounters,
                        encounters,
                    )
                )
                payments = p.list_size * 168.0 * (1.05 if p.neighbourhood == "NB3" else 1.0)
                weighted = p.list_size * (1.08 if p.neighbourhood == "NB1" else 0.97)
                counts.append(
                    Count(
                        "payments_per_weighted_patient",
                        grain,
                        start,
                        end,
                        label,
                        p.code,
                        "all",
                        "all",
                        payments,
                        weighted,
                        p.list_size,
                    )
                )
    return counts


def _survey_counts(rng: np.random.Generator) -> list[Count]:
    counts: list[Count] = []
    for wave, shift in (("2023", 0.0), ("2024", -0.03)):
        start, end = date(int(wave), 1, 1), date(int(wave), 12, 31)
        for p in PRACTICES:
            for metric_id, base in (
                ("prem_overall_experience_positive", 0.74),
                ("prem_contact_ease_positive", 0.52),
            ):
                respondents = 130
                positive = round(respondents * (base + shift + rng.normal(0, 0.02)))
                counts.append(
                    Count(
                        metric_id,
                        "survey_wave",
                        start,
                        end,
                        wave,
                        p.code,
                        "all",
                        "all",
                        positive,
                        respondents,
                        respondents,
                    )
                )
    return counts


# ---------------------------------------------------------------- aggregation


def _aggregate(counts: list[Count], catalogue: pl.DataFrame) -> pl.DataFrame:
    """Sum practice counts to every geography, then compute each statistic."""
    practices = {p.code: p for p in PRACTICES}
    methods = {
        r["metric_id"]: (r["method"], float(r["multiplier"]), r["polarity"])
        for r in catalogue.iter_rows(named=True)
    }
    sums: dict[tuple[object, ...], list[float]] = {}
    for c in counts:
        for geo_type, geo_code in practice_geographies(practices[c.practice]):
            key = (
                c.metric_id,
                c.grain,
                c.start,
                c.end,
                c.label,
                geo_type,
                geo_code,
                c.breakdown_type,
                c.breakdown_value,
            )
            total = sums.setdefault(key, [0.0, 0.0, 0.0])
            total[0] += c.numerator
            total[1] += c.denominator
            total[2] += c.unweighted
    rows = []
    for key, (numerator, denominator, unweighted) in sums.items():
        metric_id = str(key[0])
        method, multiplier, _ = methods[metric_id]
        value, low, high, low998, high998, reason = _statistic(
            method, multiplier, numerator, denominator
        )
        row_method = method
        if method == "byars" and numerator < 10:
            row_method = "exact_poisson"
        rows.append(
            {
                "metric_id": metric_id,
                "period_grain": key[1],
                "period_start": key[2],
                "period_end": key[3],
                "period_label": key[4],
                "geography_type": key[5],
                "geography_code": key[6],
                "breakdown_type": key[7],
                "breakdown_value": key[8],
                "numerator": numerator,
                "denominator": denominator,
                "unweighted_count": unweighted,
                "value": value,
                "lower_95": low,
                "upper_95": high,
                "lower_998": low998,
                "upper_998": high998,
                "method": row_method,
                "not_calculated_reason": reason,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def _spend_rows() -> pl.DataFrame:
    rows = []
    start, end = date(2024, 4, 1), date(2025, 3, 31)
    spend = {"PL1": (182.0e6, 505.0e6), "PL2": (141.0e6, 402.0e6)}
    spend[ICB[0]] = (spend["PL1"][0] + spend["PL2"][0], spend["PL1"][1] + spend["PL2"][1])
    for code, (primary, total) in spend.items():
        geo_type = "icb" if code == ICB[0] else "place"
        base = {
            "metric_id": "primary_community_spend_share",
            "period_grain": "financial_year",
            "period_start": start,
            "period_end": end,
            "period_label": "2024/25",
            "geography_type": geo_type,
            "geography_code": code,
            "breakdown_type": "all",
            "breakdown_value": "all",
            "unweighted_count": None,
            "lower_95": None,
            "upper_95": None,
            "lower_998": None,
            "upper_998": None,
            "method": "none",
            "not_calculated_reason": None,
        }
        rows.append(
            base | {"numerator": primary, "denominator": total, "value": primary / total * 100}
        )
        rows.append(
            base
            | {
                "metric_id": "primary_community_spend_shift_pp",
                "numerator": None,
                "denominator": None,
                "value": 0.0,
            }
        )
        rows.append(
            base
            | {
                "metric_id": "funding_rebalancing_total",
                "numerator": None,
                "denominator": None,
                "value": 412000.0 if code != "PL2" else 0.0,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def _compare(frame: pl.DataFrame, catalogue: pl.DataFrame) -> pl.DataFrame:
    """comparison_to_parent: the parent's value outside / inside this row's 95% limits."""
    polarity = dict(zip(catalogue["metric_id"], catalogue["polarity"], strict=True))
    index = {
        (
            r["metric_id"],
            r["period_grain"],
            r["period_start"],
            r["geography_type"],
            r["geography_code"],
            r["breakdown_type"],
            r["breakdown_value"],
        ): r["value"]
        for r in frame.iter_rows(named=True)
    }
    parents: dict[tuple[str, str], tuple[str, str]] = {}
    for p in PRACTICES:
        pairs = dict(practice_geographies(p))
        for geo_type, parent_type in PARENT_TYPE.items():
            if geo_type in pairs and parent_type in pairs:
                parents[(geo_type, pairs[geo_type])] = (parent_type, pairs[parent_type])
    results = []
    for r in frame.iter_rows(named=True):
        parent = parents.get((r["geography_type"], r["geography_code"]))
        verdict = "not_compared"
        if parent is not None and r["lower_95"] is not None and r["value"] is not None:
            parent_value = index.get(
                (
                    r["metric_id"],
                    r["period_grain"],
                    r["period_start"],
                    *parent,
                    r["breakdown_type"],
                    r["breakdown_value"],
                )
            )
            if parent_value is not None:
                above = parent_value > r["upper_95"]
                below = parent_value < r["lower_95"]
                kind = polarity[r["metric_id"]]
                if not (above or below):
                    verdict = "similar"
                elif kind == "neutral":
                    verdict = "lower" if above else "higher"
                elif (kind == "higher_is_better") == above:
                    verdict = "worse"
                else:
                    verdict = "better"
        results.append(verdict)
    return frame.with_columns(pl.Series("comparison_to_parent", results))


def metric_values(catalogue: pl.DataFrame, seed: int = 7) -> pl.DataFrame:
    """The metric_values mart of the fixture ICB."""
    rng = np.random.default_rng(seed)
    counts = _monthly_counts(rng) + _annual_counts(rng) + _survey_counts(rng)
    aggregated = _aggregate(counts, catalogue)
    spend = _spend_rows().select(aggregated.columns)
    combined = pl.concat([aggregated, spend.cast(aggregated.schema)], how="vertical")
    return _compare(combined, catalogue).select(METRIC_VALUES_COLUMNS)


def quintile_populations() -> pl.DataFrame:
    practices = {p.code: p for p in PRACTICES}
    rows = []
    for grain, start, end, _ in _periods():
        for p in practices.values():
            for geo_type, geo_code in practice_geographies(p):
                for q, patients in enumerate(p.quintile_patients, start=1):
                    rows.append((grain, start, end, geo_type, geo_code, q, patients))
    frame = pl.DataFrame(
        rows,
        orient="row",
        schema=[
            "period_grain",
            "period_start",
            "period_end",
            "geography_type",
            "geography_code",
            "imd_quintile",
            "patients",
        ],
    )
    return frame.group_by(
        [
            "period_grain",
            "period_start",
            "period_end",
            "geography_type",
            "geography_code",
            "imd_quintile",
        ]
    ).agg(pl.col("patients").sum())


# ---------------------------------------------------------------- hierarchy, maturity, quality


def hierarchy(names: Names) -> tuple[pl.DataFrame, pl.DataFrame]:
    """int_practice_geographies and int_geography_parents for every month end."""
    geo_rows = []
    parent_rows = []
    for t in range(MONTHS):
        end = month_end(month_start(t))
        for p in PRACTICES:
            neighbourhood = NEIGHBOURHOODS[p.neighbourhood]
            geo_names = {
                "practice": p.name,
                "pcn": neighbourhood[3],
                "neighbourhood": names.neighbourhoods[p.neighbourhood],
                "place": PLACES[neighbourhood[1]],
                "icb": ICB[1],
                "provider": PROVIDER[1],
                "all": "All organisations loaded",
            }
            pairs = practice_geographies(p)
            for geo_type, geo_code in pairs:
                geo_rows.append((end, p.code, geo_type, geo_code, geo_names[geo_type]))
            lookup = dict(pairs)
            for geo_type, parent_type in PARENT_TYPE.items():
                if geo_type in lookup:
                    parent_rows.append(
                        (end, geo_type, lookup[geo_type], parent_type, lookup[parent_type])
                    )
    geographies = pl.DataFrame(
        geo_rows,
        orient="row",
        schema=[
            "period_end",
            "practice_code",
            "geography_type",
            "geography_code",
            "geography_name",
        ],
    )
    parents = pl.DataFrame(
        parent_rows,
        orient="row",
        schema=["period_end", "geography_type", "geography_code", "parent_type", "parent_code"],
    ).unique()
    return geographies, parents


DOMAINS = (
    ("leadership", "Leadership, governance and partnership"),
    ("population_health", "Population health management and data"),
    ("urgent_access", "Integrated same-day urgent access"),
    ("proactive_care", "Proactive, personalised care and continuity"),
    ("prevention_inequalities", "Prevention and health inequalities"),
    ("workforce", "Workforce and teams of teams"),
    ("infrastructure", "Estates and digital infrastructure"),
    ("communities", "Working with people and communities"),
    ("care_closer_to_home", "Resources and the shift to community"),
)
LEVEL_NAMES = {
    0: "Not yet at Foundation",
    1: "Foundation",
    2: "Developing",
    3: "Maturing",
    4: "Thriving",
}
# level achieved per neighbourhood and domain in the latest period; the earlier period is one
# lower in urgent_access for NB1 (so the level rose)
LEVELS = {
    "NB1": (3, 2, 3, 3, 2, 2, 2, 3, 2),
    "NB2": (2, 1, 1, 2, 1, 2, 1, 2, 1),
    "NB3": (1, 1, 2, 1, 0, 1, 1, 1, 1),
}


def maturity(names: Names) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """maturity_domains, maturity_criteria, maturity_levels, maturity_criteria_results."""
    domains = pl.DataFrame({"domain_id": [d for d, _ in DOMAINS], "title": [t for _, t in DOMAINS]})
    criteria_rows = []
    for domain_id, title in DOMAINS:
        for level in range(1, 5):
            criteria_rows.append(
                (
                    f"{domain_id}_l{level}_self",
                    domain_id,
                    level,
                    "self_assessed",
                    f"{title}: level {level} practice in place",
                )
            )
            criteria_rows.append(
                (
                    f"{domain_id}_l{level}_metric",
                    domain_id,
                    level,
                    "metric",
                    f"{title}: level {level} metric threshold met",
                )
            )
    criteria = pl.DataFrame(
        criteria_rows,
        orient="row",
        schema=["criterion_id", "domain_id", "level", "criterion_kind", "statement"],
    )
    level_rows = []
    result_rows = []
    for period in ("2024/25 Q4", "2025/26 Q1"):
        for code, levels in LEVELS.items():
            for (domain_id, _), achieved in zip(DOMAINS, levels, strict=True):
                if period == "2024/25 Q4" and code == "NB1" and domain_id == "urgent_access":
                    achieved -= 1
                self_level, evidenced = achieved, achieved
                if code == "NB2" and domain_id == "urgent_access":
                    self_level = 3
                has_discrepancy = self_level != evidenced
                gaps = (
                    None
                    if achieved == 4
                    else f"Meet every level {achieved + 1} criterion of {domain_id}"
                )
                level_rows.append(
                    (
                        code,
                        period,
                        domain_id,
                        achieved,
                        LEVEL_NAMES[achieved],
                        self_level,
                        evidenced,
                        has_discrepancy,
                        gaps,
                    )
                )
                for level in range(1, 5):
                    for kind in ("self_assessed", "metric"):
                        limit = self_level if kind == "self_assessed" else evidenced
                        met = level <= limit
                        evidence = (
                            names.evidence
                            if kind == "self_assessed"
                            else f"same_day_share {44.0 + level:.1f} against >= {40 + level}"
                        )
                        result_rows.append(
                            (
                                code,
                                period,
                                domain_id,
                                level,
                                f"{domain_id}_l{level}_{kind}",
                                kind,
                                "met"
                                if met
                                else ("partially_met" if level == limit + 1 else "not_met"),
                                evidence,
                                "same_day_share" if kind == "metric" else None,
                                44.0 + level if kind == "metric" else None,
                                f">= {40 + level}" if kind == "metric" else None,
                                met,
                            )
                        )
    levels = pl.DataFrame(
        level_rows,
        orient="row",
        schema=list(MATURITY_LEVELS_COLUMNS),
    )
    results = pl.DataFrame(
        result_rows,
        orient="row",
        schema=list(MATURITY_CRITERIA_RESULTS_COLUMNS),
    )
    return domains, criteria, levels, results


def data_quality() -> pl.DataFrame:
    checked = datetime(2025, 7, 14, 9, 30)
    rows = [
        (
            "gp_appointments",
            "practice_month_missing",
            "warning",
            "P004",
            date(2024, 2, 1),
            1,
            "P004 has no GPAD rows for 2024-02; left out of numerator and denominator",
        ),
        (
            "hospital_activity",
            "invalid_age_band",
            "error",
            "P005",
            None,
            12,
            "age_band '85+' is not an ESP2013 band",
        ),
        (
            "hospital_activity",
            "rows_loaded",
            "info",
            None,
            None,
            51234,
            "rows loaded from hospital_activity.csv",
        ),
        (
            "gp_appointments",
            "rows_loaded",
            "info",
            None,
            None,
            80412,
            "rows loaded from gp_appointments.csv",
        ),
        (
            "prem_responses",
            "unknown_question",
            "warning",
            "P001",
            None,
            3,
            "question_id 'waiting_room' is not in the catalogue",
        ),
    ]
    return pl.DataFrame(
        [(*r, checked) for r in rows],
        orient="row",
        schema=[
            "dataset",
            "check_name",
            "severity",
            "practice_code",
            "period_start",
            "rows_affected",
            "detail",
            "checked_at",
        ],
    )


def catalogue() -> pl.DataFrame:
    return pl.read_csv(CATALOGUE_CSV)


# ---------------------------------------------------------------- the disclosed marts


def disclosed_metric_values(
    values: pl.DataFrame, seed_catalogue: pl.DataFrame, geographies: pl.DataFrame
) -> pl.DataFrame:
    """disclosed_metric_values as the build writes it with the default vars, but for the
    values: the rows `disclosure_decisions` withholds have every hidden figure null; counts of
    people or events are rounded half up to 5 and a mean's sum is not shown; `is_suppressed`
    and `suppression_rule` (which stays in the warehouse) are added. Values and limits are
    left as made (the dbt mart computes them again from the rounded counts)."""
    decided = disclosure_decisions(values, seed_catalogue, geographies)
    hidden = pl.col("is_suppressed")
    kind = pl.col("_kind")
    rounded = [
        pl.when(
            kind.is_in([str(k) for k, counted in KIND_COUNT_COLUMNS.items() if column in counted])
        )
        .then(round_to_base(column, DEFAULT_ROUNDING))
        .otherwise(pl.col(column))
        .alias(column)
        for column in ("numerator", "denominator", "unweighted_count")
    ]
    return (
        values.join(decided, on=list(CELL_KEY), how="left")
        .join(metric_kinds(seed_catalogue).rename({"kind": "_kind"}), on="metric_id", how="left")
        .with_columns(rounded)
        .with_columns(
            pl.when(kind == str(MetricKind.MEAN))
            .then(None)
            .otherwise(pl.col("numerator"))
            .alias("numerator")
        )
        .with_columns(
            pl.when(hidden).then(None).otherwise(pl.col(column)).alias(column)
            for column in HIDDEN_COLUMNS
        )
        .select(*values.columns, "is_suppressed", "suppression_rule")
    )


def run_step(
    con: duckdb.DuckDBPyConnection, name: str, step: Compute, dbt_vars: dict[str, object]
) -> None:
    """Run the build's Python-stage step `step` (metrics_cli/python_stage.py) over the
    fixture's tables and store its table as `name`."""
    result = step(DuckDBEngine(con), dbt_vars)
    con.register("incoming", result.to_arrow())
    con.execute(f"create table {name} as select * from incoming")
    con.unregister("incoming")


def build_report_warehouse(path: Path, names: Names | None = None) -> Path:
    """Write the fixture warehouse to `path` (a new DuckDB file) and return the path."""
    names = names or Names()
    seed_catalogue = catalogue()
    values = metric_values(seed_catalogue)
    targets = pl.DataFrame(
        {
            "metric_id": ["same_day_share"],
            "geography_type": ["neighbourhood"],
            "geography_code": ["NB1"],
            "target": [45.0],
        }
    )
    spc = spc_frame(values, seed_catalogue, targets, screen=True)
    gaps = inequality_frame(
        values, seed_catalogue, quintile_populations(), repetitions=1000, seed=20220526
    )
    geographies, parents = hierarchy(names)
    domains, criteria, levels, results = maturity(names)
    tables = {
        "metric_catalogue": seed_catalogue,
        "spc_targets": targets,
        "spc_phases": pl.DataFrame(
            schema={
                "metric_id": pl.String,
                "geography_type": pl.String,
                "geography_code": pl.String,
                "recalculate_from": pl.Date,
                "baseline_points": pl.Int32,
            }
        ),
        "metric_values": values,
        "disclosed_metric_values": disclosed_metric_values(values, seed_catalogue, geographies),
        "metric_spc": spc,
        "inequality_gaps": gaps,
        "int_quintile_populations": quintile_populations(),
        "int_practice_geographies": geographies,
        "int_geography_parents": parents,
        "maturity_domains": domains,
        "maturity_criteria": criteria,
        "maturity_levels": levels,
        # the returns' assessment periods, which the assessment_periods mart dates
        "stg_maturity_assessments": levels.select("assessment_period").unique(),
        "maturity_criteria_results": results,
        "data_quality": data_quality(),
    }
    con = duckdb.connect(str(path))
    try:
        for name, frame in tables.items():
            con.register("incoming", frame.to_arrow())
            con.execute(f"create table {name} as select * from incoming")
            con.unregister("incoming")
        # the build's vars as `nbhd build` records them (none given: the defaults)
        con.execute("create schema raw")
        con.execute("create table raw.build_info (key varchar, value varchar)")
        con.execute("insert into raw.build_info values ('vars', '{}')")
        run_step(con, "disclosed_metric_spc", disclosed_spc_step, {"spc_screen_outliers": "true"})
        run_step(
            con,
            "disclosed_inequality_gaps",
            disclosed_inequality_step,
            {
                "sii_repetitions": 1000,
                "sii_seed": 20220526,
                "disclosure_rounding": DEFAULT_ROUNDING,
            },
        )
    finally:
        con.close()
    # the judgement marts and the hierarchy snapshot, by the project's own dbt models
    failures = run_dbt(
        ["run", "--select", *JUDGEMENT_MARTS], path, {}, path.parent / f"{path.stem}-dbt"
    )
    assert not failures, failures
    return path
