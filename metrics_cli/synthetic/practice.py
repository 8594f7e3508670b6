"""Everything one practice generates: its patients, their encounters and hospital use,
its community contacts, its GPAD crosstab, its registered-population extracts and its
survey responses. All draws are vectorised over the practice's patients or cells, and
each part has its own random stream keyed by (seed, practice), so a practice's data do
not depend on how practices are batched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from metrics_cli.synthetic import config as c
from metrics_cli.synthetic import gpad, names
from metrics_cli.synthetic.geography import Geography, Practice
from metrics_cli.synthetic.timeline import Timeline, gpad_month_text

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

STILL_REGISTERED = 10**9  # last registered day of patients who have not left
BAND_LOWER = 5.0 * np.arange(len(c.AGE_BANDS), dtype=np.float64)
BAND_MIDPOINT = BAND_LOWER + 2.5
N_BANDS = len(c.AGE_BANDS)
# Hospital draws: (activity_type, acsc_category) of each row of the rate matrix.
HOSPITAL_DRAWS: tuple[tuple[str, str], ...] = (
    ("ae_type1", "none"),
    ("ae_other", "none"),
    ("emergency_admission", "none"),
    ("emergency_admission", "chronic"),
    ("emergency_admission", "acute"),
    ("emergency_admission", "vaccine_preventable"),
    ("elective_admission", "none"),
    ("outpatient_first", "none"),
    ("outpatient_followup", "none"),
)
_SHIFTING = np.array([True, True, True, True, True, True, False, False, True])
_SEASON = (c.SEASON_AE, c.SEASON_AE, *[c.SEASON_EMERGENCY] * 4, 0.0, 0.0, 0.0)


PRACTICE_STREAM = 2  # practices draw from rng_for(seed, 2, practice index, Stream.X)


class Stream:
    """Sub-stream numbers of one practice's random draws."""

    PATIENTS = 1
    ENCOUNTERS = 2
    HOSPITAL = 3
    COMMUNITY = 4
    GPAD = 5
    SURVEY = 6


@dataclass(frozen=True)
class Offsets:
    """Identifiers already used by earlier practices."""

    patients: int = 0
    encounters: int = 0
    respondents: int = 0


@dataclass(frozen=True)
class Patients:
    band: IntArray
    male: BoolArray
    age: FloatArray
    lsoa_slot: IntArray  # index into the practice's LSOAs; len(lsoas) = UNKNOWN
    deprivation: FloatArray  # 0 least deprived .. 1 most
    quintile: IntArray  # IMD quintile 1..5; 0 = unknown LSOA
    ltc: IntArray
    frailty: IntArray  # index into FRAILTY
    first_day: IntArray  # first registered day (negative: before the series)
    last_day: IntArray  # last registered day, STILL_REGISTERED if still registered
    usual_gp: IntArray  # index into practice.gps, -1 = none
    favourite: IntArray  # the GP the patient tends to see (the usual GP where there is one)
    propensity: FloatArray

    @property
    def count(self) -> int:
        return len(self.band)

    def active_days(self, days: int) -> tuple[IntArray, IntArray]:
        """First and last day (inclusive) each patient is registered within the series."""
        return np.maximum(self.first_day, 0), np.minimum(self.last_day, days - 1)

    def registered_on(self, day: int) -> BoolArray:
        return (self.first_day <= day) & (self.last_day >= day)


@dataclass(frozen=True)
class Encounters:
    day: IntArray
    patient: IntArray
    role: IntArray  # index into CLINICIAN_ROLES
    clinician: IntArray
    mode: IntArray  # index into APPT_MODES


@dataclass(frozen=True)
class PracticeResult:
    frames: dict[str, pl.DataFrame]
    population: IntArray  # registered on each month's first day, by month, sex (F, M), band
    offsets: Offsets


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent PCG64 stream for (seed, keys)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=keys)))


