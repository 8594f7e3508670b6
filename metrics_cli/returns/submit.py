"""`nbhd submit`: check an at-scale provider's return for a quarter is complete and write
it. The provider's membership and the matrix's criteria come from the warehouse's marts
(`practice_memberships`, `maturity_matrix`), read through `metrics_cli.warehouse`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from metrics_cli.errors import DataError, UsageError
from metrics_cli.returns.bundle import write_bundle
from metrics_cli.returns.datasets import (
    DATASETS_BY_NAME,
    RETURN_DATASETS,
    STATUSES,
    ReturnDataset,
    dataset_file,
    read_text,
    slice_columns,
    with_slices,
)
from metrics_cli.returns.membership import (
    PERIOD_LABEL,
    Quarter,
    member_practices,
    neighbourhood_owners,
    parse_quarter,
    provider_pcns,
)
from metrics_cli.schemas import add_months
from metrics_cli.warehouse import open_warehouse


@dataclass(frozen=True)
class SubmitOutcome:
    """What `nbhd submit` did: the return written, or the completeness problems found."""

    ok: bool
    provider: str
    period: str
    out: Path | None
    neighbourhoods: tuple[str, ...] = ()
    practices: tuple[str, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def summary(self) -> str:
        if not self.ok:
            lines = [
                f"The return of {self.provider} for {self.period} is incomplete, so nothing "
                f"was written ({len(self.problems)} problem(s)):"
            ]
            lines.extend(f"  - {problem}" for problem in self.problems)
            return "\n".join(lines)
        lines = [
            f"Return of {self.provider} for {self.period}: {len(self.neighbourhoods)} "
            f"neighbourhood(s), {len(self.practices)} practice(s), written to {self.out}"
        ]
        lines.extend(f"  {name:<24} {count:>12,} rows" for name, count in self.rows.items())
        return "\n".join(lines)


def submit(
    warehouse: Path, provider: str, period: str | None, data_dir: Path, out: Path
) -> SubmitOutcome:
    """Check a provider's return for a quarter is complete and write it as one zip bundle."""
    if not data_dir.is_dir():
        raise UsageError(f"input directory {data_dir} does not exist")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; give the return file's name, e.g. P1.zip")
    organisations, criteria = _warehouse_reference(warehouse)
    if provider not in set(organisations["provider_code"].drop_nulls().to_list()):
        raise UsageError(f"provider '{provider}' is not in the organisations of {warehouse}")
    frames: dict[str, pl.DataFrame] = {}
    for spec in RETURN_DATASETS:
        path = dataset_file(data_dir, spec.name)
        if path is None:
            continue
        frame = read_text(path)
        lacking = [column for column in slice_columns(spec) if column not in frame.columns]
        if lacking:
            raise DataError(f"{path} lacks column(s) {', '.join(lacking)}")
        frames[spec.name] = with_slices(frame, spec)
    quarter = parse_quarter(period) if period else _latest_period(frames, organisations, provider)
    practices = member_practices(organisations, provider, quarter.start, quarter.end)
    if not practices:
        raise UsageError(f"provider '{provider}' has no member practices in {quarter.label}")
    owners = neighbourhood_owners(organisations, quarter.end)
    neighbourhoods = {code for code, owner in owners.items() if owner == provider}
    owners_in_return = practices | {
        f"pcn:{pcn}" for pcn in provider_pcns(organisations, provider, quarter.start, quarter.end)
    }
    problems = _maturity_problems(
        frames.get("maturity_assessments"), neighbourhoods, criteria, quarter
    )
    problems += _appointment_problems(
        frames.get("gp_appointments"), organisations, provider, quarter
    )
    problems += _unreadable_period_problems(frames, owners_in_return)
    if problems:
        return SubmitOutcome(False, provider, quarter.label, None, problems=tuple(problems))
    selected = {
        name: _rows_in_return(
            frame, DATASETS_BY_NAME[name], owners_in_return, neighbourhoods, quarter
        )
        for name, frame in frames.items()
    }
    write_bundle(out, provider, quarter, sorted(neighbourhoods), sorted(practices), selected)
    return SubmitOutcome(
        ok=True,
        provider=provider,
        period=quarter.label,
        out=out,
        neighbourhoods=tuple(sorted(neighbourhoods)),
        practices=tuple(sorted(practices)),
        rows={name: frame.height for name, frame in selected.items()},
    )


def _warehouse_reference(warehouse: Path) -> tuple[pl.DataFrame, list[str]]:
    """The warehouse's practice memberships and the self-assessed criteria of its matrix."""
    with open_warehouse(warehouse) as opened:
        organisations = opened.read(
            "practice_memberships",
            (
                "practice_code",
                "pcn_code",
                "neighbourhood_code",
                "provider_code",
                "valid_from",
                "valid_to",
            ),
        )
        criteria = [
            str(row[0])
            for row in opened.rows(
                f"select criterion_id from {opened.relation('maturity_matrix')} "
                "where criterion_kind = 'self_assessed' order by criterion_id"
            )
        ]
    return organisations, criteria


