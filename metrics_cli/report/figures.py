"""Reading a report's figures from the marts: the catalogue, the period, the geography and
its neighbours, the disclosed values with their judgements, SPC series and inequality gaps.

Everything comes through the read-only access module (`metrics_cli.warehouse`) from the
disclosed marts and the judgement marts: nothing here recomputes a statistic, decides a
judgement or decides what to withhold. `metric_values`, `metric_spc` and `inequality_gaps`
hold exact figures and are never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from metrics_cli.disclosure import settings_from_build_vars
from metrics_cli.errors import DataError, UsageError
from metrics_cli.marts import METRIC_VALUES_COLUMNS
from metrics_cli.report.charts import SpcPoint
from metrics_cli.report.text import GEOGRAPHY_LABELS
from metrics_cli.report.views import (
    BENCHMARK_PRIORITY,
    GRAIN_ORDER,
    SCOPE_TYPES,
    Figure,
    GapRow,
    Geography,
    GeographyContext,
    Metric,
    ReportPeriod,
    SpcView,
    YearBefore,
)
from metrics_cli.warehouse import Warehouse

DISCLOSED_COLUMNS = (*METRIC_VALUES_COLUMNS, "is_suppressed")
JUDGEMENT_COLUMNS = (
    "year_before_period_label",
    "year_before_value",
    "year_before_lower_95",
    "year_before_upper_95",
    "year_before_is_suppressed",
    "spc_point_type",
    "change_from_year_before",
    "comparison_to_icb",
)
"""The metric_judgements columns a report shows beside each disclosed figure."""


def load_catalogue(wh: Warehouse) -> dict[str, Metric]:
    """The metric catalogue seed, in its own order."""
    frame = wh.read("metric_catalogue")
    catalogue: dict[str, Metric] = {}
    for row in frame.iter_rows(named=True):
        catalogue[row["metric_id"]] = Metric(
            metric_id=row["metric_id"],
            title=row["title"],
            description=row.get("description") or "",
            unit=row["unit"],
            method=row.get("method") or "none",
            polarity=row["polarity"],
            family=row["family"],
            policy_aim=row.get("policy_aim") or "",
            source_datasets=tuple(str(row["source_datasets"] or "").split("|")),
            breakdowns=tuple(str(row.get("breakdowns") or "all").split("|")),
        )
    return catalogue


def resolve_period(wh: Warehouse, label: str | None) -> ReportPeriod:
    """The period asked for by label, else the latest month loaded."""
    metric_values = wh.relation("disclosed_metric_values")
    if label is not None:
        row = wh.one(f"select max(period_end) from {metric_values} where period_label = ?", [label])
        if row is None or row[0] is None:
            raise UsageError(f"no period labelled '{label}' in the warehouse")
        return ReportPeriod(label=label, end=row[0])
    row = wh.one(
        f"select period_label, period_end from {metric_values} "
        "order by period_grain <> 'month', period_end desc limit 1",
    )
    if row is None:
        raise DataError("the warehouse holds no metric values; check the build's data_quality")
    return ReportPeriod(label=row[0], end=row[1])


def _snapshot(wh: Warehouse, as_at: date) -> date:
    """The month end of the hierarchy to use: the latest on or before `as_at`, else the first."""
    row = wh.one(
        "select coalesce(max(case when period_end <= ? then period_end end), min(period_end)) "
        f"from {wh.relation('geography_snapshots')}",
        [as_at],
    )
    if row is None or row[0] is None:
        raise DataError("the warehouse holds no organisations; check the build's data_quality")
    result: date = row[0]
    return result


def list_scopes(wh: Warehouse, as_at: date) -> list[tuple[str, str]]:
    """Every neighbourhood, provider, place and ICB in the hierarchy at the period end."""
    snapshot = _snapshot(wh, as_at)
    rows = wh.rows(
        f"select distinct geography_type, geography_code "
        f"from {wh.relation('geography_snapshots')} "
        f"where period_end = ? and geography_type in ('neighbourhood', 'provider', 'place', 'icb')",
        [snapshot],
    )
    order = {kind: i for i, kind in enumerate(SCOPE_TYPES)}
    return sorted(((str(t), str(c)) for t, c in rows), key=lambda s: (order[s[0]], s[1]))


def geography_context(wh: Warehouse, scope: tuple[str, str], as_at: date) -> GeographyContext:
    """The scope, its parent and ICB, its peers within the ICB and its practices."""
    kind, code = scope
    if kind not in SCOPE_TYPES:
        raise UsageError(f"reports are for {', '.join(SCOPE_TYPES)}, not '{kind}'")
    snapshot = _snapshot(wh, as_at)
    geographies = wh.frame(
        "select practice_code, geography_type, geography_code, geography_name, parent_type, "
        f"parent_code from {wh.relation('geography_snapshots')} where period_end = ?",
        [snapshot],
    )
    names = {
        (row["geography_type"], row["geography_code"]): row["geography_name"]
        or row["geography_code"]
        for row in geographies.unique(["geography_type", "geography_code"]).iter_rows(named=True)
    }

    def geography(geo_type: str, geo_code: str) -> Geography:
        return Geography(geo_type, geo_code, str(names.get((geo_type, geo_code), geo_code)))

    practices = sorted(
        geographies.filter((pl.col("geography_type") == kind) & (pl.col("geography_code") == code))[
            "practice_code"
        ].to_list()
    )
    if not practices:
        raise UsageError(f"no {GEOGRAPHY_LABELS[kind]} with code '{code}' in the warehouse")
    in_scope = geographies.filter(pl.col("practice_code").is_in(practices))
    parent_rows = (
        geographies.filter(
            (pl.col("geography_type") == kind)
            & (pl.col("geography_code") == code)
            & pl.col("parent_code").is_not_null()
        )
        .select("parent_type", "parent_code")
        .unique()
        .rows()
    )
    parent = geography(parent_rows[0][0], parent_rows[0][1]) if parent_rows else None
    icb_codes = in_scope.filter(pl.col("geography_type") == "icb")["geography_code"].mode().sort()
    icb = geography("icb", icb_codes[0]) if len(icb_codes) else None
    icb_practices = (
        geographies.filter(
            (pl.col("geography_type") == "icb") & (pl.col("geography_code") == icb.code)
        )["practice_code"]
        if icb is not None
        else pl.Series([], dtype=pl.String)
    )
    peer_type = "neighbourhood" if kind == "icb" else kind
    peer_codes = (
        geographies.filter(
            pl.col("practice_code").is_in(icb_practices.to_list())
            & (pl.col("geography_type") == peer_type)
        )["geography_code"]
        .unique()
        .sort()
        .to_list()
    )
    neighbourhood_codes = (
        in_scope.filter(pl.col("geography_type") == "neighbourhood")["geography_code"]
        .unique()
        .sort()
        .to_list()
    )
    return GeographyContext(
        scope=geography(kind, code),
        parent=parent,
        icb=icb,
        peers=tuple(geography(peer_type, c) for c in peer_codes),
        neighbourhoods=tuple(geography("neighbourhood", c) for c in neighbourhood_codes),
        practices=tuple(practices),
        snapshot=snapshot,
    )


GEOGRAPHY_KEY = ["geography_type", "geography_code"]

# Rows per Parquet row group of the values `report --all` hands its workers: sorted by
# geography, so a report reads the few row groups holding its geographies.
ROW_GROUP_ROWS = 20_000


class DisclosedValues:
    """The disclosure-controlled rows with their judgements, read a few geographies at a
    time: a report needs only its scope, parent, ICB and peers.

    Held in memory (one report, or the tests), or in a Parquet file sorted by geography
    (`write_for_workers`) that each `report --all` worker reads by row group, so no worker
    holds the rows of every geography: at national scale that was 8 GB a worker."""

    def __init__(self, source: pl.LazyFrame, produced: frozenset[str]) -> None:
        self._source = source
        self.produced = produced

    @classmethod
    def in_memory(cls, frame: pl.DataFrame) -> DisclosedValues:
        return cls(frame.lazy(), _metric_ids(frame.lazy()))

    @classmethod
    def from_parquet(cls, path: Path) -> DisclosedValues:
        source = pl.scan_parquet(path)
        return cls(source, _metric_ids(source))

    def of(self, geographies: Iterable[Geography | None]) -> pl.DataFrame:
        """Every row of the given geographies."""
        keys = {(g.type, g.code) for g in geographies if g is not None}
        wanted = pl.LazyFrame(
            {"geography_type": [t for t, _ in keys], "geography_code": [c for _, c in keys]},
            schema={"geography_type": pl.String, "geography_code": pl.String},
        )
        return (
            self._source.filter(pl.col("geography_code").is_in([c for _, c in keys]))
            .join(wanted, on=GEOGRAPHY_KEY, how="semi", maintain_order="left")
            .collect()
        )


def _metric_ids(source: pl.LazyFrame) -> frozenset[str]:
    found = source.select(pl.col("metric_id").unique()).collect().get_column("metric_id")
    return frozenset(found.to_list())


def write_for_workers(frame: pl.DataFrame, path: Path) -> None:
    """The values as `DisclosedValues.from_parquet` reads them best: sorted by geography
    code, in small row groups whose statistics let a reader skip the rest."""
    frame.sort(["geography_code", "geography_type"], maintain_order=True).write_parquet(
        path, row_group_size=ROW_GROUP_ROWS, statistics=True
    )


def load_disclosed_metric_values(wh: Warehouse, icb_codes: Sequence[str] | None) -> pl.DataFrame:
    """The disclosure-controlled rows (the `disclosed_metric_values` mart) with their
    judgements (the `metric_judgements` mart), of the geographies inside the given ICBs and
    `all` (every row for None).

    Disclosure control is decided once per build over every row, so the cells a report
    withholds are the cells every other report and the published files withhold.
    """
    columns = ", ".join(
        [f"disclosed.{c}" for c in DISCLOSED_COLUMNS]
        + [f"judgements.{c}" for c in JUDGEMENT_COLUMNS]
    )
    source = f"""
        {wh.relation("disclosed_metric_values")} as disclosed
        left join {wh.relation("metric_judgements")} as judgements
            on judgements.metric_id = disclosed.metric_id
            and judgements.period_grain = disclosed.period_grain
            and judgements.period_start = disclosed.period_start
            and judgements.geography_type = disclosed.geography_type
            and judgements.geography_code = disclosed.geography_code
            and judgements.breakdown_type = disclosed.breakdown_type
            and judgements.breakdown_value = disclosed.breakdown_value
    """
    if icb_codes is None:
        return wh.frame(f"select {columns} from {source}")
    snapshots = wh.relation("geography_snapshots")
    return wh.frame(
        f"""
        with icb_practices as (
            select distinct period_end, practice_code
            from {snapshots}
            where geography_type = 'icb' and list_contains(?, geography_code)
        ),
        icb_geographies as (
            select distinct geographies.geography_type, geographies.geography_code
            from {snapshots} as geographies
            inner join icb_practices
                on geographies.period_end = icb_practices.period_end
                and geographies.practice_code = icb_practices.practice_code
        )
        select {columns}
        from {source}
        semi join icb_geographies
            on disclosed.geography_type = icb_geographies.geography_type
            and disclosed.geography_code = icb_geographies.geography_code
        """,
        [list(icb_codes)],
    )


# ---------------------------------------------------------------- picking rows


def _figure(row: Mapping[str, Any]) -> Figure:
    def number(name: str) -> float | None:
        value = row.get(name)
        return None if value is None else float(value)

    return Figure(
        metric_id=row["metric_id"],
        period_grain=row["period_grain"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        period_label=row["period_label"],
        geography_type=row["geography_type"],
        geography_code=row["geography_code"],
        breakdown_type=row["breakdown_type"],
        breakdown_value=row["breakdown_value"],
        numerator=number("numerator"),
        denominator=number("denominator"),
        unweighted_count=number("unweighted_count"),
        value=number("value"),
        lower_95=number("lower_95"),
        upper_95=number("upper_95"),
        method=row["method"],
        comparison_to_parent=row["comparison_to_parent"] or "not_compared",
        not_calculated_reason=row["not_calculated_reason"],
        is_suppressed=bool(row.get("is_suppressed")),
        change_from_year_before=row.get("change_from_year_before") or "not_comparable",
        comparison_to_icb=row.get("comparison_to_icb") or "not_compared",
        spc_point_type=row.get("spc_point_type"),
        year_before=None
        if row.get("year_before_period_label") is None
        else YearBefore(
            period_label=row["year_before_period_label"],
            value=number("year_before_value"),
            lower_95=number("year_before_lower_95"),
            upper_95=number("year_before_upper_95"),
            is_suppressed=bool(row.get("year_before_is_suppressed")),
        ),
    )


SeriesKey = tuple[str, str, str, str, str]


class FigureIndex:
    """Figures by metric, geography and breakdown, each list ordered by period end."""

    def __init__(self, figures: Iterable[Figure], as_at: date) -> None:
        self.as_at = as_at
        self._series: dict[SeriesKey, list[Figure]] = {}
        for figure in figures:
            key = (
                figure.metric_id,
                figure.geography_type,
                figure.geography_code,
                figure.breakdown_type,
                figure.breakdown_value,
            )
            self._series.setdefault(key, []).append(figure)
        for series in self._series.values():
            series.sort(key=lambda f: (f.period_end, -GRAIN_ORDER.get(f.period_grain, 9)))

    def series(
        self, metric_id: str, geo: Geography, breakdown: tuple[str, str] = ("all", "all")
    ) -> list[Figure]:
        """Rows ending on or before the report period end."""
        key = (metric_id, geo.type, geo.code, *breakdown)
        return [f for f in self._series.get(key, []) if f.period_end <= self.as_at]

    def latest(
        self, metric_id: str, geo: Geography, breakdown: tuple[str, str] = ("all", "all")
    ) -> Figure | None:
        """The latest row; between grains ending the same day, the longer grain."""
        series = self.series(metric_id, geo, breakdown)
        return series[-1] if series else None

    def matching(
        self, figure: Figure, geo: Geography, breakdown: tuple[str, str] | None = None
    ) -> Figure | None:
        """The row of another geography (or breakdown) for the same metric and period."""
        wanted = breakdown or (figure.breakdown_type, figure.breakdown_value)
        for candidate in self.series(figure.metric_id, geo, wanted):
            if (
                candidate.period_grain == figure.period_grain
                and candidate.period_start == figure.period_start
            ):
                return candidate
        return None

    def breakdown_values(self, metric_id: str, geo: Geography, breakdown_type: str) -> set[str]:
        return {
            key[4]
            for key in self._series
            if key[0] == metric_id
            and key[1] == geo.type
            and key[2] == geo.code
            and key[3] == breakdown_type
        }


def load_spc(
    wh: Warehouse,
    geo: Geography,
    as_at: date,
    catalogue: Mapping[str, Metric],
) -> dict[str, SpcView]:
    """SPC charts of the geography's monthly series, up to the report period end, from the
    `disclosed_metric_spc` mart.

    The build hides a withheld month's point and, with it, the series' mean and limits; such
    a series is not charted (`is_withheld`), and its icons are not shown.
    """
    if not wh.has("disclosed_metric_spc"):
        return {}
    frame = wh.frame(
        f"select * from {wh.relation('disclosed_metric_spc')} "
        "where geography_type = ? and geography_code = ? "
        "and breakdown_type = 'all' and period_start <= ? order by metric_id, period_start",
        [geo.type, geo.code, as_at],
    )
    if frame.is_empty():
        return {}
    views: dict[str, SpcView] = {}
    for (metric_id,), rows in frame.group_by(["metric_id"], maintain_order=True):
        metric = catalogue.get(str(metric_id))
        if metric is None:
            continue
        records = list(rows.iter_rows(named=True))
        last = records[-1]
        if rows["is_suppressed"].any():
            views[metric.metric_id] = SpcView(
                metric, (), None, None, _maybe_float(last["target"]), is_withheld=True
            )
            continue
        points = tuple(
            SpcPoint(
                period_start=r["period_start"],
                value=float(r["value"]),
                mean=_maybe_float(r["mean"]),
                lower_process_limit=_maybe_float(r["lower_process_limit"]),
                upper_process_limit=_maybe_float(r["upper_process_limit"]),
                lower_near_limit=_maybe_float(r["lower_near_limit"]),
                upper_near_limit=_maybe_float(r["upper_near_limit"]),
                point_type=r["point_type"],
            )
            for r in records
            if r["value"] is not None
        )
        if not points:
            continue
        is_last = bool(last["is_last_point"])
        views[metric.metric_id] = SpcView(
            metric=metric,
            points=points,
            variation_icon=last["variation_icon"] if is_last else None,
            assurance_icon=last["assurance_icon"] if is_last else None,
            target=_maybe_float(last["target"]),
        )
    return views


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def load_gaps(wh: Warehouse, scope: Geography) -> dict[tuple[str, str, str], GapRow]:
    """The scope's rows of the `disclosed_inequality_gaps` mart (the build has hidden what a
    withheld quintile would reveal), with their `inequality_judgements` columns."""
    if not wh.has("disclosed_inequality_gaps"):
        return {}
    frame = wh.frame(
        f"""
        select gaps.*, judgements.gap_direction, judgements.relative_gap
        from {wh.relation("disclosed_inequality_gaps")} as gaps
        left join {wh.relation("inequality_judgements")} as judgements
            on judgements.metric_id = gaps.metric_id
            and judgements.period_grain = gaps.period_grain
            and judgements.period_label = gaps.period_label
            and judgements.geography_type = gaps.geography_type
            and judgements.geography_code = gaps.geography_code
        where gaps.geography_type = ? and gaps.geography_code = ?
        """,
        [scope.type, scope.code],
    )
    gaps: dict[tuple[str, str, str], GapRow] = {}
    text_fields = (
        "metric_id",
        "period_grain",
        "period_label",
        "not_calculated_reason",
        "gap_direction",
    )
    for row in frame.iter_rows(named=True):
        values: dict[str, Any] = {}
        for name in GapRow.__dataclass_fields__:
            if name == "is_suppressed":
                values[name] = bool(row["is_suppressed"])
            elif name == "suppressed_columns":
                values[name] = tuple(filter(None, str(row[name] or "").split("|")))
            elif name == "gap_direction":
                values[name] = row[name] or "not_compared"
            elif name in text_fields:
                values[name] = row[name]
            else:
                values[name] = _maybe_float(row[name])
        gaps[(row["metric_id"], row["period_grain"], row["period_label"])] = GapRow(**values)
    return gaps


def in_geographies(geographies: Iterable[Geography | None]) -> pl.Expr:
    """True for the rows of the given geographies."""
    return pl.any_horizontal(
        False,
        *(
            (pl.col("geography_type") == g.type) & (pl.col("geography_code") == g.code)
            for g in geographies
            if g is not None
        ),
    )


def _rows_shown(disclosed: DisclosedValues, context: GeographyContext, as_at: date) -> pl.DataFrame:
    """The disclosure-controlled rows a report can print, picked set-based before any row
    becomes a Python object: every breakdown of the scope; the whole-population rows of its
    parent and ICB; and of its peers, the benchmarked metrics only. Rows ending after the
    report period are never shown."""
    scope, parent, icb = context.scope, context.parent, context.icb
    rows = disclosed.of([scope, parent, icb, *context.peers]).filter(pl.col("period_end") <= as_at)
    whole = (pl.col("breakdown_type") == "all") & (pl.col("breakdown_value") == "all")
    benchmarked = pl.col("metric_id").is_in(BENCHMARK_PRIORITY)
    parts = [
        rows.filter(in_geographies([scope])),
        rows.filter(in_geographies([parent, icb]) & whole),
        rows.filter(in_geographies(context.peers) & whole & benchmarked),
    ]
    return pl.concat(parts).unique(
        ["metric_id", "period_grain", "period_start", *GEOGRAPHY_KEY, "breakdown_type",
         "breakdown_value"],
        maintain_order=True,
    )


def disclosure_settings(wh: Warehouse) -> tuple[int, int]:
    """The threshold and rounding the warehouse was built with (raw.build_info's vars, read
    as publish reads them), else the defaults; only for the report's words on withholding."""
    if not wh.has("build_info"):
        return settings_from_build_vars(None)
    row = wh.one(f"select value from {wh.relation('build_info')} where key = 'vars'")
    return settings_from_build_vars(None if row is None else row[0])