def simulate_practice(
    practice: Practice,
    geography: Geography,
    config: c.ScaleConfig,
    timeline: Timeline,
    seed: int,
    offsets: Offsets,
) -> PracticeResult:
    """Every streamed dataset of one practice, with identifiers after `offsets`."""

    def rng(stream: int) -> np.random.Generator:
        return rng_for(seed, PRACTICE_STREAM, practice.index, stream)

    patients = draw_patients(practice, geography, timeline, rng(Stream.PATIENTS))
    encounters = draw_encounters(practice, patients, geography, timeline, rng(Stream.ENCOUNTERS))
    labels = _Labels(practice, geography, timeline, offsets, patients.count)
    responses, n_respondents = survey_frame(
        practice, patients, timeline, labels, rng(Stream.SURVEY)
    )
    frames = {
        "patients": labels.patients_frame(patients),
        "gp_encounters": labels.encounters_frame(encounters),
        "registered_population": registered_frame(patients, timeline, labels),
        "hospital_activity": hospital_frame(
            practice, patients, config, timeline, labels, rng(Stream.HOSPITAL)
        ),
        "community_activity": community_frame(
            practice, patients, config, timeline, labels, rng(Stream.COMMUNITY)
        ),
        "gp_appointments": gpad_frame(
            practice, encounters, geography, config, timeline, labels, rng(Stream.GPAD)
        ),
        "prem_responses": responses,
    }
    return PracticeResult(
        frames=frames,
        population=monthly_population(patients, timeline),
        offsets=Offsets(
            offsets.patients + patients.count,
            offsets.encounters + len(encounters.day),
            offsets.respondents + n_respondents,
        ),
    )


