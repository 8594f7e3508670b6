"""The organisation hierarchy, the LSOAs and every practice's staff, drawn once per run.

A practice's deprivation is an IMD percentile centre (0 = most deprived, 1 = least); its
LSOAs are drawn around that centre from its neighbourhood's pool, so neighbouring practices
share LSOAs and each practice has its own deprivation mix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from metrics_cli.synthetic import names
from metrics_cli.synthetic.config import (
    AGE_TILT_PER_AFFLUENCE,
    CONTINUITY_PRACTICE_SD,
    DISPENSING_SHARE,
    DNA_RATE,
    DNA_RATE_DEPRIVATION,
    LIST_HOLDER_SHARE,
    PATIENTS_PER_GP,
    PEOPLE_PER_LSOA,
    PREM_PRACTICE_SD,
    ScaleConfig,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

ORGANISATIONS_START = date(2019, 7, 1)  # PCNs began on 1 July 2019
# Encounter roles staffed by the PCN (ARRS): index in CLINICIAN_ROLES -> people per head.
ARRS_ENCOUNTER_ROLES: dict[int, tuple[str, int]] = {
    2: ("Clinical Pharmacist", 12_000),
    3: ("Paramedic", 40_000),
    4: ("First Contact Physiotherapist", 30_000),
    5: ("Mental Health Practitioner", 45_000),
}
ARRS_OTHER_ROLES: tuple[tuple[str, int], ...] = (
    ("Social Prescribing Link Worker", 25_000),
    ("Care Coordinator", 30_000),
)
GP_KINDS: dict[str, tuple[str, str, float, float]] = {
    # kind: staff_group, role, session weight, mean FTE
    "partner": ("gp_partner", "GP Partner", 1.0, 0.8),
    "salaried": ("gp_salaried", "Salaried GP", 0.8, 0.65),
    "locum": ("gp_locum", "GP Locum", 0.5, 0.3),
    "trainee": ("gp_trainee", "GP Registrar", 0.6, 0.9),
}


@dataclass(frozen=True)
class Icb:
    code: str
    name: str
    short_name: str
    region_code: str
    region_name: str


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    icb: int
    provider: int | None
    sub_icb_code: str
    sub_icb_name: str


@dataclass(frozen=True)
class Neighbourhood:
    code: str
    name: str
    place: int


@dataclass(frozen=True)
class Pcn:
    code: str
    name: str
    neighbourhood: int
    arrs: dict[int, IntArray]  # encounter role index -> clinician numbers


@dataclass(frozen=True)
class Provider:
    code: str
    name: str


@dataclass(frozen=True)
class Spell:
    """A practice's membership of one PCN, from `first_month` (index; 0 for the first)."""

    pcn: int
    first_month: int
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class Practice:
    index: int
    code: str
    name: str
    supplier: str
    list_size: int  # registered at the start of the series
    imd_centre: float  # IMD percentile its LSOAs centre on: 0 most deprived, 1 least
    age_tilt: float
    icb: int
    place: int
    spells: tuple[Spell, ...]
    lsoas: IntArray  # global LSOA indices
    lsoa_weights: FloatArray
    gps: IntArray  # clinician numbers
    gp_list_holder: BoolArray
    gp_session_weight: FloatArray
    gp_list_weight: FloatArray
    nurses: IntArray
    hcas: IntArray
    continuity_effect: float
    experience_effect: float
    dna_rate: float
    dispensing: bool
    need_factor: float

    @property
    def deprivation(self) -> float:
        """0 = least deprived .. 1 = most deprived."""
        return 1.0 - self.imd_centre

    def pcn_at(self, month: int) -> int:
        """The PCN the practice belongs to in month `month`."""
        current = self.spells[0].pcn
        for spell in self.spells:
            if spell.first_month <= month:
                current = spell.pcn
        return current


