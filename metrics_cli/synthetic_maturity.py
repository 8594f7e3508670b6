"""Synthetic maturity self-assessments for the generator (`nbhd generate`).

Every neighbourhood assesses every self-assessed criterion of the shipped default matrix
for the quarter holding the last month of data and the quarter before it. Each neighbourhood
has a level per domain: criteria up to it are met, the next level is partly there, higher
levels are not. The neighbourhood with the lowest code overstates: it claims every criterion
of the five domains that carry metric criteria, so reports show the calibration flag.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from metrics_cli.maturity import Criterion, default_matrix_dir, read_matrix

COLUMNS = (
    "assessment_period",
    "neighbourhood_code",
    "submitted_by",
    "criterion_id",
    "status",
    "evidence",
    "evidence_url",
    "assessed_on",
)
# Domains whose levels the metrics also judge: the overstating neighbourhood claims all of them.
METRIC_DOMAINS = frozenset(
    {
        "urgent_access",
        "proactive_care",
        "prevention_inequalities",
        "workforce",
        "care_closer_to_home",
    }
)
LEVEL_CHANCES = (0.05, 0.30, 0.35, 0.20, 0.10)  # levels 0..4
# Evidence that prints literally only if reports escape it (HTML, CSS and template syntax).
MARKUP_EVIDENCE = (
    "Terms of reference <b>signed</b> by all partners & the county council; board pack "
    '"Q2 & Q3" </style> {{ appendix }}'
)
MET_EVIDENCE = (
    "Signed agreement held by the neighbourhood board, reviewed {when}.",
    "Board minutes of {when} record this as in place across all member practices.",
    "Audit completed {when}; results shared with partners.",
    "Operating since {when}; activity reported monthly to the board.",
)
PARTLY_EVIDENCE = (
    "In place in some member practices; the rest plan to join by {when}.",
    "Pilot running since {when}; not yet across the whole neighbourhood.",
)
NOT_MET_EVIDENCE = (
    "Not yet in place; the board has it on its plan for {when}.",
    "Discussed by the board on {when}; no agreement yet.",
)


def financial_quarter(month: dt.date) -> tuple[str, dt.date, dt.date]:
    """Label, first and last day of the financial-year quarter holding `month`."""
    start_year = month.year if month.month >= 4 else month.year - 1
    quarter = (month.month - 4) % 12 // 3 + 1
    first_month = (month.month - 1) // 3 * 3 + 1
    start = dt.date(month.year, first_month, 1)
    end = _add_months(start, 3) - dt.timedelta(days=1)
    return f"{start_year}/{(start_year + 1) % 100:02d} Q{quarter}", start, end


def maturity_assessments(
    organisations: pl.DataFrame, last_month: dt.date, rng: np.random.Generator
) -> pl.DataFrame:
    """maturity_assessments rows (spec columns) for every neighbourhood, last two quarters."""
    criteria = read_matrix(default_matrix_dir())[0].self_assessed()
    domains = sorted({c.domain_id for c in criteria})
    submitters = _submitters(organisations, last_month)
    latest = financial_quarter(last_month)
    earlier = financial_quarter(_add_months(latest[1], -3))
    overstating = min(submitters) if submitters else None
    rows: list[dict[str, object]] = []
    markup_used = False
    for code in sorted(submitters):
        levels = rng.choice(len(LEVEL_CHANCES), size=len(domains), p=LEVEL_CHANCES)
        progress = rng.integers(0, 2, size=len(domains))
        for label, start, end, step_back in (
            (*earlier, True),
            (*latest, False),
        ):
            for criterion in criteria:
                index = domains.index(criterion.domain_id)
                level = int(levels[index]) - (int(progress[index]) if step_back else 0)
                if code == overstating and criterion.domain_id in METRIC_DOMAINS:
                    level = 4
                status = _status(criterion, max(level, 0), rng)
                evidence = _evidence(status, start, rng)
                if not markup_used and code == overstating and status == "met" and not step_back:
                    evidence, markup_used = MARKUP_EVIDENCE, True
                url = None
                if status == "met" and rng.random() < 0.4:
                    url = f"https://example.org/neighbourhoods/{code}/{criterion.criterion_id}"
                rows.append(
                    {
                        "assessment_period": label,
                        "neighbourhood_code": code,
                        "submitted_by": submitters[code],
                        "criterion_id": criterion.criterion_id,
                        "status": status,
                        "evidence": evidence,
                        "evidence_url": url,
                        "assessed_on": end + dt.timedelta(days=int(rng.integers(3, 29))),
                    }
                )
    schema = {column: pl.Utf8 for column in COLUMNS} | {"assessed_on": pl.Date}
    return pl.DataFrame(rows, schema=schema, orient="row").select(COLUMNS)


def _status(criterion: Criterion, level: int, rng: np.random.Generator) -> str:
    """Met up to the neighbourhood's level, partly there at the next, mostly not beyond."""
    criterion_level = criterion.level or 1
    if criterion_level <= level:
        return "met"
    if criterion_level == level + 1:
        return str(rng.choice(["partially_met", "not_met", "not_assessed"], p=[0.5, 0.4, 0.1]))
    return str(rng.choice(["not_met", "not_assessed"], p=[0.75, 0.25]))


def _evidence(status: str, quarter_start: dt.date, rng: np.random.Generator) -> str:
    if status == "not_assessed":
        return "Not assessed this quarter."
    templates = {"met": MET_EVIDENCE, "partially_met": PARTLY_EVIDENCE}.get(
        status, NOT_MET_EVIDENCE
    )
    template = templates[int(rng.integers(0, len(templates)))]
    when = quarter_start + dt.timedelta(days=int(rng.integers(0, 80)))
    return template.format(when=f"{when.day} {when:%B %Y}")


def _submitters(organisations: pl.DataFrame, last_month: dt.date) -> dict[str, str]:
    """Each neighbourhood and who returns its assessment: the at-scale provider most of its
    practices report through, or its ICB where most report through none (ties: a provider
    before the ICB, then the lowest code), as metrics_cli.submit decides ownership."""
    month_end = _add_months(last_month.replace(day=1), 1) - dt.timedelta(days=1)
    frame = organisations.with_columns(
        pl.col("valid_from").cast(pl.Utf8).str.to_date("%Y-%m-%d"),
        pl.col("valid_to").cast(pl.Utf8).str.to_date("%Y-%m-%d"),
    )
    current = frame.filter(
        (pl.col("valid_from") <= month_end)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= month_end))
    )
    if current.is_empty():
        current = frame
    counted = (
        current.with_columns(
            pl.coalesce("provider_code", "icb_code").alias("submitter"),
            pl.col("provider_code").is_null().alias("is_icb"),
        )
        .group_by("neighbourhood_code", "submitter", "is_icb")
        .agg(pl.len().alias("practices"))
        .sort(
            ["neighbourhood_code", "practices", "is_icb", "submitter"],
            descending=[False, True, False, False],
        )
        .unique("neighbourhood_code", keep="first", maintain_order=True)
    )
    return dict(zip(counted["neighbourhood_code"], counted["submitter"], strict=True))


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, day.day)
