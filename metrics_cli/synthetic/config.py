"""The three scales, the dataset columns, and every rate and planted effect, in one place.

Effect sizes are named constants so that `docs/synthetic-data.md` and the tests can point
at them. Rates are per person per year unless the name says otherwise; arrays indexed by
age band follow `AGE_BANDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]
FileFormat = Literal["csv", "parquet"]

# ---------------------------------------------------------------- vocabularies (inputs.md)
AGE_BANDS: tuple[str, ...] = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
    "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
)  # fmt: skip
SEXES: tuple[str, ...] = ("F", "M")
FRAILTY: tuple[str, ...] = ("fit", "mild", "moderate", "severe")
CLINICIAN_ROLES: tuple[str, ...] = (
    "GP", "Nurse", "Pharmacist", "Paramedic", "Physiotherapist", "Mental health practitioner",
    "Other",
)  # fmt: skip
APPT_MODES: tuple[str, ...] = (
    "Face-to-Face", "Home Visit", "Telephone", "Video Conference/Online", "Unknown",
)  # fmt: skip
HCP_TYPES: tuple[str, ...] = ("GP", "Other Practice staff", "Unknown")
APPT_STATUSES: tuple[str, ...] = ("Attended", "DNA", "Unknown")
BOOKING_INTERVALS: tuple[str, ...] = (
    "Same Day", "1 Day", "2 to 7 Days", "8  to 14 Days", "15  to 21 Days", "22  to 28 Days",
    "More than 28 Days", "Unknown / Data Quality",
)  # fmt: skip
ACTIVITY_TYPES: tuple[str, ...] = (
    "ae_type1", "ae_other", "emergency_admission", "elective_admission", "outpatient_first",
    "outpatient_followup",
)  # fmt: skip
ACSC_CATEGORIES: tuple[str, ...] = ("none", "chronic", "acute", "vaccine_preventable")
COMMUNITY_SERVICES: tuple[str, ...] = (
    "district_nursing", "urgent_community_response", "virtual_ward", "community_mental_health",
    "community_pharmacy", "social_prescribing", "other_community",
)  # fmt: skip
PREM_QUESTIONS: tuple[str, ...] = (
    "overall_experience", "contact_ease", "phone_ease", "preferred_clinician", "needs_met",
)  # fmt: skip
PREM_RESPONSES: tuple[str, ...] = (
    "very_good", "fairly_good", "neither", "fairly_poor", "very_poor", "dont_know",
)  # fmt: skip
SPEND_CATEGORIES: tuple[str, ...] = (
    "acute", "community", "mental_health", "primary_care_gp", "primary_care_prescribing",
    "primary_care_pharmacy", "primary_care_dental", "primary_care_ophthalmic",
    "continuing_care", "other",
)  # fmt: skip
PAYMENT_CATEGORIES: tuple[str, ...] = (
    "global_sum", "qof", "enhanced_services", "pcn", "arrs", "premises", "dispensing", "other",
)  # fmt: skip
UNKNOWN_LSOA = "UNKNOWN"

# ---------------------------------------------------------------- dataset columns and types
GPAD_COLUMNS: tuple[str, ...] = (
    "APPOINTMENT_MONTH_START_DATE", "GP_CODE", "GP_NAME", "SUPPLIER", "PCN_CODE", "PCN_NAME",
    "SUB_ICB_LOCATION_CODE", "SUB_ICB_LOCATION_NAME", "ICB_CODE", "ICB_NAME", "REGION_CODE",
    "REGION_NAME", "HCP_TYPE", "APPT_MODE", "NATIONAL_CATEGORY", "TIME_BETWEEN_BOOK_AND_APPT",
    "APPT_STATUS", "COUNT_OF_APPOINTMENTS",
)  # fmt: skip
_S, _D, _I, _F, _B = pl.String(), pl.Date(), pl.Int64(), pl.Float64(), pl.Boolean()
Schema = dict[str, pl.DataType]
SCHEMAS: dict[str, Schema] = {
    "organisations": {
        "practice_code": _S, "practice_name": _S, "pcn_code": _S, "pcn_name": _S,
        "neighbourhood_code": _S, "neighbourhood_name": _S, "place_code": _S, "place_name": _S,
        "icb_code": _S, "icb_name": _S, "provider_code": _S, "provider_name": _S,
        "valid_from": _D, "valid_to": _D,
    },
    "lsoa_deprivation": {"lsoa_code": _S, "imd_decile": _I, "imd_rank": _I},
    "registered_population": {
        "extract_date": _D, "practice_code": _S, "lsoa_code": _S, "sex": _S, "age_band": _S,
        "patients": _I,
    },
    "weighted_population": {"financial_year": _S, "practice_code": _S, "weighted_patients": _F},
    "patients": {
        "patient_id": _S, "practice_code": _S, "lsoa_code": _S, "sex": _S, "age_band": _S,
        "usual_gp_id": _S, "ltc_count": _I, "frailty": _S, "registered_from": _D,
        "registered_to": _D,
    },
    "gp_encounters": {
        "encounter_id": _S, "encounter_date": _D, "practice_code": _S, "patient_id": _S,
        "clinician_id": _S, "clinician_role": _S, "appt_mode": _S,
    },
    "gp_appointments": {
        column: (_I if column == "COUNT_OF_APPOINTMENTS" else _S) for column in GPAD_COLUMNS
    },
    "hospital_activity": {
        "month": _D, "practice_code": _S, "lsoa_code": _S, "sex": _S, "age_band": _S,
        "activity_type": _S, "acsc_category": _S, "events": _I, "bed_days": _I, "cost_gbp": _F,
    },
    "community_activity": {
        "month": _D, "practice_code": _S, "service": _S, "contacts": _I, "patients": _I,
    },
    "prem_responses": {
        "survey_wave": _S, "practice_code": _S, "respondent_id": _S, "lsoa_code": _S, "sex": _S,
        "age_band": _S, "weight": _F, "question_id": _S, "response": _S,
    },
    "spend": {
        "financial_year": _S, "org_type": _S, "org_code": _S, "spend_category": _S,
        "amount_gbp": _F,
    },
    "practice_payments": {
        "financial_year": _S, "practice_code": _S, "payment_category": _S, "amount_gbp": _F,
    },
    "workforce": {
        "census_date": _D, "practice_code": _S, "pcn_code": _S, "staff_group": _S, "role": _S,
        "is_arrs_funded": _B, "fte": _F, "headcount": _I,
    },
}  # fmt: skip
# Datasets written practice by practice (streamed), as opposed to built whole at the end.
STREAMED: tuple[str, ...] = (
    "registered_population", "patients", "gp_encounters", "gp_appointments",
    "hospital_activity", "community_activity", "prem_responses",
)  # fmt: skip


# ---------------------------------------------------------------- scales
@dataclass(frozen=True)
class ScaleConfig:
    """The shape of one synthetic country or ICB. Indices count from 0 in build order."""

    name: str
    first_month: date  # the first day of the first month; series run to a March
    months: int
    icbs: int
    practices: int
    patients: int  # registered at the first day of the series
    practices_per_pcn: float
    pcns_per_neighbourhood: float
    neighbourhoods_per_place: float
    list_sizes: tuple[int, ...] = ()  # fixed list sizes (else drawn)
    imd_centres: tuple[float, ...] = ()  # fixed practice IMD percentile centres (else drawn)
    hub_neighbourhood: int = 0  # the neighbourhood that opens a same-day hub
    hub_month: int = 12  # month index (0-based) from which the hub runs
    shift_place: int = 0  # the place shifting spend and activity to community
    mover_month: int | None = None  # month index a practice moves PCN; None = no move
    batch_practices: int = 40  # practices generated before each write
    parquet: frozenset[str] = field(default_factory=frozenset)  # datasets written as Parquet

    @property
    def month_starts(self) -> list[date]:
        """The first day of every month of the series."""
        first = self.first_month.year * 12 + self.first_month.month - 1
        return [date((first + m) // 12, (first + m) % 12 + 1, 1) for m in range(self.months)]

    @property
    def last_month(self) -> date:
        """The first day of the last month of the series."""
        return self.month_starts[-1]

    def file_format(self, dataset: str) -> FileFormat:
        """CSV or Parquet for `dataset` at this scale."""
        return "parquet" if dataset in self.parquet else "csv"


_PATIENT_LEVEL = frozenset(
    {"gp_encounters", "patients", "registered_population", "hospital_activity", "prem_responses"}
)

SCALES: dict[str, ScaleConfig] = {
    "tiny": ScaleConfig(
        name="tiny",
        first_month=date(2023, 4, 1),
        months=24,
        icbs=1,
        practices=3,
        patients=15_000,
        practices_per_pcn=3,
        pcns_per_neighbourhood=1,
        neighbourhoods_per_place=1,
        list_sizes=(5_200, 4_800, 5_000),
        imd_centres=(0.08, 0.50, 0.90),
        hub_neighbourhood=0,
        hub_month=12,
        shift_place=0,
        batch_practices=3,
    ),
    "icb": ScaleConfig(
        name="icb",
        first_month=date(2022, 4, 1),
        months=36,
        icbs=1,
        practices=120,
        patients=1_100_000,
        practices_per_pcn=4.8,
        pcns_per_neighbourhood=25 / 11,
        neighbourhoods_per_place=11 / 4,
        hub_neighbourhood=3,
        hub_month=18,
        shift_place=0,
        mover_month=21,
        batch_practices=30,
        parquet=_PATIENT_LEVEL,
    ),
    "national": ScaleConfig(
        name="national",
        first_month=date(2024, 4, 1),
        months=12,
        icbs=42,
        practices=6_200,
        patients=62_000_000,
        practices_per_pcn=4.8,
        pcns_per_neighbourhood=2.0,
        neighbourhoods_per_place=3.0,
        hub_neighbourhood=0,
        hub_month=6,
        shift_place=0,
        mover_month=6,
        batch_practices=50,
        parquet=_PATIENT_LEVEL | {"gp_appointments", "community_activity"},
    ),
}


def _by_band(values: list[float]) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    assert array.shape == (len(AGE_BANDS),)
    return array


# ---------------------------------------------------------------- population
# England-like registered age structure (% of list), before each practice's age tilt.
AGE_SHARE = _by_band(
    [5.2, 5.9, 6.1, 5.7, 6.1, 7.0, 7.4, 7.1, 6.6, 6.3, 6.7, 6.6, 5.8, 4.9, 4.7, 3.8, 2.4, 1.4, 0.8]
)
FEMALE_SHARE = _by_band(
    [0.49, 0.49, 0.49, 0.49, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.51, 0.52, 0.53, 0.55,
     0.57, 0.62, 0.7]
)  # fmt: skip
# New registrations are younger: 0-4s (births) and 20-39s (movers) are more common.
JOINER_AGE_BOOST = _by_band(
    [1.5, 1.0, 0.8, 0.9, 1.8, 1.8, 1.8, 1.6, 1.0, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5, 0.6, 0.7,
     0.8]
)  # fmt: skip
AGE_TILT_PER_AFFLUENCE = 0.6  # older lists in affluent practices: tilt = 0.6 x (centre - 0.5)
JOIN_RATE = 0.07  # new registrations per listed patient per year
LEAVE_RATE = 0.06  # deregistrations per patient per year
UNKNOWN_LSOA_SHARE = 0.004
PEOPLE_PER_LSOA = 1_500

# Long-term conditions: Poisson, mean 0.12 exp(0.042 age), x (1 + 0.45 deprivation).
LTC_BASE = 0.12
LTC_PER_YEAR_OF_AGE = 0.042
LTC_DEPRIVATION = 0.45
# Electronic frailty index: 0.035 per LTC + 0.003 per year over 50 + 0.03 deprivation + noise.
EFI_PER_LTC = 0.035
EFI_PER_YEAR_OVER_50 = 0.003
EFI_DEPRIVATION = 0.03
EFI_NOISE = 0.03
EFI_CUTS = (0.12, 0.24, 0.36)  # fit / mild / moderate / severe

# Usual (named) GP: null for 10% of patients, 30% of new registrations, 15% of children.
USUAL_GP_NULL = 0.10
USUAL_GP_NULL_JOINER = 0.20
USUAL_GP_NULL_CHILD = 0.05
PATIENTS_PER_GP = 1_400
LIST_HOLDER_SHARE = 0.7

# ---------------------------------------------------------------- GP encounters
ENCOUNTER_SCALE = 0.74  # calibrates the all-practice mean to about 5 encounters a year
ENCOUNTER_AGE = _by_band(
    [5.0, 2.6, 2.4, 3.0, 3.6, 3.8, 3.9, 4.0, 4.1, 4.4, 4.6, 4.9, 5.3, 5.8, 6.4, 7.0, 7.6, 8.0,
     8.2]
)  # fmt: skip
ENCOUNTER_PER_LTC = 0.12
ENCOUNTER_FRAILTY = np.array([1.0, 1.25, 1.5, 1.8])
ENCOUNTER_DEPRIVATION = 0.25  # x (1 + 0.25 deprivation)
ENCOUNTER_DISPERSION = 1.3  # gamma shape of each patient's propensity (frequent attenders)
GP_SHARE = 0.47  # share of encounters with a GP; + 0.08 at 65 and over
GP_SHARE_65_PLUS = 0.08
# Roles of the other encounters: Nurse, Pharmacist, Paramedic, Physio, MH practitioner, Other.
OTHER_ROLE_SHARE = np.array([0.50, 0.14, 0.07, 0.07, 0.05, 0.17])
# Appointment modes (APPT_MODES order) for GPs and for other staff.
GP_MODE_SHARE = np.array([0.62, 0.01, 0.32, 0.03, 0.02])
OTHER_MODE_SHARE = np.array([0.80, 0.01, 0.15, 0.02, 0.02])
PARAMEDIC_MODE_SHARE = np.array([0.45, 0.45, 0.08, 0.0, 0.02])
SEVERE_FRAILTY_HOME_VISITS = 0.10  # share of GP encounters of severely frail patients at home

# Continuity: chance a GP encounter is with the patient's usual GP, by IMD quintile 1..5
# (patients with an UNKNOWN LSOA use quintile 3), at the series start.
CONTINUITY_BY_QUINTILE = np.array([0.42, 0.47, 0.52, 0.57, 0.62])
CONTINUITY_DRIFT_PER_YEAR = 0.03  # every year the chance falls by 3 percentage points
CONTINUITY_75_PLUS = 0.05
CONTINUITY_FRAIL = 0.03  # moderate or severe frailty
CONTINUITY_PRACTICE_SD = 0.02
CONTINUITY_WITHOUT_USUAL_GP = 0.5  # patients without one stick to a favourite half as often

# Seasonality: a cosine with its peak in January: 1 + amplitude x cos(2 pi (month - 1) / 12).
SEASON_GP = 0.08
SEASON_AE = 0.08
SEASON_EMERGENCY = 0.12
SEASON_COMMUNITY = 0.05
WEEKDAY_WEIGHT = np.array([1.15, 1.0, 1.0, 1.0, 0.95, 0.05, 0.01])  # Monday .. Sunday

# ---------------------------------------------------------------- GPAD
APPOINTMENTS_PER_ENCOUNTER = 1.16  # GPAD counts DNAs and appointments with no coded encounter
SAME_DAY_HUB_UPLIFT = 0.15  # Same Day share of known intervals, hub neighbourhood, from hub month
DNA_RATE = 0.035  # + 0.03 x practice deprivation
DNA_RATE_DEPRIVATION = 0.03
GPAD_UNKNOWN_HCP = 0.03  # in the mapping-problem categories only
GPAD_UNKNOWN_STATUS = 0.04

# ---------------------------------------------------------------- hospital activity
# Annual rates by age band.
# Calibrated so the ICB rates sit near England's: about 400 A&E attendances, 100 emergency
# admissions and 15-20 ACSC emergency admissions per 1,000 patients a year.
AE_TYPE1_AGE = 0.48 * _by_band(
    [0.45, 0.22, 0.2, 0.3, 0.35, 0.3, 0.28, 0.25, 0.24, 0.23, 0.24, 0.25, 0.26, 0.28, 0.32,
     0.4, 0.5, 0.62, 0.75]
)  # fmt: skip
AE_OTHER_SHARE = 0.45  # ae_other = 0.45 x the type 1 curve (0.3 x at 65 and over)
AE_OTHER_SHARE_65_PLUS = 0.3
EMERGENCY_AGE = 0.37 * _by_band(
    [0.08, 0.03, 0.03, 0.05, 0.06, 0.06, 0.06, 0.06, 0.06, 0.07, 0.08, 0.09, 0.11, 0.13, 0.16,
     0.22, 0.3, 0.4, 0.5]
)  # fmt: skip
ELECTIVE_AGE = _by_band(
    [0.02, 0.03, 0.03, 0.04, 0.05, 0.07, 0.08, 0.09, 0.1, 0.12, 0.15, 0.18, 0.22, 0.27, 0.32,
     0.35, 0.33, 0.28, 0.2]
)  # fmt: skip
OUTPATIENT_FIRST_AGE = _by_band(
    [0.25, 0.2, 0.2, 0.22, 0.25, 0.3, 0.32, 0.33, 0.34, 0.36, 0.4, 0.44, 0.5, 0.56, 0.62, 0.66,
     0.66, 0.6, 0.5]
)  # fmt: skip
FOLLOWUPS_PER_FIRST = 2.0
# Relative risks: per LTC (linear), by frailty (fit, mild, moderate, severe), by deprivation
# (x (1 + k x deprivation), deprivation 0 = least deprived LSOA .. 1 = most).
AE_PER_LTC = 0.15
AE_FRAILTY = np.array([1.0, 1.3, 1.7, 2.2])
AE_DEPRIVATION = 0.7
EMERGENCY_PER_LTC = 0.2
EMERGENCY_FRAILTY = np.array([1.0, 1.4, 1.9, 2.6])
EMERGENCY_DEPRIVATION = 0.6
ELECTIVE_PER_LTC = 0.10
ELECTIVE_DEPRIVATION = -0.1
OUTPATIENT_PER_LTC = 0.15
# ACSC share of emergency admissions (chronic, acute, vaccine-preventable), per patient:
ACSC_CHRONIC = (0.015, 0.019, 0.03, 0.045)  # base, per LTC (up to 4), frail (mod/sev), deprivation
ACSC_ACUTE = (0.03, 0.022, 0.037, 0.022)  # base, any frailty, deprivation, 75 and over
ACSC_VACCINE = (0.0075, 0.011, 0.0075)  # base, deprivation, 75 and over or under 5
# Length of stay: mean bed days per admission by age band; negative binomial, shape 1.
EMERGENCY_LOS_AGE = _by_band(
    [1.5, 1.2, 1.3, 1.6, 1.8, 2.0, 2.2, 2.5, 2.8, 3.2, 3.6, 4.2, 4.8, 5.5, 6.3, 7.2, 8.2, 9.2,
     10.0]
)  # fmt: skip
ELECTIVE_LOS_AGE = 0.3 + 0.06 * np.arange(len(AGE_BANDS), dtype=np.float64)
LOS_SHAPE = 1.0
# Unit costs (GBP): per event, and per bed day for admissions.
UNIT_COST = {
    "ae_type1": 260.0,
    "ae_other": 95.0,
    "emergency_admission": 1_900.0,
    "elective_admission": 1_300.0,
    "outpatient_first": 220.0,
    "outpatient_followup": 140.0,
}
BED_DAY_COST = {"emergency_admission": 420.0, "elective_admission": 380.0}

# The shift place: hospital activity falls, community activity and spend rise.
SHIFT_HOSPITAL_PER_YEAR = -0.05  # A&E, emergency admissions and follow-ups, vs flat elsewhere
SHIFT_COMMUNITY_PER_YEAR = 0.12  # community contacts, vs COMMUNITY_GROWTH_PER_YEAR elsewhere
COMMUNITY_GROWTH_PER_YEAR = 0.02
SHIFT_SPEND_PP_PER_YEAR = 0.015  # community share +1.5 pp a year (from acute), vs +0.2 pp
SPEND_DRIFT_PP_PER_YEAR = 0.002

# ---------------------------------------------------------------- community activity
_OLDER = _by_band(
    [0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.02, 0.3, 0.6,
     1.5, 3.0, 5.0, 7.0]
)  # fmt: skip
_ADULT = _by_band([0.0, 0.0, 0.0] + [1.0] * 16)
_WORKING_AGE = _by_band([0.0, 0.0, 0.0] + [1.0] * 10 + [0.4] * 6)
# Annual contacts per person by band, deprivation gradient, contacts per patient per month.
COMMUNITY_RATES: dict[str, tuple[FloatArray, float, float]] = {
    "district_nursing": (_OLDER * 1.0, 0.0, 6.0),
    "urgent_community_response": (_OLDER * 0.05, 0.0, 1.3),
    "virtual_ward": (_OLDER * 0.06, 0.0, 7.0),
    "community_mental_health": (_WORKING_AGE * 0.25, 0.8, 3.0),
    "community_pharmacy": (np.full(len(AGE_BANDS), 0.3), 0.0, 1.1),
    "social_prescribing": (_ADULT * 0.05, 0.5, 2.5),
    "other_community": (0.4 + 0.2 * _OLDER, 0.0, 1.8),
}

# ---------------------------------------------------------------- experience (GPPS-like)
PREM_RESPONSE_RATE = 0.025  # respondents per eligible (15 and over) patient per wave
# Positive share (very or fairly good) at the first wave, and don't know share, by question.
PREM_POSITIVE = {
    "overall_experience": 0.74,
    "contact_ease": 0.66,
    "phone_ease": 0.50,
    "preferred_clinician": 0.40,
    "needs_met": 0.90,
}
PREM_DONT_KNOW = {
    "overall_experience": 0.01,
    "contact_ease": 0.02,
    "phone_ease": 0.08,
    "preferred_clinician": 0.15,
    "needs_met": 0.02,
}
PREM_DEPRIVATION_LOGIT = -0.5  # x respondent deprivation (0 least .. 1 most)
PREM_65_PLUS_LOGIT = 0.3
PREM_WAVE_LOGIT = -0.08  # a gentle decline each wave
PREM_PRACTICE_SD = 0.3
PREM_WEIGHT_SD = 0.35  # log-normal survey weights, mean 1 in each practice and wave
PREM_SKIP = 0.02  # chance a respondent leaves a question blank (no row)
PREM_MISSING = {"lsoa_code": 0.03, "sex": 0.01, "age_band": 0.02}

# ---------------------------------------------------------------- money and workforce
SPEND_PER_HEAD = 2_150.0  # GBP in the first financial year, + 4.5% a year
SPEND_GROWTH = 0.045
SPEND_SHARE = dict(
    zip(
        SPEND_CATEGORIES,
        (0.470, 0.090, 0.110, 0.085, 0.085, 0.015, 0.025, 0.007, 0.055, 0.058),
        strict=True,
    )
)
GLOBAL_SUM_PER_WEIGHTED = 102.28  # GBP per weighted patient in the first year, + 5% a year
PAYMENT_GROWTH = 0.05
# Other payments per weighted patient, and how much lower they are per unit of practice
# deprivation (the inverse care law): amount x (1 - k x deprivation).
PAYMENT_PER_WEIGHTED = {
    "qof": (17.5, 0.15),
    "enhanced_services": (11.0, 0.30),
    "pcn": (9.0, 0.0),
    "arrs": (21.0, 0.0),
    "premises": (15.0, 0.35),
    "other": (6.0, 0.20),
}
DISPENSING_SHARE = 0.10  # share of practices with dispensing payments (about 45 GBP a patient)
ARRS_PAYMENT_GROWTH = 0.20
# Carr-Hill-like need weights by sex (F, M) and age band, before normalising to mean 1.
NEED_WEIGHT = np.array(
    [
        [2.20, 0.72, 0.72, 0.95, 1.10, 1.20, 1.20, 1.10, 1.00, 1.00, 1.05, 1.12, 1.25, 1.45,
         1.70, 2.05, 2.40, 2.60, 2.75],
        [2.35, 0.75, 0.70, 0.65, 0.55, 0.55, 0.60, 0.65, 0.70, 0.78, 0.88, 1.00, 1.15, 1.35,
         1.60, 1.95, 2.30, 2.55, 2.70],
    ]
)  # fmt: skip
NEED_DEPRIVATION = 0.04  # a small deprivation term: x (1 + 0.04 (deprivation - 0.5))
ARRS_GROWTH_START = 0.6  # ARRS headcount at the first census, as a share of the last