@dataclass(frozen=True)
class Geography:
    icbs: list[Icb]
    places: list[Place]
    neighbourhoods: list[Neighbourhood]
    pcns: list[Pcn]
    providers: list[Provider]
    practices: list[Practice]
    lsoa_percentile: FloatArray  # per LSOA: IMD percentile, 0 most deprived
    staff: pl.DataFrame  # everyone on a census: clinician number (null for admin), posts

    def organisations(self) -> pl.DataFrame:
        """The `organisations` dataset: one row per practice per PCN spell."""
        rows = []
        for practice in self.practices:
            for spell in practice.spells:
                pcn = self.pcns[spell.pcn]
                neighbourhood = self.neighbourhoods[pcn.neighbourhood]
                place = self.places[neighbourhood.place]
                provider = None if place.provider is None else self.providers[place.provider]
                rows.append(
                    {
                        "practice_code": practice.code,
                        "practice_name": practice.name,
                        "pcn_code": pcn.code,
                        "pcn_name": pcn.name,
                        "neighbourhood_code": neighbourhood.code,
                        "neighbourhood_name": neighbourhood.name,
                        "place_code": place.code,
                        "place_name": place.name,
                        "icb_code": self.icbs[place.icb].code,
                        "icb_name": self.icbs[place.icb].name,
                        "provider_code": None if provider is None else provider.code,
                        "provider_name": None if provider is None else provider.name,
                        "valid_from": spell.valid_from,
                        "valid_to": spell.valid_to,
                    }
                )
        return pl.DataFrame(rows, schema=_ORGANISATION_SCHEMA)

    def lsoa_deprivation(self) -> pl.DataFrame:
        """The `lsoa_deprivation` dataset: decile and rank on a national scale of 32,844."""
        percentile = self.lsoa_percentile
        return pl.DataFrame(
            {
                "lsoa_code": [names.lsoa_code(i) for i in range(len(percentile))],
                "imd_decile": np.minimum(10, 1 + np.floor(percentile * 10)).astype(np.int64),
                "imd_rank": (1 + np.floor(percentile * NATIONAL_LSOAS)).astype(np.int64),
            }
        )

    def has_hub(self, practice: Practice, month: int, config: ScaleConfig) -> bool:
        """Whether the practice's neighbourhood runs the same-day hub in `month`."""
        neighbourhood = self.pcns[practice.pcn_at(month)].neighbourhood
        return neighbourhood == config.hub_neighbourhood and month >= config.hub_month


NATIONAL_LSOAS = 32_844
LSOA_POOL_PER_PERSON = 0.8  # LSOAs in a neighbourhood's pool per 1,500 registered patients
LSOA_SPREAD_LOGIT = 0.33  # logistic scale (sd 0.6) of LSOAs around their practice's centre
_ORGANISATION_SCHEMA = {
    "practice_code": pl.String,
    "practice_name": pl.String,
    "pcn_code": pl.String,
    "pcn_name": pl.String,
    "neighbourhood_code": pl.String,
    "neighbourhood_name": pl.String,
    "place_code": pl.String,
    "place_name": pl.String,
    "icb_code": pl.String,
    "icb_name": pl.String,
    "provider_code": pl.String,
    "provider_name": pl.String,
    "valid_from": pl.Date,
    "valid_to": pl.Date,
}


def _logit(p: FloatArray) -> FloatArray:
    return np.asarray(np.log(p / (1.0 - p)), dtype=np.float64)


def _logistic(x: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def _lsoa_pool(centres: FloatArray, owned: IntArray, rng: np.random.Generator) -> FloatArray:
    """IMD percentiles of a neighbourhood's LSOAs: each practice owns a share of the pool,
    spread around its centre by stratified logistic quantiles (so every practice's spread
    is covered, even with few LSOAs)."""
    parts = []
    for centre, count in zip(centres, owned, strict=True):
        quantile = (np.arange(count) + rng.random(count)) / count
        spread = LSOA_SPREAD_LOGIT * np.log(quantile / (1.0 - quantile))
        parts.append(_logistic(_logit(np.array([centre])) + spread))
    return np.concatenate(parts)


def apportion(total: int, weights: FloatArray, minimum: int = 1) -> IntArray:
    """Split `total` into len(weights) whole parts of at least `minimum`, in proportion."""
    parts = len(weights)
    spare = total - minimum * parts
    if spare < 0:
        raise ValueError(f"cannot split {total} into {parts} parts of at least {minimum}")
    exact = spare * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    leftover = spare - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:leftover]] += 1
    return np.asarray(counts + minimum, dtype=np.int64)


