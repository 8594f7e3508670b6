"""`nbhd consolidate`: merge provider returns into the ICB's input directory, checking
each against the organisations and the ledger; all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics_cli.errors import UsageError
from metrics_cli.returns.bundle import Bundle, Refusal, open_bundle
from metrics_cli.returns.datasets import (
    DATASETS_BY_NAME,
    dataset_file,
    read_organisations,
    with_slices,
)
from metrics_cli.returns.ledger import (
    LEDGER,
    LOG_FILE,
    Plan,
    SliceKey,
    apply_plan,
    base_slices,
    ledger_lock,
    load_plan,
    release,
    without_slices,
)
from metrics_cli.returns.membership import (
    member_practices,
    neighbourhood_owners,
    provider_pcns,
)


@dataclass(frozen=True)
class ReturnResult:
    """What happened to one return file: accepted, replaced, unchanged or refused."""

    file: Path
    provider: str
    period: str
    action: str
    detail: str
    rows_added: int = 0
    rows_removed: int = 0


@dataclass(frozen=True)
class ConsolidateOutcome:
    """All the returns of one `nbhd consolidate`: it writes nothing if any is refused."""

    into: Path
    results: tuple[ReturnResult, ...]

    @property
    def ok(self) -> bool:
        return all(result.action != "refused" for result in self.results)

    def summary(self) -> str:
        lines = []
        for result in self.results:
            who = f"{result.provider} {result.period}" if result.provider else "(unreadable)"
            line = f"{result.action:<9} {who} ({result.file.name})"
            if result.action in ("accepted", "replaced"):
                line += f": {result.rows_added:,} rows added, {result.rows_removed:,} removed"
            if result.detail:
                line += (
                    f": {result.detail}"
                    if result.action not in ("accepted", "replaced")
                    else (f"; {result.detail}")
                )
            lines.append(line)
        if self.ok:
            lines.append(
                f"Consolidated into {self.into}; the ledger is {self.into / LEDGER / LOG_FILE}"
            )
        else:
            lines.append(
                f"Nothing was written to {self.into}: the refused returns must be fixed first."
            )
        return "\n".join(lines)


def consolidate(files: list[Path], into: Path, replace: bool) -> ConsolidateOutcome:
    """Merge return bundles into an input directory; all or nothing (docs/maturity.md)."""
    if not into.is_dir():
        raise UsageError(f"input directory {into} does not exist")
    organisations_path = dataset_file(into, "organisations")
    if organisations_path is None:
        raise UsageError(
            f"{into} holds no organisations file, so who may return what cannot be checked"
        )
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise UsageError(f"return file(s) not found: {', '.join(missing)}")
    organisations = read_organisations(organisations_path)
    ledger = into / LEDGER
    with ledger_lock(ledger):
        plan = load_plan(ledger)
        results = [_plan_return(path, organisations, plan, replace, into) for path in files]
        outcome = ConsolidateOutcome(into, tuple(results))
        if outcome.ok and any(r.action in ("accepted", "replaced") for r in results):
            apply_plan(plan, into)
        return outcome


def _plan_return(
    path: Path, organisations: pl.DataFrame, plan: Plan, replace: bool, into: Path
) -> ReturnResult:
    """Check one return against the ledger as planned so far, and add it to the plan."""
    try:
        bundle = open_bundle(path)
    except Refusal as refusal:
        return ReturnResult(path, "", "", "refused", str(refusal))
    return_id = f"{bundle.provider}|{bundle.quarter.label}"
    previous = plan.returns.get(return_id)

    def result(action: str, detail: str, added: int = 0, removed: int = 0) -> ReturnResult:
        return ReturnResult(
            path, bundle.provider, bundle.quarter.label, action, detail, added, removed
        )

    if previous is not None and previous["content_sha256"] == bundle.content_sha256:
        return result("unchanged", "identical to the return already merged; nothing to do")
    if previous is not None and not replace:
        return result(
            "refused",
            "a different return for this provider and period was merged before; "
            "run again with --replace to replace it",
        )
    problems = _ownership_problems(bundle, organisations)
    if problems:
        return result("refused", _listed(problems))
    slices = {
        name: with_slices(frame, DATASETS_BY_NAME[name]) for name, frame in bundle.frames.items()
    }
    conflicts, takeovers, skipped = _slice_conflicts(slices, return_id, bundle, plan, into)
    if conflicts:
        return result("refused", _listed(conflicts))
    removed = 0
    if previous is not None:
        own = {key for key, holder in plan.slices.items() if holder == return_id}
        removed += release(plan, into, own)
    removed += release(plan, into, takeovers)
    added = 0
    for name, frame in slices.items():
        kept = without_slices(frame, skipped.get(name, set()))
        plan.additions[(name, return_id)] = kept
        added += kept.height
        for owner, period in set(
            zip(kept["_owner"].to_list(), kept["_slice"].to_list(), strict=True)
        ):
            plan.slices[(name, owner, period)] = return_id
    stored = f"{bundle.provider}/{bundle.quarter.label.replace('/', '-').replace(' ', '-')}.zip"
    plan.returns[return_id] = {
        "return_id": return_id,
        "provider": bundle.provider,
        "period": bundle.quarter.label,
        "period_end": bundle.quarter.end.isoformat(),
        "content_sha256": bundle.content_sha256,
        "stored_file": stored,
    }
    plan.stored[stored] = bundle.data
    detail = ""
    if skipped:
        count = sum(len(keys) for keys in skipped.values())
        detail = f"{count} patients snapshot(s) older than those already merged were not used"
    action = "replaced" if previous is not None else "accepted"
    plan.log.append(
        {
            "action": action,
            "provider": bundle.provider,
            "period": bundle.quarter.label,
            "file": str(path),
            "content_sha256": bundle.content_sha256,
            "rows_added": str(added),
            "rows_removed": str(removed),
            "detail": detail,
        }
    )
    return result(action, detail, added, removed)


def _listed(problems: Sequence[str], limit: int = 10) -> str:
    shown = "; ".join(problems[:limit])
    more = len(problems) - limit
    return shown + (f"; and {more} more" if more > 0 else "")


def _ownership_problems(bundle: Bundle, organisations: pl.DataFrame) -> list[str]:
    """Rows the provider may not return: other providers' practices, PCNs or
    neighbourhoods, or periods outside the return's quarter."""
    quarter = bundle.quarter
    practices = member_practices(organisations, bundle.provider, quarter.start, quarter.end)
    pcns = provider_pcns(organisations, bundle.provider, quarter.start, quarter.end)
    owners = neighbourhood_owners(organisations, quarter.end)
    neighbourhoods = {code for code, owner in owners.items() if owner == bundle.provider}
    problems: list[str] = []
    for name, frame in sorted(bundle.frames.items()):
        spec = DATASETS_BY_NAME[name]
        if frame.is_empty():
            continue
        sliced = with_slices(frame, spec)
        for owner in sorted(set(sliced["_owner"].to_list()), key=str):
            if spec.owned_by_neighbourhood:
                if owner not in neighbourhoods:
                    problems.append(
                        f"{name} rows for neighbourhood {owner}, whose assessment "
                        f"{bundle.provider} does not return in {quarter.label}"
                    )
            elif str(owner).startswith("pcn:"):
                if owner[4:] not in pcns:
                    problems.append(
                        f"{name} rows for PCN {owner[4:]}, which has no practice of "
                        f"{bundle.provider} in {quarter.label}"
                    )
            elif owner not in practices:
                problems.append(
                    f"{name} rows for practice {owner}, which does not report through "
                    f"{bundle.provider} in {quarter.label}"
                )
        if spec.period_kind == "assessment_period":
            outside = sliced.filter(pl.col("_slice") != quarter.label)
        elif spec.period_kind == "snapshot":
            outside = sliced.clear()
        else:
            outside = sliced.filter(
                ~pl.col("_period_end").is_between(quarter.start, quarter.end).fill_null(False)
            )
        if outside.height:
            problems.append(f"{outside.height} {name} row(s) fall outside {quarter.label}")
    return problems