# ---------------------------------------------------------------- patients
def draw_patients(
    practice: Practice, geography: Geography, timeline: Timeline, rng: np.random.Generator
) -> Patients:
    """The practice's list at the series start plus everyone who joins during it."""
    days = timeline.days
    n_start = practice.list_size
    n_join = int(rng.poisson(n_start * c.JOIN_RATE * days / 365.25))
    n = n_start + n_join
    joiner = np.arange(n) >= n_start
    tilt = c.AGE_SHARE * np.exp(practice.age_tilt * (BAND_MIDPOINT - 40.0) / 40.0)
    band = np.concatenate(
        [
            rng.choice(N_BANDS, n_start, p=tilt / tilt.sum()),
            rng.choice(
                N_BANDS, n_join, p=(tilt * c.JOINER_AGE_BOOST) / (tilt * c.JOINER_AGE_BOOST).sum()
            ),
        ]
    )
    male = rng.random(n) >= c.FEMALE_SHARE[band]
    age = BAND_LOWER[band] + rng.random(n) * 5.0
    oldest = band == N_BANDS - 1
    age[oldest] = 90.0 + np.minimum(rng.exponential(3.5, int(oldest.sum())), 15.0)

    slots = len(practice.lsoas)
    lsoa_slot = rng.choice(slots, n, p=practice.lsoa_weights)
    unknown = rng.random(n) < c.UNKNOWN_LSOA_SHARE
    lsoa_slot[unknown] = slots
    percentile = np.append(geography.lsoa_percentile[practice.lsoas], practice.imd_centre)[
        lsoa_slot
    ]
    deprivation = 1.0 - percentile
    decile = np.minimum(10, 1 + np.floor(percentile * 10)).astype(np.int64)
    quintile = np.where(unknown, 0, (decile + 1) // 2)

    ltc_mean = np.minimum(c.LTC_BASE * np.exp(c.LTC_PER_YEAR_OF_AGE * age), 6.0)
    ltc = rng.poisson(ltc_mean * (1.0 + c.LTC_DEPRIVATION * deprivation))
    efi = (
        c.EFI_PER_LTC * ltc
        + c.EFI_PER_YEAR_OVER_50 * np.maximum(age - 50.0, 0.0)
        + c.EFI_DEPRIVATION * deprivation
        + rng.normal(0.0, c.EFI_NOISE, n)
    )
    frailty = np.searchsorted(np.asarray(c.EFI_CUTS), efi, side="right").astype(np.int64)

    first_day = np.empty(n, dtype=np.int64)
    history = np.minimum(age[:n_start], 25.0) * 365.25
    first_day[:n_start] = -1 - np.floor(rng.random(n_start) * history).astype(np.int64)
    first_day[n_start:] = rng.integers(0, days, n_join)
    start = np.maximum(first_day, 0)
    leaves = rng.random(n) < 1.0 - np.exp(-c.LEAVE_RATE * (days - start) / 365.25)
    last_day = np.full(n, STILL_REGISTERED, dtype=np.int64)
    last_day[leaves] = start[leaves] + np.floor(
        rng.random(int(leaves.sum())) * (days - start[leaves])
    ).astype(np.int64)

    no_usual = (
        c.USUAL_GP_NULL + c.USUAL_GP_NULL_JOINER * joiner + c.USUAL_GP_NULL_CHILD * (age < 16)
    )
    has_usual = rng.random(n) >= no_usual
    n_gp = len(practice.gps)
    usual_gp = np.where(has_usual, rng.choice(n_gp, n, p=practice.gp_list_weight), -1)
    favourite = np.where(has_usual, usual_gp, rng.choice(n_gp, n, p=practice.gp_session_weight))
    return Patients(
        band=band.astype(np.int64),
        male=male,
        age=age,
        lsoa_slot=lsoa_slot.astype(np.int64),
        deprivation=deprivation,
        quintile=quintile.astype(np.int64),
        ltc=ltc.astype(np.int64),
        frailty=frailty,
        first_day=first_day,
        last_day=last_day,
        usual_gp=usual_gp.astype(np.int64),
        favourite=favourite.astype(np.int64),
        propensity=rng.gamma(c.ENCOUNTER_DISPERSION, 1.0 / c.ENCOUNTER_DISPERSION, n),
    )


def encounter_rate(patients: Patients) -> FloatArray:
    """Each patient's expected GP-practice encounters per year (before seasonality)."""
    rate = (
        c.ENCOUNTER_SCALE
        * c.ENCOUNTER_AGE[patients.band]
        * (1.0 + c.ENCOUNTER_PER_LTC * patients.ltc)
        * c.ENCOUNTER_FRAILTY[patients.frailty]
        * (1.0 + c.ENCOUNTER_DEPRIVATION * patients.deprivation)
        * patients.propensity
    )
    return np.asarray(rate, dtype=np.float64)


def continuity_chance(
    patients: Patients, who: IntArray, years: FloatArray, practice_effect: float
) -> FloatArray:
    """The chance each GP encounter is with the patient's usual (or favourite) GP."""
    quintile = np.where(patients.quintile[who] == 0, 3, patients.quintile[who])
    chance = (
        c.CONTINUITY_BY_QUINTILE[quintile - 1]
        + practice_effect
        + c.CONTINUITY_75_PLUS * (patients.age[who] >= 75)
        + c.CONTINUITY_FRAIL * (patients.frailty[who] >= 2)
        - c.CONTINUITY_DRIFT_PER_YEAR * years
    )
    chance = np.where(patients.usual_gp[who] >= 0, chance, chance * c.CONTINUITY_WITHOUT_USUAL_GP)
    return np.asarray(np.clip(chance, 0.02, 0.98), dtype=np.float64)


# ---------------------------------------------------------------- encounters
def draw_encounters(
    practice: Practice,
    patients: Patients,
    geography: Geography,
    timeline: Timeline,
    rng: np.random.Generator,
) -> Encounters:
    """Completed encounters, dated by the seasonal and weekday pattern, in date order."""
    first, last = patients.active_days(timeline.days)
    cumulative = timeline.encounter_cumulative
    expected = (
        encounter_rate(patients)
        * (cumulative[last + 1] - cumulative[first])
        / timeline.encounter_weight_per_year
    )
    who = np.repeat(np.arange(patients.count), rng.poisson(expected))
    total = len(who)
    low, high = cumulative[first[who]], cumulative[last[who] + 1]
    day = np.clip(timeline.day_at(low + rng.random(total) * (high - low)), first[who], last[who])

    is_gp = rng.random(total) < c.GP_SHARE + c.GP_SHARE_65_PLUS * (patients.age[who] >= 65)
    role = np.where(is_gp, 0, 1 + draw_categorical(c.OTHER_ROLE_SHARE, rng.random(total)))

    gp_rows = np.flatnonzero(is_gp)
    stays = rng.random(len(gp_rows)) < continuity_chance(
        patients, who[gp_rows], day[gp_rows] / 365.25, practice.continuity_effect
    )
    favourite = patients.favourite[who[gp_rows]]
    other_gp = draw_categorical(practice.gp_session_weight, rng.random(len(gp_rows)))
    clash = np.flatnonzero(other_gp == favourite)
    while len(clash):  # someone other than the favourite: redraw until different
        other_gp[clash] = draw_categorical(practice.gp_session_weight, rng.random(len(clash)))
        clash = clash[other_gp[clash] == favourite[clash]]
    clinician = np.zeros(total, dtype=np.int64)
    clinician[gp_rows] = practice.gps[np.where(stays, favourite, other_gp)]
    for role_index, roster in ((1, practice.nurses), (6, practice.hcas)):
        rows = np.flatnonzero(role == role_index)
        clinician[rows] = roster[rng.integers(0, len(roster), len(rows))]
    month_pcn = np.array([practice.pcn_at(m) for m in range(timeline.month_count)])
    pcn = month_pcn[timeline.day_month[day]]
    for pcn_index in np.unique(month_pcn):
        for role_index, roster in geography.pcns[int(pcn_index)].arrs.items():
            rows = np.flatnonzero((role == role_index) & (pcn == pcn_index))
            clinician[rows] = roster[rng.integers(0, len(roster), len(rows))]

    severe = patients.frailty[who] == 3
    profile = np.where(role == 0, np.where(severe, 1, 0), np.where(role == 3, 2, 3))
    home_heavy = c.GP_MODE_SHARE * (1.0 - c.SEVERE_FRAILTY_HOME_VISITS) / (1.0 - c.GP_MODE_SHARE[1])
    home_heavy[1] = c.SEVERE_FRAILTY_HOME_VISITS
    mode = np.zeros(total, dtype=np.int64)
    shares = (c.GP_MODE_SHARE, home_heavy, c.PARAMEDIC_MODE_SHARE, c.OTHER_MODE_SHARE)
    for index, share in enumerate(shares):
        rows = np.flatnonzero(profile == index)
        mode[rows] = draw_categorical(share, rng.random(len(rows)))

    key = (day * patients.count + who) * len(c.CLINICIAN_ROLES) + role
    order = np.argsort(key * total + np.arange(total))  # unique keys: any sort gives one order
    return Encounters(
        day=day[order],
        patient=who[order].astype(np.int64),
        role=role[order].astype(np.int64),
        clinician=clinician[order],
        mode=mode[order],
    )


def draw_categorical(shares: FloatArray, uniform: FloatArray) -> IntArray:
    """Category index for each uniform draw, with probabilities `shares` (summing to 1)."""
    cumulative = np.cumsum(shares)
    chosen = np.searchsorted(cumulative / cumulative[-1], uniform, side="right")
    return np.minimum(chosen, len(shares) - 1).astype(np.int64)


# ---------------------------------------------------------------- population counts
def _cells(patients: Patients) -> tuple[IntArray, IntArray]:
    """Each patient's (LSOA, sex, band) cell, and each cell's key (slot * 2 + male) * 19 + band."""
    key = (patients.lsoa_slot * 2 + patients.male) * N_BANDS + patients.band
    keys, cell = np.unique(key, return_inverse=True)
    return keys.astype(np.int64), cell.astype(np.int64)


def _monthly_sums(
    cell: IntArray, n_cells: int, patients: Patients, timeline: Timeline, weights: FloatArray
) -> FloatArray:
    """For each row of `weights`: the sum over registered patients of each cell and month."""
    first, last = patients.active_days(timeline.days)
    months = timeline.month_count
    start = cell * (months + 1) + timeline.day_month[first]
    stop = cell * (months + 1) + timeline.day_month[last] + 1
    size = n_cells * (months + 1)
    sums = np.stack(
        [np.bincount(start, w, size) - np.bincount(stop, w, size) for w in np.atleast_2d(weights)]
    )
    totals = np.cumsum(sums.reshape(len(sums), n_cells, months + 1), axis=2)[:, :, :months]
    # a cell that empties can leave -1e-16 of rounding
    return np.asarray(np.maximum(totals, 0.0), dtype=np.float64)


def monthly_population(patients: Patients, timeline: Timeline) -> IntArray:
    """Patients registered on each month's first day, by month, sex (F, M) and band."""
    group = patients.male * N_BANDS + patients.band
    counts = [
        np.bincount(group[patients.registered_on(int(day))], minlength=2 * N_BANDS)
        for day in timeline.month_first_day[:-1]
    ]
    return np.stack(counts).reshape(timeline.month_count, 2, N_BANDS).astype(np.int64)


def registered_frame(patients: Patients, timeline: Timeline, labels: _Labels) -> pl.DataFrame:
    """Quarterly extracts: patients registered on each extract date, by cell."""
    keys, cell = _cells(patients)
    parts = []
    for day, extract in timeline.extracts:
        counts = np.bincount(cell[patients.registered_on(day)], minlength=len(keys))
        present = np.flatnonzero(counts)
        parts.append(
            labels.cell_columns(keys[present]).with_columns(
                pl.lit(extract).alias("extract_date"), pl.Series("patients", counts[present])
            )
        )
    return pl.concat(parts).select(c.SCHEMAS["registered_population"].keys())


# ---------------------------------------------------------------- hospital activity
def hospital_rates(patients: Patients) -> FloatArray:
    """Annual rates of each HOSPITAL_DRAWS row for each patient, shape (9, patients)."""
    band, ltc, frailty, dep, age = (
        patients.band,
        patients.ltc,
        patients.frailty,
        patients.deprivation,
        patients.age,
    )
    ae = (
        c.AE_TYPE1_AGE[band]
        * (1 + c.AE_PER_LTC * ltc)
        * c.AE_FRAILTY[frailty]
        * (1 + c.AE_DEPRIVATION * dep)
    )
    ae_other = ae * np.where(age >= 65, c.AE_OTHER_SHARE_65_PLUS, c.AE_OTHER_SHARE)
    emergency = (
        c.EMERGENCY_AGE[band]
        * (1 + c.EMERGENCY_PER_LTC * ltc)
        * c.EMERGENCY_FRAILTY[frailty]
        * (1 + c.EMERGENCY_DEPRIVATION * dep)
    )
    chronic = (
        c.ACSC_CHRONIC[0]
        + c.ACSC_CHRONIC[1] * np.minimum(ltc, 4)
        + c.ACSC_CHRONIC[2] * (frailty >= 2)
        + c.ACSC_CHRONIC[3] * dep
    )
    acute = (
        c.ACSC_ACUTE[0]
        + c.ACSC_ACUTE[1] * (frailty >= 1)
        + c.ACSC_ACUTE[2] * dep
        + c.ACSC_ACUTE[3] * (age >= 75)
    )
    vaccine = (
        c.ACSC_VACCINE[0] + c.ACSC_VACCINE[1] * dep + c.ACSC_VACCINE[2] * ((age >= 75) | (age < 5))
    )
    elective = (
        c.ELECTIVE_AGE[band] * (1 + c.ELECTIVE_PER_LTC * ltc) * (1 + c.ELECTIVE_DEPRIVATION * dep)
    )
    first = c.OUTPATIENT_FIRST_AGE[band] * (1 + c.OUTPATIENT_PER_LTC * ltc)
    return np.stack(
        [
            ae,
            ae_other,
            emergency * (1 - chronic - acute - vaccine),
            emergency * chronic,
            emergency * acute,
            emergency * vaccine,
            elective,
            first,
            first * c.FOLLOWUPS_PER_FIRST,
        ]
    )


def hospital_frame(
    practice: Practice,
    patients: Patients,
    config: c.ScaleConfig,
    timeline: Timeline,
    labels: _Labels,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Events by month and cell for every activity type; only non-zero rows."""
    keys, cell = _cells(patients)
    sums = _monthly_sums(cell, len(keys), patients, timeline, hospital_rates(patients))
    season = np.stack([timeline.season(amplitude) for amplitude in _SEASON])
    shift = practice.place == config.shift_place
    trend = 1.0 + np.outer(_SHIFTING * shift * c.SHIFT_HOSPITAL_PER_YEAR, timeline.years_elapsed())
    events = rng.poisson(sums * (season * trend / 12.0)[:, None, :])
    draw, where, month = np.nonzero(events)
    order = np.lexsort((draw, where, month))
    draw, where, month = draw[order], where[order], month[order]
    count = events[draw, where, month]
    band = keys[where] % N_BANDS
    bed_days = np.zeros(len(count), dtype=np.int64)
    costs = np.zeros(len(count))
    for index, (activity, _) in enumerate(HOSPITAL_DRAWS):
        rows = draw == index
        costs[rows] = count[rows] * c.UNIT_COST[activity]
        if activity in c.BED_DAY_COST:
            mean = (
                c.EMERGENCY_LOS_AGE if activity == "emergency_admission" else c.ELECTIVE_LOS_AGE
            )[band[rows]]
            stay = rng.negative_binomial(
                count[rows] * c.LOS_SHAPE, c.LOS_SHAPE / (c.LOS_SHAPE + mean)
            )
            bed_days[rows] = stay
            costs[rows] += stay * c.BED_DAY_COST[activity]
    activity_types = [a for a, _ in HOSPITAL_DRAWS]
    acsc = [a for _, a in HOSPITAL_DRAWS]
    return (
        labels.cell_columns(keys[where])
        .with_columns(
            labels.months.gather(month).alias("month"),
            pl.Series("activity_type", activity_types).gather(draw),
            pl.Series("acsc_category", acsc).gather(draw),
            pl.Series("events", count.astype(np.int64)),
            pl.Series("bed_days", bed_days),
            pl.Series("cost_gbp", np.round(costs, 2)),
        )
        .select(c.SCHEMAS["hospital_activity"].keys())
    )


# ---------------------------------------------------------------- community activity
def community_frame(
    practice: Practice,
    patients: Patients,
    config: c.ScaleConfig,
    timeline: Timeline,
    labels: _Labels,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """Contacts and patients by month and service; only months with contacts."""
    by_band = _monthly_sums(patients.band, N_BANDS, patients, timeline, np.ones(patients.count))[0]
    growth = (
        c.SHIFT_COMMUNITY_PER_YEAR
        if practice.place == config.shift_place
        else c.COMMUNITY_GROWTH_PER_YEAR
    )
    factor = timeline.season(c.SEASON_COMMUNITY) * (1.0 + growth * timeline.years_elapsed()) / 12.0
    services, months, contacts, people = [], [], [], []
    for service, (rates, deprivation_gradient, per_patient) in c.COMMUNITY_RATES.items():
        expected = (rates @ by_band) * factor * (1.0 + deprivation_gradient * practice.deprivation)
        drawn = rng.poisson(expected)
        seen = np.round(drawn / per_patient * rng.uniform(0.85, 1.15, len(drawn))).astype(np.int64)
        present = np.flatnonzero(drawn)
        services += [service] * len(present)
        months.append(present)
        contacts.append(drawn[present])
        people.append(np.clip(seen[present], 1, drawn[present]))
    return pl.DataFrame(
        {
            "month": labels.months.gather(np.concatenate(months)),
            "practice_code": practice.code,
            "service": services,
            "contacts": np.concatenate(contacts).astype(np.int64),
            "patients": np.concatenate(people).astype(np.int64),
        }
    ).sort("month", maintain_order=True)


# ---------------------------------------------------------------- GPAD
def gpad_frame(
    practice: Practice,
    encounters: Encounters,
    geography: Geography,
    config: c.ScaleConfig,
    timeline: Timeline,
    labels: _Labels,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """The practice's rows of the GPAD practice-level crosstab, month by month."""
    months = timeline.month_count
    per_month = np.bincount(timeline.day_month[encounters.day], minlength=months)
    totals = rng.poisson(per_month * c.APPOINTMENTS_PER_ENCOUNTER)
    used = gpad.used_categories(rng)
    hub = np.array([geography.has_hub(practice, m, config) for m in range(months)])
    counts = np.zeros((months, int(np.prod(gpad.CELL_SHAPE))), dtype=np.int64)
    for state in (False, True):
        chosen = np.flatnonzero(hub == state)
        if len(chosen):
            uplift = c.SAME_DAY_HUB_UPLIFT if state else 0.0
            probabilities = gpad.cell_probabilities(used, practice.dna_rate, uplift)
            counts[chosen] = rng.multinomial(totals[chosen], probabilities)
    month, cell = np.nonzero(counts)
    category, hcp, mode, interval, status = np.unravel_index(cell, gpad.CELL_SHAPE)
    pcns = [geography.pcns[practice.pcn_at(m)] for m in range(months)]
    place = geography.places[practice.place]
    icb = geography.icbs[practice.icb]
    return pl.DataFrame(
        {
            "APPOINTMENT_MONTH_START_DATE": pl.Series(
                [gpad_month_text(m) for m in timeline.months]
            ).gather(month),
            "GP_CODE": practice.code,
            "GP_NAME": practice.name.upper(),
            "SUPPLIER": practice.supplier,
            "PCN_CODE": pl.Series([p.code for p in pcns]).gather(month),
            "PCN_NAME": pl.Series([p.name.upper() for p in pcns]).gather(month),
            "SUB_ICB_LOCATION_CODE": place.sub_icb_code,
            "SUB_ICB_LOCATION_NAME": place.sub_icb_name,
            "ICB_CODE": icb.code,
            "ICB_NAME": icb.name,
            "REGION_CODE": icb.region_code,
            "REGION_NAME": icb.region_name,
            "HCP_TYPE": pl.Series(c.HCP_TYPES).gather(hcp),
            "APPT_MODE": pl.Series(c.APPT_MODES).gather(mode),
            "NATIONAL_CATEGORY": pl.Series([x.text for x in gpad.CATEGORIES]).gather(category),
            "TIME_BETWEEN_BOOK_AND_APPT": pl.Series(c.BOOKING_INTERVALS).gather(interval),
            "APPT_STATUS": pl.Series(c.APPT_STATUSES).gather(status),
            "COUNT_OF_APPOINTMENTS": counts[month, cell],
        }
    )


# ---------------------------------------------------------------- survey
def survey_frame(
    practice: Practice,
    patients: Patients,
    timeline: Timeline,
    labels: _Labels,
    rng: np.random.Generator,
) -> tuple[pl.DataFrame, int]:
    """GPPS-like responses from a sample of patients aged 15 and over in each calendar-year
    wave, and how many respondents were sampled."""
    parts = []
    respondent_base = labels.offsets.respondents
    for wave, day, wave_number in timeline.waves:
        eligible = np.flatnonzero(patients.registered_on(day) & (patients.band >= 3))
        chosen = np.sort(
            rng.choice(eligible, rng.binomial(len(eligible), c.PREM_RESPONSE_RATE), replace=False)
        )
        n = len(chosen)
        raw = rng.lognormal(0.0, c.PREM_WEIGHT_SD, n)
        raw *= np.where(patients.male[chosen] & (patients.age[chosen] < 40), 1.4, 1.0)
        raw *= np.where(patients.age[chosen] >= 65, 0.85, 1.0)
        weight = np.maximum(np.round(raw / raw.mean(), 4), 0.0001) if n else raw
        numbers = respondent_base + 1 + np.arange(n)
        respondent_base += n
        people = pl.DataFrame(
            {
                "respondent": numbers,
                "lsoa_code": labels.lsoa_codes.gather(patients.lsoa_slot[chosen]),
                "sex": pl.Series(c.SEXES).gather(patients.male[chosen].astype(np.int64)),
                "age_band": pl.Series(c.AGE_BANDS).gather(patients.band[chosen]),
                "weight": weight,
            }
        )
        for column, share in c.PREM_MISSING.items():
            blank = pl.Series(rng.random(n) < share)
            people = people.with_columns(
                pl.when(blank).then(None).otherwise(pl.col(column)).alias(column)
            )
        base_logit = (
            practice.experience_effect
            + c.PREM_DEPRIVATION_LOGIT * (patients.deprivation[chosen] - 0.5)
            + c.PREM_65_PLUS_LOGIT * (patients.age[chosen] >= 65)
            + c.PREM_WAVE_LOGIT * wave_number
        )
        for question in c.PREM_QUESTIONS:
            answer = _answers(question, base_logit, rng)
            answered = rng.random(n) >= c.PREM_SKIP
            parts.append(
                people.filter(pl.Series(answered)).with_columns(
                    pl.lit(wave).alias("survey_wave"),
                    pl.lit(question).alias("question_id"),
                    pl.Series("response", c.PREM_RESPONSES).gather(answer[answered]),
                )
            )
    frame = pl.concat(parts) if parts else pl.DataFrame(schema={"respondent": pl.Int64})
    return labels.survey_columns(frame), respondent_base - labels.offsets.respondents


def _answers(question: str, base_logit: FloatArray, rng: np.random.Generator) -> IntArray:
    """Response index (PREM_RESPONSES) for each respondent to one question."""
    n = len(base_logit)
    positive_share = c.PREM_POSITIVE[question]
    logit = np.log(positive_share / (1 - positive_share)) + base_logit
    positive = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    dont_know = rng.random(n) < c.PREM_DONT_KNOW[question]
    good = np.where(rng.random(n) < 0.45, 0, 1)
    poor = draw_categorical(np.array([0.45, 0.33, 0.22]), rng.random(n)) + 2
    return np.where(dont_know, 5, np.where(positive, good, poor)).astype(np.int64)


# ---------------------------------------------------------------- labels
class _Labels:
    """Turns a practice's integer codes into the published text columns."""

    def __init__(
        self,
        practice: Practice,
        geography: Geography,
        timeline: Timeline,
        offsets: Offsets,
        patient_count: int,
    ) -> None:
        self.practice = practice
        self.geography = geography
        self.timeline = timeline
        self.offsets = offsets
        self.patient_ids = identifiers("P", offsets.patients + 1 + np.arange(patient_count), 8)
        self.lsoa_codes = pl.Series(
            [names.lsoa_code(int(i)) for i in practice.lsoas] + [c.UNKNOWN_LSOA]
        )
        self.months = pl.Series(timeline.months, dtype=pl.Date)

    def cell_columns(self, keys: IntArray) -> pl.DataFrame:
        """practice_code, lsoa_code, sex, age_band of cell keys (slot * 2 + male) * 19 + band."""
        return pl.DataFrame(
            {
                "practice_code": pl.Series([self.practice.code]).gather(
                    np.zeros(len(keys), dtype=np.int64)
                ),
                "lsoa_code": self.lsoa_codes.gather(keys // (2 * N_BANDS)),
                "sex": pl.Series(c.SEXES).gather(keys // N_BANDS % 2),
                "age_band": pl.Series(c.AGE_BANDS).gather(keys % N_BANDS),
            }
        )

    def patients_frame(self, patients: Patients) -> pl.DataFrame:
        start = np.datetime64(self.timeline.start, "D")
        registered_to = np.where(patients.last_day == STILL_REGISTERED, 0, patients.last_day)
        gp_ids = identifiers("C", self.practice.gps, 6)
        frame = pl.DataFrame(
            {
                "patient_id": self.patient_ids,
                "practice_code": self.practice.code,
                "lsoa_code": self.lsoa_codes.gather(patients.lsoa_slot),
                "sex": pl.Series(c.SEXES).gather(patients.male.astype(np.int64)),
                "age_band": pl.Series(c.AGE_BANDS).gather(patients.band),
                "usual_gp_id": gp_ids.gather(np.maximum(patients.usual_gp, 0)),
                "ltc_count": patients.ltc,
                "frailty": pl.Series(c.FRAILTY).gather(patients.frailty),
                "registered_from": start + patients.first_day.astype("timedelta64[D]"),
                "registered_to": start + registered_to.astype("timedelta64[D]"),
                "has_usual": patients.usual_gp >= 0,
                "left": patients.last_day != STILL_REGISTERED,
            }
        )
        return frame.with_columns(
            pl.when(pl.col("has_usual")).then(pl.col("usual_gp_id")).alias("usual_gp_id"),
            pl.when(pl.col("left")).then(pl.col("registered_to")).alias("registered_to"),
        ).select(c.SCHEMAS["patients"].keys())

    def encounters_frame(self, encounters: Encounters) -> pl.DataFrame:
        start = np.datetime64(self.timeline.start, "D")
        count = len(encounters.day)
        clinicians, clinician = np.unique(encounters.clinician, return_inverse=True)
        return pl.DataFrame(
            {
                "encounter_id": identifiers("E", self.offsets.encounters + 1 + np.arange(count), 9),
                "encounter_date": start + encounters.day.astype("timedelta64[D]"),
                "practice_code": self.practice.code,
                "patient_id": self.patient_ids.gather(encounters.patient),
                "clinician_id": identifiers("C", clinicians, 6).gather(clinician),
                "clinician_role": pl.Series(c.CLINICIAN_ROLES).gather(encounters.role),
                "appt_mode": pl.Series(c.APPT_MODES).gather(encounters.mode),
            }
        )

    def survey_columns(self, frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height == 0:
            return pl.DataFrame(schema=c.SCHEMAS["prem_responses"])
        return frame.with_columns(
            identifiers("R", frame["respondent"].to_numpy(), 7).alias("respondent_id"),
            pl.lit(self.practice.code).alias("practice_code"),
        ).select(c.SCHEMAS["prem_responses"].keys())


def identifiers(prefix: str, numbers: IntArray | Sequence[int], width: int) -> pl.Series:
    """Identifiers like `P00000001`: a letter and a zero-padded number of `width` digits."""
    values = np.asarray(numbers, dtype=np.int64)
    if len(values) and values.max() >= 10**width:
        raise ValueError(f"{prefix} identifiers have run out of {width} digits")
    shifted = pl.Series(values + 10**width)
    return (prefix + shifted.cast(pl.String).str.slice(1)).rename("")