def build_geography(config: ScaleConfig, rng: np.random.Generator) -> Geography:
    """Draw the whole hierarchy, the LSOAs and the staff for `config`."""
    per_icb = (
        np.array([config.practices])
        if config.icbs == 1
        else apportion(config.practices, rng.lognormal(0.0, 0.55, config.icbs), minimum=20)
    )
    sizes = _list_sizes(config, rng)
    centres = _imd_centres(config, per_icb, rng)
    towns = names.town_names(2 * config.icbs + max(8, config.practices // 20), rng)
    builder = _Builder(config, rng, towns)
    start = 0
    for icb_index, count in enumerate(per_icb):
        members = np.arange(start, start + count)
        if not config.imd_centres:  # neighbours are alike: order by centre, with noise
            members = members[np.argsort(centres[members] + rng.normal(0, 0.15, count))]
        builder.add_icb(icb_index, sizes[members], centres[members])
        start += count
    if config.mover_month is not None:
        builder.move_one_practice(config.mover_month)
    return builder.finish()


def _list_sizes(config: ScaleConfig, rng: np.random.Generator) -> IntArray:
    if config.list_sizes:
        return np.asarray(config.list_sizes, dtype=np.int64)
    drawn = np.clip(rng.lognormal(np.log(8_000), 0.55, config.practices), 1_500, 40_000)
    return np.asarray(np.round(drawn * config.patients / drawn.sum()), dtype=np.int64)


def _imd_centres(config: ScaleConfig, per_icb: IntArray, rng: np.random.Generator) -> FloatArray:
    if config.imd_centres:
        return np.asarray(config.imd_centres, dtype=np.float64)
    icb_means = (
        np.full(len(per_icb), 0.45) if len(per_icb) == 1 else rng.uniform(0.25, 0.75, len(per_icb))
    )
    means = np.repeat(icb_means, per_icb)
    return np.clip(means + rng.normal(0.0, 0.22, config.practices), 0.02, 0.98)


class _Builder:
    """Accumulates organisations ICB by ICB; numbers everything in build order."""

    def __init__(self, config: ScaleConfig, rng: np.random.Generator, towns: list[str]) -> None:
        self.config = config
        self.rng = rng
        self.towns = towns
        self.next_town = 2 * config.icbs
        self.icbs: list[Icb] = []
        self.places: list[Place] = []
        self.neighbourhoods: list[Neighbourhood] = []
        self.pcns: list[Pcn] = []
        self.providers: list[Provider] = []
        self.practices: list[Practice] = []
        self.lsoa_percentile: list[FloatArray] = []
        self.lsoa_count = 0
        self.clinician_count = 0
        self.staff: list[dict[str, object]] = []

    def _town(self) -> str:
        town = self.towns[self.next_town % len(self.towns)]
        self.next_town += 1
        return town

    def _clinicians(self, count: int) -> IntArray:
        numbers = np.arange(self.clinician_count + 1, self.clinician_count + count + 1)
        self.clinician_count += count
        return numbers

    def add_icb(self, icb_index: int, sizes: IntArray, centres: FloatArray) -> None:
        config, rng = self.config, self.rng
        first, second = self.towns[2 * icb_index], self.towns[2 * icb_index + 1]
        region = names.REGIONS[(icb_index * len(names.REGIONS) // config.icbs + 4) % 7]
        self.icbs.append(
            Icb(
                names.icb_code(icb_index),
                names.icb_name(first, second),
                names.icb_short_name(first, second),
                *region,
            )
        )
        n_practices = len(sizes)
        n_pcns = max(1, round(n_practices / config.practices_per_pcn))
        n_neighbourhoods = max(1, round(n_pcns / config.pcns_per_neighbourhood))
        n_places = max(
            1, min(n_neighbourhoods, round(n_neighbourhoods / config.neighbourhoods_per_place))
        )
        practices_per_pcn = apportion(n_practices, rng.uniform(0.7, 1.3, n_pcns))
        pcns_per_neighbourhood = apportion(n_pcns, rng.uniform(0.7, 1.3, n_neighbourhoods))
        neighbourhoods_per_place = apportion(n_neighbourhoods, rng.uniform(0.8, 1.2, n_places))
        providers_by_place = self._providers(n_places)
        practice_names = names.practice_names(n_practices, self.towns, rng)
        first_pcn = np.concatenate([[0], np.cumsum(pcns_per_neighbourhood)])
        first_practice = np.concatenate([[0], np.cumsum(practices_per_pcn)])
        local = 0  # the neighbourhood's number within this ICB
        for place_part, n_nbh in enumerate(neighbourhoods_per_place):
            town = self._town()
            place_index = len(self.places)
            self.places.append(
                Place(
                    names.place_code(place_index),
                    town,
                    len(self.icbs) - 1,
                    providers_by_place[place_part],
                    names.sub_icb_code(place_index),
                    f"{self.icbs[-1].short_name} - {names.sub_icb_code(place_index)}",
                )
            )
            for part in range(n_nbh):
                nbh_index = len(self.neighbourhoods)
                name = names.neighbourhood_name(town, part)
                self.neighbourhoods.append(
                    Neighbourhood(
                        names.neighbourhood_code(nbh_index),
                        names.SPECIAL_NEIGHBOURHOOD if nbh_index == 0 else name,
                        place_index,
                    )
                )
                pcns = slice(first_pcn[local], first_pcn[local + 1])
                members = slice(
                    first_practice[first_pcn[local]], first_practice[first_pcn[local + 1]]
                )
                self._add_neighbourhood(
                    nbh_index, town, practices_per_pcn[pcns], sizes[members], centres[members],
                    practice_names[members], place_index,
                )  # fmt: skip
                local += 1

    def _providers(self, n_places: int) -> list[int | None]:
        covered = n_places if n_places < 3 else n_places - 1
        n_providers = max(1, round(covered / 1.5))
        split = apportion(covered, np.ones(n_providers))
        by_place: list[int | None] = []
        for kind, places in enumerate(split):
            index = len(self.providers)
            self.providers.append(
                Provider(names.provider_code(index), names.provider_name(self._town(), kind))
            )
            by_place += [index] * int(places)
        return by_place + [None] * (n_places - covered)

    def _add_neighbourhood(
        self,
        nbh_index: int,
        town: str,
        pcn_sizes: IntArray,
        sizes: IntArray,
        centres: FloatArray,
        practice_names: list[str],
        place_index: int,
    ) -> None:
        rng = self.rng
        lsoas_per_practice = np.clip(np.round(sizes / 300), 12, 45).astype(np.int64)
        pool_size = max(
            int(np.ceil(LSOA_POOL_PER_PERSON * sizes.sum() / PEOPLE_PER_LSOA)),
            int(lsoas_per_practice.max()) + 5,
        )
        pool = _lsoa_pool(centres, apportion(pool_size, sizes.astype(np.float64)), rng)
        pool_ids = np.arange(self.lsoa_count, self.lsoa_count + pool_size)
        self.lsoa_percentile.append(pool)
        self.lsoa_count += pool_size
        offset = 0
        for n_members in pcn_sizes:
            pcn_index = len(self.pcns)
            pcn_name = names.SPECIAL_PCN if pcn_index == 0 else names.pcn_name(town, pcn_index)
            members = range(offset, offset + int(n_members))
            arrs = self._arrs_staff(pcn_index, int(sizes[offset : offset + int(n_members)].sum()))
            self.pcns.append(Pcn(names.pcn_code(pcn_index), pcn_name, nbh_index, arrs))
            for member in members:
                closeness = np.exp(-0.5 * ((pool - centres[member]) / 0.15) ** 2)
                pick = closeness + 0.01
                chosen = rng.choice(
                    pool_size,
                    size=int(lsoas_per_practice[member]),
                    replace=False,
                    p=pick / pick.sum(),
                )
                weights = rng.gamma(2.0, 1.0, len(chosen)) * (closeness[chosen] + 0.01)
                self._add_practice(
                    practice_names[member], int(sizes[member]), float(centres[member]),
                    pcn_index, place_index, pool_ids[chosen], weights / weights.sum(),
                )  # fmt: skip
            offset += int(n_members)

    def _arrs_staff(self, pcn_index: int, population: int) -> dict[int, IntArray]:
        roster: dict[int, IntArray] = {}
        for role_index, (role, per_head) in ARRS_ENCOUNTER_ROLES.items():
            numbers = self._clinicians(max(1, round(population / per_head)))
            roster[role_index] = numbers
            for number in numbers:
                self._post(int(number), None, pcn_index, "direct_patient_care", role, True, 0.9)
        for role, per_head in ARRS_OTHER_ROLES:
            for _ in range(max(1, round(population / per_head))):
                self._post(None, None, pcn_index, "direct_patient_care", role, True, 0.9)
        return roster

    def _post(
        self,
        clinician: int | None,
        practice: int | None,
        pcn: int | None,
        staff_group: str,
        role: str,
        is_arrs: bool,
        fte: float,
    ) -> None:
        self.staff.append(
            {
                "clinician": clinician,
                "practice": practice,
                "pcn": pcn,
                "staff_group": staff_group,
                "role": role,
                "is_arrs_funded": is_arrs,
                "fte_mean": fte,
            }
        )

    def _add_practice(
        self,
        name: str,
        size: int,
        centre: float,
        pcn_index: int,
        place_index: int,
        lsoas: IntArray,
        lsoa_weights: FloatArray,
    ) -> None:
        rng = self.rng
        index = len(self.practices)
        n_gp = max(2, round(size / PATIENTS_PER_GP * rng.uniform(0.85, 1.15)))
        n_holders = min(n_gp, max(2, round(LIST_HOLDER_SHARE * n_gp)))
        n_partners = max(1, round(0.65 * n_holders))
        kinds = ["partner"] * n_partners + ["salaried"] * (n_holders - n_partners)
        others = n_gp - n_holders
        extra = (["trainee"] if size >= 6_000 else []) + ["locum"]
        kinds += (extra + ["salaried"] * others)[:others]
        gps = self._clinicians(n_gp)
        for number, kind in zip(gps, kinds, strict=True):
            group, role, _, fte = GP_KINDS[kind]
            self._post(int(number), index, None, group, role, False, fte)
        nurses = self._clinicians(max(1, round(size / 3_500)))
        for position, number in enumerate(nurses):
            role = (
                "Advanced Nurse Practitioner"
                if position == 0 and len(nurses) > 1
                else "Practice Nurse"
            )
            self._post(int(number), index, None, "nurse", role, False, 0.7)
        hcas = self._clinicians(max(1, round(size / 6_000)))
        for number in hcas:
            self._post(
                int(number), index, None, "direct_patient_care", "Healthcare Assistant", False, 0.8
            )
        self._post(None, index, None, "admin", "Practice Manager", False, 1.0)
        for _ in range(max(2, round(size / 1_500))):
            self._post(None, index, None, "admin", "Receptionist", False, 0.6)
        for _ in range(max(1, round(size / 2_500))):
            self._post(None, index, None, "admin", "Administrator", False, 0.7)
        holder = np.array(
            [k in ("partner", "salaried") for k in kinds[:n_holders]] + [False] * others
        )
        session = np.array([GP_KINDS[k][2] for k in kinds])
        list_weight = np.where(
            holder,
            np.where(np.array(kinds) == "partner", 1.0, 0.7) * rng.uniform(0.8, 1.2, n_gp),
            0.0,
        )
        deprivation = 1.0 - centre
        self.practices.append(
            Practice(
                index=index,
                code=names.practice_code(index),
                name=names.SPECIAL_PRACTICE if index == 0 else name,
                supplier=str(rng.choice(["EMIS", "TPP", "MEDICUS"], p=[0.58, 0.40, 0.02])),
                list_size=size,
                imd_centre=centre,
                age_tilt=AGE_TILT_PER_AFFLUENCE * (centre - 0.5) + float(rng.normal(0, 0.1)),
                icb=len(self.icbs) - 1,
                place=place_index,
                spells=(Spell(pcn_index, 0, ORGANISATIONS_START, None),),
                lsoas=lsoas,
                lsoa_weights=lsoa_weights,
                gps=gps,
                gp_list_holder=holder,
                gp_session_weight=session / session.sum(),
                gp_list_weight=list_weight / list_weight.sum(),
                nurses=nurses,
                hcas=hcas,
                continuity_effect=float(rng.normal(0, CONTINUITY_PRACTICE_SD)),
                experience_effect=float(rng.normal(0, PREM_PRACTICE_SD)),
                dna_rate=DNA_RATE + DNA_RATE_DEPRIVATION * deprivation,
                dispensing=bool(rng.random() < DISPENSING_SHARE),
                need_factor=float(rng.uniform(0.98, 1.02)),
            )
        )

    def move_one_practice(self, month: int) -> None:
        """Move one practice to a PCN of a sibling neighbourhood (same place) from `month`."""
        for place_index in range(len(self.places)):
            nbhs = [i for i, n in enumerate(self.neighbourhoods) if n.place == place_index]
            if len(nbhs) < 2:
                continue
            source = [i for i, p in enumerate(self.pcns) if p.neighbourhood == nbhs[0]]
            target = [i for i, p in enumerate(self.pcns) if p.neighbourhood == nbhs[1]]
            for pcn_index in source:
                members = [p for p in self.practices if p.spells[0].pcn == pcn_index]
                if len(members) >= 2:
                    self._move(members[-1], target[0], month)
                    return
        raise ValueError("no place has two neighbourhoods and a PCN of two practices to move from")

    def _move(self, practice: Practice, pcn_index: int, month: int) -> None:
        start = self.config.month_starts[month]
        spells = (
            Spell(practice.spells[0].pcn, 0, ORGANISATIONS_START, start - timedelta(days=1)),
            Spell(pcn_index, month, start, None),
        )
        self.practices[practice.index] = replace(practice, spells=spells)

    def finish(self) -> Geography:
        staff = pl.DataFrame(
            self.staff,
            schema={
                "clinician": pl.Int64,
                "practice": pl.Int64,
                "pcn": pl.Int64,
                "staff_group": pl.String,
                "role": pl.String,
                "is_arrs_funded": pl.Boolean,
                "fte_mean": pl.Float64,
            },
        )
        return Geography(
            icbs=self.icbs,
            places=self.places,
            neighbourhoods=self.neighbourhoods,
            pcns=self.pcns,
            providers=self.providers,
            practices=self.practices,
            lsoa_percentile=np.concatenate(self.lsoa_percentile),
            staff=staff,
        )