def _slice_conflicts(
    slices: Mapping[str, pl.DataFrame],
    return_id: str,
    bundle: Bundle,
    plan: Plan,
    into: Path,
) -> tuple[list[str], set[SliceKey], dict[str, set[tuple[str, str]]]]:
    """Slices another source already supplies (conflicts), patients snapshots this return
    supersedes (takeovers) and older snapshots it must not use (skipped)."""
    conflicts: list[str] = []
    takeovers: set[SliceKey] = set()
    skipped: dict[str, set[tuple[str, str]]] = {}
    for name, frame in sorted(slices.items()):
        spec = DATASETS_BY_NAME[name]
        base = base_slices(plan, into, name)
        keys = sorted(set(zip(frame["_owner"].to_list(), frame["_slice"].to_list(), strict=True)))
        for owner, period in keys:
            current = plan.slices.get((name, owner, period))
            where = f"{name} for {owner}" + (f" {period}" if period else "")
            if current == return_id:
                continue
            if current is not None and spec.period_kind == "snapshot":
                if plan.returns[current]["period_end"] < bundle.quarter.end.isoformat():
                    takeovers.add((name, owner, period))
                else:
                    skipped.setdefault(name, set()).add((owner, period))
            elif current is not None:
                conflicts.append(f"{where} is already supplied by the return {current}")
            elif (owner, period) in base:
                conflicts.append(f"{where} is already in {into.name} from outside any return")
    return conflicts, takeovers, skipped