def _latest_period(
    frames: Mapping[str, pl.DataFrame], organisations: pl.DataFrame, provider: str
) -> Quarter:
    """The latest assessment period with a row for a neighbourhood of the provider's practices."""
    assessments = frames.get("maturity_assessments")
    mine = organisations.filter(pl.col("provider_code") == provider)["neighbourhood_code"]
    labels: list[str] = []
    if assessments is not None:
        labels = (
            assessments.filter(pl.col("neighbourhood_code").is_in(mine.implode()))[
                "assessment_period"
            ]
            .drop_nulls()
            .unique()
            .to_list()
        )
    quarters = [parse_quarter(label) for label in labels if PERIOD_LABEL.match(label)]
    if not quarters:
        raise UsageError(
            f"no maturity_assessments rows for the neighbourhoods of '{provider}': give --period"
        )
    return max(quarters, key=lambda quarter: quarter.start)


def _maturity_problems(
    assessments: pl.DataFrame | None,
    neighbourhoods: set[str],
    criteria: Sequence[str],
    quarter: Quarter,
) -> list[str]:
    """Every member neighbourhood assesses every self-assessed criterion, once, validly."""
    if not neighbourhoods:
        return []
    if assessments is None:
        return [
            f"maturity_assessments is missing, so no neighbourhood has assessed {quarter.label}"
        ]
    rows = assessments.filter(
        (pl.col("assessment_period") == quarter.label)
        & pl.col("neighbourhood_code").is_in(sorted(neighbourhoods))
    )
    problems: list[str] = []
    known = set(criteria)
    for code in sorted(neighbourhoods):
        mine = rows.filter(pl.col("neighbourhood_code") == code)
        counts = mine.group_by("criterion_id").len()
        missing = [c for c in criteria if c not in set(counts["criterion_id"].to_list())]
        if missing:
            problems.append(
                f"neighbourhood {code} has not assessed {len(missing)} criterion(s) for "
                f"{quarter.label}: {', '.join(missing)}"
            )
        repeated = sorted(counts.filter(pl.col("len") > 1)["criterion_id"].to_list())
        if repeated:
            problems.append(
                f"neighbourhood {code} assessed {', '.join(repeated)} more than once "
                f"for {quarter.label}"
            )
        unknown = sorted(set(mine["criterion_id"].to_list()) - known)
        if unknown:
            problems.append(
                f"neighbourhood {code} assessed {', '.join(unknown)}, "
                "which the matrix does not hold"
            )
        bad = sorted(set(mine["status"].to_list()) - set(STATUSES))
        if bad:
            problems.append(
                f"neighbourhood {code} used status {', '.join(map(str, bad))}; "
                f"allowed: {', '.join(STATUSES)}"
            )
    return problems


def _appointment_problems(
    appointments: pl.DataFrame | None, organisations: pl.DataFrame, provider: str, quarter: Quarter
) -> list[str]:
    """Every member practice has gp_appointments rows for every month it was a member."""
    expected: list[tuple[str, str]] = []
    for month in quarter.months():
        month_end = add_months(month, 1) - dt.timedelta(days=1)
        for practice in sorted(member_practices(organisations, provider, month, month_end)):
            expected.append((practice, f"{month:%Y-%m}"))
    if appointments is None:
        return [f"gp_appointments is missing, so no practice has data for {quarter.label}"]
    present = set(
        zip(appointments["_owner"].to_list(), appointments["_slice"].to_list(), strict=True)
    )
    missing: dict[str, list[str]] = {}
    for practice, label in expected:
        if (practice, label) not in present:
            missing.setdefault(practice, []).append(label)
    return [
        f"practice {practice} has no gp_appointments rows for {', '.join(months)}"
        for practice, months in sorted(missing.items())
    ]


def _unreadable_period_problems(frames: Mapping[str, pl.DataFrame], owners: set[str]) -> list[str]:
    """Rows of member practices whose date or period cannot be read would silently fall
    out of every return: name them instead."""
    problems: list[str] = []
    for name, frame in frames.items():
        spec = DATASETS_BY_NAME[name]
        if spec.period_kind in ("snapshot", "assessment_period") or spec.period_column is None:
            continue
        unreadable = frame.filter(
            pl.col("_owner").is_in(sorted(owners)) & pl.col("_period_end").is_null()
        )
        if unreadable.height:
            problems.append(
                f"{unreadable.height} row(s) of {name} for member practices have an unreadable "
                f"{spec.period_column} (e.g. '{unreadable[spec.period_column][0]}')"
            )
    return problems


def _rows_in_return(
    frame: pl.DataFrame,
    spec: ReturnDataset,
    owners: set[str],
    neighbourhoods: set[str],
    quarter: Quarter,
) -> pl.DataFrame:
    """The provider's rows of one dataset that this quarter's return carries: dated rows of
    the quarter, yearly rows in the quarter their year ends, the whole patients snapshot."""
    mine = frame.filter(
        pl.col("_owner").is_in(sorted(neighbourhoods if spec.owned_by_neighbourhood else owners))
    )
    if spec.period_kind == "assessment_period":
        mine = mine.filter(pl.col("_slice") == quarter.label)
    elif spec.period_kind != "snapshot":
        mine = mine.filter(pl.col("_period_end").is_between(quarter.start, quarter.end))
    return mine.drop("_owner", "_slice", "_period_end")
