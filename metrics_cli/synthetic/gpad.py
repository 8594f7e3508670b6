"""The joint distribution of a GPAD practice-level crosstab cell.

A cell is (national category, HCP type, mode, booking interval, status). Each published
national category has its own staff mix, mode profile and booking-interval profile; the
mapping-problem categories (`Unmapped`, `Inconsistent Mapping`) carry the `Unknown` HCP
type, mode and status, and every busy category has some `Unknown / Data Quality` booking
intervals. A practice maps its appointments to the main categories and to some rare ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from metrics_cli.synthetic.config import (
    APPT_MODES,
    APPT_STATUSES,
    BOOKING_INTERVALS,
    GPAD_UNKNOWN_HCP,
    GPAD_UNKNOWN_STATUS,
    HCP_TYPES,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Category:
    text: str
    share: float
    gp_share: float
    intervals: str
    modes: str
    unknowns: bool  # carries Unknown HCP type and status
    always: bool  # every practice maps to it


CATEGORIES: tuple[Category, ...] = (
    Category("General Consultation Routine", 0.20, 0.55, "routine", "mixed", False, True),
    Category("General Consultation Acute", 0.17, 0.60, "acute", "mixed", False, True),
    Category("Clinical Triage", 0.12, 0.55, "triage", "remote", False, True),
    Category("Planned Clinics", 0.12, 0.10, "planned", "f2f", False, True),
    Category("Planned Clinical Procedure", 0.09, 0.10, "planned", "f2f", False, True),
    Category("Unplanned Clinical Activity", 0.03, 0.30, "acute", "f2f", False, False),
    Category("Structured Medication Review", 0.015, 0.20, "routine", "remote", False, False),
    Category("Home Visit", 0.005, 0.55, "acute", "home", False, True),
    Category("Care Home Visit", 0.003, 0.50, "routine", "home", False, False),
    Category(
        "Patient contact during Care Home Round", 0.002, 0.50, "planned", "home", False, False
    ),
    Category(
        "Care Home Needs Assessment & Personalised Care and Support Planning",
        0.002,
        0.30,
        "planned",
        "f2f",
        False,
        False,
    ),
    Category("Social Prescribing Service", 0.005, 0.0, "routine", "remote", False, False),
    Category(
        "Service provided by organisation external to the practice",
        0.01,
        0.05,
        "routine",
        "f2f",
        False,
        False,
    ),
    Category("Walk-in", 0.002, 0.20, "acute", "f2f", False, False),
    Category("Group Consultation and Group Education", 0.001, 0.05, "planned", "f2f", False, False),
    Category("Non-contractual chargeable work", 0.003, 0.40, "routine", "f2f", False, False),
    Category("Unmapped", 0.08, 0.45, "mixed", "unknown", True, True),
    Category("Inconsistent Mapping", 0.10, 0.45, "mixed", "unknown", True, True),
)
RARE_CATEGORY_USE = 0.3  # chance a practice maps to each rare category

# Modes in APPT_MODES order: Face-to-Face, Home Visit, Telephone, Video/Online, Unknown.
MODE_PROFILES: dict[str, FloatArray] = {
    "mixed": np.array([0.70, 0.0, 0.30, 0.0, 0.0]),
    "unknown": np.array([0.68, 0.0, 0.27, 0.02, 0.03]),
    "remote": np.array([0.25, 0.0, 0.73, 0.02, 0.0]),
    "f2f": np.array([0.96, 0.0, 0.04, 0.0, 0.0]),
    "home": np.array([0.0, 1.0, 0.0, 0.0, 0.0]),
}
# Intervals in BOOKING_INTERVALS order; Same Day is at most 0.8 of the known ones, so the
# hub's uplift always fits.
INTERVAL_PROFILES: dict[str, FloatArray] = {
    "routine": np.array([0.22, 0.08, 0.26, 0.18, 0.10, 0.06, 0.08, 0.02]),
    "acute": np.array([0.72, 0.10, 0.12, 0.03, 0.01, 0.0, 0.0, 0.02]),
    "triage": np.array([0.76, 0.10, 0.10, 0.04, 0.0, 0.0, 0.0, 0.0]),
    "planned": np.array([0.08, 0.04, 0.20, 0.22, 0.16, 0.10, 0.18, 0.02]),
    "mixed": np.array([0.42, 0.07, 0.19, 0.13, 0.07, 0.04, 0.06, 0.02]),
}
# DNA risk by booking interval, relative to the practice's DNA rate.
DNA_BY_INTERVAL = np.array([0.4, 0.7, 1.0, 1.3, 1.5, 1.6, 1.8, 1.0])
CELL_SHAPE = (len(CATEGORIES), len(HCP_TYPES), len(APPT_MODES), len(BOOKING_INTERVALS), 3)
assert len(APPT_STATUSES) == 3


def with_same_day_uplift(intervals: FloatArray, uplift: float) -> FloatArray:
    """Raise Same Day's share of the known intervals by `uplift`, scaling the others down."""
    known = intervals[:-1].sum()
    shares = intervals[:-1] / known
    raised = shares[0] + uplift
    if raised > 1.0:
        raise ValueError("the same-day uplift would take Same Day above 100%")
    scaled = np.concatenate([[raised], shares[1:] * (1.0 - raised) / (1.0 - shares[0])])
    return np.concatenate([scaled * known, intervals[-1:]])


def used_categories(rng: np.random.Generator) -> BoolArray:
    """Which categories one practice maps appointments to."""
    always = np.array([c.always for c in CATEGORIES])
    return always | (rng.random(len(CATEGORIES)) < RARE_CATEGORY_USE)


def cell_probabilities(used: BoolArray, dna_rate: float, same_day_uplift: float) -> FloatArray:
    """Probabilities of every crosstab cell, flattened in CELL_SHAPE order."""
    blocks = []
    for category, in_use in zip(CATEGORIES, used, strict=True):
        unknown_hcp = GPAD_UNKNOWN_HCP if category.unknowns else 0.0
        unknown_status = GPAD_UNKNOWN_STATUS if category.unknowns else 0.0
        hcp = np.array([category.gp_share, 1.0 - category.gp_share, 0.0]) * (1.0 - unknown_hcp)
        hcp[2] = unknown_hcp
        intervals = with_same_day_uplift(INTERVAL_PROFILES[category.intervals], same_day_uplift)
        dna = dna_rate * DNA_BY_INTERVAL
        status = np.stack([1.0 - dna - unknown_status, dna, np.full(8, unknown_status)], axis=1)
        block = (
            (category.share if in_use else 0.0)
            * hcp[:, None, None, None]
            * MODE_PROFILES[category.modes][None, :, None, None]
            * (intervals[:, None] * status)[None, None, :, :]
        )
        blocks.append(block)
    cells = np.stack(blocks).ravel()
    return np.asarray(cells / cells.sum(), dtype=np.float64)
