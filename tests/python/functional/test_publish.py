"""`nbhd publish` end to end on a small hand-made warehouse.

The warehouse holds the spec's marts for one ICB: practices A1, A2, A3 in PCN N1 and B1, B2
in PCN N2 (neighbourhoods H1, H2; place L1; ICB Q1). Hand-worked expectations:

- ae_attendance_rate 2024/25: practices 5, 30, 12 | 100, 76. The 5 is small; the 12 goes
  with it (smallest sibling in N1). At `all`, quintiles 3, 40, 50, 60, 70 of 223: the 3 and
  the 40 go. N1 = 47 is published as 45, `all` = 223 as 225.
- continuity_coc 2024/25: A1 has 9 patients (a mean from fewer than 10); A3 (25 patients)
  goes with it. N1's numerator, a sum of indices (39.8), is not published; its 74
  patients are published as 75.
- prem_overall_experience_positive 2024: 998 respondents, weighted 812.4 of 1001.7,
  published as 810 of 1000 with 1000 respondents.
- gp_fte_per_10k: 3.2 FTE per 4321.5 weighted patients, published exactly (no counts).
- dna_rate monthly: A1 had 4 DNAs in June 2024, so A1 and A2 (its sibling) are withheld
  that month; A1's SPC chart loses June's point and the whole series' mean and limits.

Those decisions are made by the build (int_disclosure_decisions and the disclosed marts);
this fixture writes the disclosed marts as the build would, as data, and publish only
reads them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli import __version__, disclosure
from metrics_cli.cli import main
from metrics_cli.disclosure import metric_kinds, protect_inequality_gaps, protect_spc
from metrics_cli.errors import DataError, UsageError
from metrics_cli.marts import METRIC_VALUES_COLUMNS
from metrics_cli.publish import disclosure_settings, publish

REPO_ROOT = Path(__file__).resolve().parents[3]
FY_START, FY_END = date(2024, 4, 1), date(2025, 3, 31)
MONTHS = [date(2024 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 16)]
PRACTICES = {"A1": "N1", "A2": "N1", "A3": "N1", "B1": "N2", "B2": "N2"}
NEIGHBOURHOOD = {"N1": "H1", "N2": "H2"}
NAMES = {
    "A1": "Abbey Surgery",
    "A2": "Bridge Practice",
    "A3": "Castle Health",
    "B1": "Dale Medical",
    "B2": "Elm Tree Surgery",
    "N1": "North PCN",
    "N2": "South PCN",
    "H1": "North Neighbourhood",
    "H2": "South Neighbourhood",
    "L1": "Lakeside Place",
    "Q1": "Lakeside ICB",
    "all": "All organisations loaded",
}
KEY = [
    "metric_id",
    "period_grain",
    "period_start",
    "geography_type",
    "geography_code",
    "breakdown_type",
    "breakdown_value",
]
EXPECTED_FILES = {
    "metric_values.csv",
    "metric_values.parquet",
    "inequality_gaps.csv",
    "inequality_gaps.parquet",
    "metric_spc.csv",
    "metric_spc.parquet",
    "maturity_levels.csv",
    "maturity_levels.parquet",
    "metric_catalogue.csv",
    "data_dictionary.csv",
    "data_dictionary.md",
    "changes.md",
    "manifest.json",
}


WITHHELD = {
    ("ae_attendance_rate", "practice", "A1", "all", "all"): "small_count",
    ("ae_attendance_rate", "practice", "A3", "all", "all"): "secondary",
    ("ae_attendance_rate", "all", "all", "imd_quintile", "1"): "small_count",
    ("ae_attendance_rate", "all", "all", "imd_quintile", "2"): "secondary",
    ("continuity_coc", "practice", "A1", "all", "all"): "small_base",
    ("continuity_coc", "practice", "A3", "all", "all"): "secondary",
    ("dna_rate", "practice", "A1", "all", "all", date(2024, 6, 1)): "small_count",
    ("dna_rate", "practice", "A2", "all", "all", date(2024, 6, 1)): "secondary",
}
"""The build's decisions for the fixture (see the module docstring), by metric, geography
and breakdown (and month for the monthly metric)."""


def month_end(start: date) -> date:
    following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def value_row(
    metric_id: str,
    grain: str,
    start: date,
    end: date,
    label: str,
    geography: tuple[str, str],
    numerator: float,
    denominator: float,
    unweighted: float,
    value: float,
    method: str,
    breakdown: tuple[str, str] = ("all", "all"),
) -> dict[str, object]:
    return {
        "metric_id": metric_id,
        "period_grain": grain,
        "period_start": start,
        "period_end": end,
        "period_label": label,
        "geography_type": geography[0],
        "geography_code": geography[1],
        "breakdown_type": breakdown[0],
        "breakdown_value": breakdown[1],
        "numerator": numerator,
        "denominator": denominator,
        "unweighted_count": unweighted,
        "value": value,
        "lower_95": value * 0.9,
        "upper_95": value * 1.1,
        "lower_998": value * 0.85,
        "upper_998": value * 1.15,
        "method": method,
        "comparison_to_parent": "similar",
        "not_calculated_reason": None,
    }


def ae_rows() -> list[dict[str, object]]:
    events = {"A1": 5, "A2": 30, "A3": 12, "B1": 100, "B2": 76}
    patients = {"A1": 1000, "A2": 2000, "A3": 1500, "B1": 5000, "B2": 4000}
    groups: dict[tuple[str, str], list[str]] = {}
    for practice, pcn in PRACTICES.items():
        for geography in [
            ("practice", practice),
            ("pcn", pcn),
            ("neighbourhood", NEIGHBOURHOOD[pcn]),
            ("place", "L1"),
            ("icb", "Q1"),
            ("all", "all"),
        ]:
            groups.setdefault(geography, []).append(practice)
    rows = []
    for geography, members in groups.items():
        n = sum(events[p] for p in members)
        d = sum(patients[p] for p in members)
        rows.append(
            value_row(
                "ae_attendance_rate", "financial_year", FY_START, FY_END, "2024/25",
                geography, n, d, n, n / d * 1000, "byars",
            )
        )
    for quintile, (n, d) in enumerate(
        [(3, 800), (40, 2500), (50, 3000), (60, 3500), (70, 3700)], start=1
    ):
        rows.append(
            value_row(
                "ae_attendance_rate", "financial_year", FY_START, FY_END, "2024/25",
                ("all", "all"), n, d, n, n / d * 1000,
                "exact_poisson" if n < 10 else "byars", ("imd_quintile", str(quintile)),
            )
        )
    return rows


def continuity_rows() -> list[dict[str, object]]:
    patients = {"A1": (9, 4.05), "A2": (40, 22.0), "A3": (25, 13.75), "N1": (74, 39.8)}
    return [
        value_row(
            "continuity_coc", "financial_year", FY_START, FY_END, "2024/25",
            ("pcn" if code == "N1" else "practice", code), total, n, n, total / n, "t_mean",
        )
        for code, (n, total) in patients.items()
    ]


def dna_rows() -> list[dict[str, object]]:
    rows = []
    for number, start in enumerate(MONTHS):
        a1 = 4 if start == date(2024, 6, 1) else 40 + number
        a2 = 30 + number
        for code, n, d in [("A1", a1, 800), ("A2", a2, 700), ("N1", a1 + a2, 1500)]:
            rows.append(
                value_row(
                    "dna_rate", "month", start, month_end(start), start.strftime("%Y-%m"),
                    ("pcn" if code == "N1" else "practice", code), n, d, n, n / d * 100,
                    "wilson",
                )
            )
    return rows


def other_rows(respondents: int = 998) -> list[dict[str, object]]:
    return [
        value_row(
            "prem_overall_experience_positive", "survey_wave", date(2024, 1, 1),
            date(2024, 12, 31), "2024", ("all", "all"), 812.4, 1001.7, respondents,
            812.4 / 1001.7 * 100, "wilson",
        ),
        value_row(
            "gp_fte_per_10k", "census", FY_END, FY_END, "2025-03", ("practice", "A1"),
            3.2, 4321.5, 4, 3.2 / 4321.5 * 10000, "none",
        ),
    ]


def spc_rows(values: pl.DataFrame, code: str) -> list[dict[str, object]]:
    series = values.filter(
        (pl.col("metric_id") == "dna_rate") & (pl.col("geography_code") == code)
    ).sort("period_start")
    points = series["value"].to_list()
    mean = sum(points) / len(points)
    return [
        {
            "metric_id": "dna_rate",
            "geography_type": "pcn" if code == "N1" else "practice",
            "geography_code": code,
            "breakdown_type": "all",
            "breakdown_value": "all",
            "period_start": start,
            "value": value,
            "mean": mean,
            "lower_process_limit": mean - 2.0,
            "upper_process_limit": mean + 2.0,
            "lower_near_limit": mean - 1.3,
            "upper_near_limit": mean + 1.3,
            "point_type": "common_cause",
            "is_last_point": number == len(points) - 1,
            "variation_icon": "common_cause" if number == len(points) - 1 else None,
            "assurance_icon": None,
            "target": None,
        }
        for number, (start, value) in enumerate(zip(series["period_start"], points, strict=True))
    ]


def gap_rows() -> list[dict[str, object]]:
    q1, q5 = 3 / 800 * 1000, 70 / 3700 * 1000
    return [
        {
            "metric_id": "ae_attendance_rate",
            "period_grain": "financial_year",
            "period_label": "2024/25",
            "geography_type": "all",
            "geography_code": "all",
            "quintile_1_value": q1,
            "quintile_5_value": q5,
            "gap_absolute": q1 - q5,
            "gap_relative": q1 / q5,
            "core20_value": None,
            "rest_value": None,
            "core20_gap": None,
            "sii": 14.2,
            "sii_lower_95": 9.1,
            "sii_upper_95": 19.3,
            "rii": 3.1,
            "rii_lower_95": 1.9,
            "rii_upper_95": 4.4,
            "not_calculated_reason": None,
        }
    ]


def geography_rows() -> list[tuple[date, str, str, str, str]]:
    rows = []
    for start in MONTHS:
        for practice, pcn in PRACTICES.items():
            for geography_type, code in [
                ("practice", practice),
                ("pcn", pcn),
                ("neighbourhood", NEIGHBOURHOOD[pcn]),
                ("place", "L1"),
                ("icb", "Q1"),
                ("all", "all"),
            ]:
                rows.append((month_end(start), practice, geography_type, code, NAMES[code]))
    return rows


def disclosed_rows(
    values: pl.DataFrame,
    catalogue: pl.DataFrame,
    withheld: dict[tuple[object, ...], str] = WITHHELD,
) -> pl.DataFrame:
    """disclosed_metric_values as the build writes it for the fixture: WITHHELD rows with
    their figures null, counts of people or events rounded half up to 5, a mean's sum not
    shown. (Values and limits are kept: the hand-made ones are not from real counts.)"""
    kinds = dict(zip(metric_kinds(catalogue)["metric_id"], metric_kinds(catalogue)["kind"],
                     strict=True))
    counted = {
        "numerator": ("counts", "weighted_survey"),
        "denominator": ("counts", "mean", "weighted_survey"),
        "unweighted_count": ("counts", "mean", "weighted_survey"),
    }
    rows = []
    for row in values.select(METRIC_VALUES_COLUMNS).iter_rows(named=True):
        cell = (row["metric_id"], row["geography_type"], row["geography_code"],
                row["breakdown_type"], row["breakdown_value"])
        rule = withheld.get(cell) or withheld.get((*cell, row["period_start"]))
        kind = kinds[row["metric_id"]]
        for column, rounded_kinds in counted.items():
            if kind in rounded_kinds:
                row[column] = float(int(row[column] / 5 + 0.5) * 5)
        if kind == "mean":
            row["numerator"] = None
        if rule:
            for column in disclosure.HIDDEN_COLUMNS:
                row[column] = None
        rows.append({**row, "is_suppressed": rule is not None, "suppression_rule": rule})
    return pl.DataFrame(rows, schema={**values.select(METRIC_VALUES_COLUMNS).schema,
                                      "is_suppressed": pl.Boolean,
                                      "suppression_rule": pl.Utf8})


JUDGEMENT_COLUMNS = ("year_before_period_label", "change_from_year_before", "comparison_to_icb")
JUDGED = {
    ("ae_attendance_rate", "financial_year", "2024-04-01", "practice", "A2", "all", "all"): (
        "2023/24",
        "improved",
        "lower",
    )
}
"""Hand-set metric_judgements rows (year before, change, comparison with the ICB): the mart
decides them in the build; publish only carries them, which these rows show."""


def metric_judgements(disclosed: pl.DataFrame) -> pl.DataFrame:
    """The judgement mart as the build writes it: one row per disclosed row, JUDGED's
    values where given, else nothing to compare with."""
    keys = disclosed.select(
        "metric_id", "period_grain", pl.col("period_start").cast(pl.Utf8), "geography_type",
        "geography_code", "breakdown_type", "breakdown_value",
    )
    nothing = (None, "not_comparable", "not_compared")
    judged = [JUDGED.get(tuple(row), nothing) for row in keys.rows()]
    return disclosed.select(
        "metric_id", "period_grain", "period_start", "geography_type", "geography_code",
        "breakdown_type", "breakdown_value",
    ).with_columns(
        pl.Series("year_before_period_label", [j[0] for j in judged], dtype=pl.Utf8),
        pl.Series("change_from_year_before", [j[1] for j in judged]),
        pl.Series("comparison_to_icb", [j[2] for j in judged]),
    )


def inequality_judgements() -> pl.DataFrame:
    """The gap_rows' judgement as the mart states it (hand-set: publish carries it)."""
    return pl.DataFrame(
        [
            {
                "metric_id": "ae_attendance_rate",
                "period_grain": "financial_year",
                "period_label": "2024/25",
                "geography_type": "all",
                "geography_code": "all",
                "gap_direction": "deprived_worse",
                "relative_gap": 0.5,
            }
        ]
    )


def build_warehouse(
    path: Path,
    metric_values: list[dict[str, object]] | None = None,
    build_vars: str = "{}",
    without: tuple[str, ...] = (),
    also_withheld: dict[tuple[object, ...], str] | None = None,
) -> Path:
    """Write the fixture warehouse (the marts, seeds and raw tables publish reads)."""
    values = pl.DataFrame(
        metric_values or [*ae_rows(), *continuity_rows(), *dna_rows(), *other_rows()],
        schema_overrides={"not_calculated_reason": pl.Utf8, "unweighted_count": pl.Float64},
    )
    gaps = pl.DataFrame(
        gap_rows(),
        schema_overrides={c: pl.Float64 for c in ("core20_value", "rest_value", "core20_gap")}
        | {"not_calculated_reason": pl.Utf8},
    )
    spc = pl.DataFrame(
        [*spc_rows(values, "A1"), *spc_rows(values, "N1")],
        schema_overrides={"assurance_icon": pl.Utf8, "target": pl.Float64},
    )
    maturity = pl.DataFrame(
        {
            "neighbourhood_code": ["H1", "H2"],
            "assessment_period": ["2024/25", "2024/25"],
            "domain_id": ["urgent_access", "urgent_access"],
            "level_achieved": [2, 1],
            "level_name": ["Developing", "Foundation"],
            "self_assessed_level": [3, 1],
            "evidenced_level": [2, 1],
            "has_discrepancy": [True, False],
            "next_level_gaps": ["urgent_access_l3_same_day", "urgent_access_l2_pathway"],
        }
    )
    catalogue = pl.read_csv(REPO_ROOT / "seeds" / "metric_catalogue.csv")
    geographies = pl.DataFrame(
        geography_rows(),
        schema=[
            "period_end", "practice_code", "geography_type", "geography_code", "geography_name",
        ],
        orient="row",
    )
    named = geographies.select("geography_type", "geography_code", "geography_name").unique()
    # the disclosed marts as the build writes them; metric_values, metric_spc and
    # inequality_gaps hold exact figures and are there to show that publish never reads them
    disclosed = disclosed_rows(values, catalogue, {**WITHHELD, **(also_withheld or {})})
    con = duckdb.connect(str(path))
    try:
        for name, table in [
            ("metric_values", values),
            ("disclosed_metric_values", disclosed),
            ("metric_judgements", metric_judgements(disclosed)),
            ("inequality_judgements", inequality_judgements()),
            ("inequality_gaps", gaps),
            ("disclosed_inequality_gaps", protect_inequality_gaps(gaps, disclosed)),
            ("metric_spc", spc),
            ("disclosed_metric_spc", protect_spc(spc, disclosed)),
            ("maturity_levels", maturity),
            ("metric_catalogue", catalogue),
            ("int_practice_geographies", geographies),
            ("geographies", named),
        ]:
            if name not in without:
                con.register("frame", table)
                con.execute(f"create table main.{name} as select * from frame")
                con.unregister("frame")
        if "disclosed_metric_values" not in without:
            con.execute(
                "comment on table main.disclosed_metric_values is 'One row per metric and cell.'"
            )
            con.execute(
                "comment on column main.disclosed_metric_values.numerator is "
                "'Rounded numerator; null for means.'"
            )
        con.execute("comment on column main.metric_catalogue.title is 'Short title of the metric.'")
        con.execute("create schema raw")
        con.execute(
            "create table raw.input_files (dataset varchar, file_name varchar, sha256 varchar, "
            "rows_read bigint, rows_loaded bigint, rows_quarantined bigint)"
        )
        con.execute(
            "insert into raw.input_files values "
            "('organisations', 'organisations.csv', 'ab12', 5, 5, 0), "
            "('hospital_activity', 'hospital_activity.parquet', 'cd34', 1200, 1190, 10)"
        )
        con.execute("create table raw.build_info (key varchar, value varchar)")
        con.executemany(
            "insert into raw.build_info values (?, ?)",
            [
                ["code_version", "0.1.0"],
                ["built_at", "2025-05-01T09:00:00+00:00"],
                ["data_dir", "/home/analyst/icb-data"],
                ["vars", build_vars],
            ],
        )
    finally:
        con.close()
    return path


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return build_warehouse(tmp_path / "warehouse.duckdb")


@pytest.fixture
def published(warehouse: Path, tmp_path: Path) -> Path:
    out = tmp_path / "published"
    publish(warehouse, out)
    return out


def csv_rows(path: Path) -> dict[tuple[str, ...], dict[str, str]]:
    table = pl.read_csv(path, infer_schema=False)
    return {
        tuple(row[c] or "" for c in KEY if c in table.columns): row
        for row in table.iter_rows(named=True)
    }


def ae(code: str, breakdown: tuple[str, str] = ("all", "all")) -> tuple[str, ...]:
    geography_type = {"A": "practice", "B": "practice", "N": "pcn"}.get(code[0], "all")
    return (
        "ae_attendance_rate", "financial_year", "2024-04-01", geography_type, code, *breakdown,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(directory: Path) -> dict[str, str]:
    return {p.name: digest(p) for p in directory.iterdir()}


# ---------------------------------------------------------------- files and layout


def test_publish_writes_every_file_and_nothing_else(published: Path) -> None:
    assert {p.name for p in published.iterdir()} == EXPECTED_FILES
    leftovers = [p.name for p in published.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_golden_cells_in_the_csv(published: Path) -> None:
    rows = csv_rows(published / "metric_values.csv")
    a1, a3 = rows[ae("A1")], rows[ae("A3")]
    for row in (a1, a3):
        assert [row[c] for c in ("numerator", "denominator", "unweighted_count")] == ["*"] * 3
        assert [row[c] for c in ("value", "lower_95", "upper_998")] == ["*"] * 3
        assert row["comparison_to_parent"] == "*"
        assert row["is_suppressed"] == "true"
    assert [rows[ae("A2")][c] for c in ("numerator", "denominator", "is_suppressed")] == [
        "30",
        "2000",
        "false",
    ]
    assert [rows[ae("N1")][c] for c in ("numerator", "denominator")] == ["45", "4500"]
    assert rows[ae("B2")]["numerator"] == "75"
    assert rows[ae("all")]["numerator"] == "225"
    assert float(rows[ae("all")]["value"]) == pytest.approx(223 / 13500 * 1000, rel=1e-15)
    quintiles = [rows[ae("all", ("imd_quintile", str(q)))]["numerator"] for q in range(1, 6)]
    assert quintiles == ["*", "*", "50", "60", "70"]
    assert rows[ae("A2")]["title"] == "A&E attendance rate"
    assert rows[ae("A2")]["unit"] == "per 1,000"
    assert rows[ae("A2")]["geography_name"] == "Bridge Practice"


def test_csv_column_layout(published: Path) -> None:
    header = (published / "metric_values.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == [
        "metric_id", "title", "unit", "period_grain", "period_label", "period_start",
        "period_end", "geography_type", "geography_code", "geography_name", "breakdown_type",
        "breakdown_value", "value", "lower_95", "upper_95", "lower_998", "upper_998",
        "numerator", "denominator", "unweighted_count", "method", "comparison_to_parent",
        "year_before_period_label", "change_from_year_before", "comparison_to_icb",
        "not_calculated_reason", "is_suppressed",
    ]


def test_published_files_carry_the_judgement_marts_columns(published: Path) -> None:
    """Each comparison a published file shows is the judgement mart's column, joined row by
    row: publish decides none."""
    rows = csv_rows(published / "metric_values.csv")
    assert [rows[ae("A2")][c] for c in JUDGEMENT_COLUMNS] == ["2023/24", "improved", "lower"]
    nothing = [None, "not_comparable", "not_compared"]
    assert [rows[ae("N1")][c] for c in JUDGEMENT_COLUMNS] == nothing
    gaps = pl.read_csv(published / "inequality_gaps.csv", infer_schema=False).row(0, named=True)
    assert gaps["gap_direction"] == "deprived_worse"
    assert list(gaps)[-3:] == ["gap_direction", "is_suppressed", "suppressed_columns"]


def test_means_surveys_and_money(published: Path) -> None:
    rows = csv_rows(published / "metric_values.csv")
    coc = {code: rows[("continuity_coc", "financial_year", "2024-04-01", t, code, "all", "all")]
           for t, code in [("practice", "A1"), ("practice", "A2"), ("practice", "A3"),
                           ("pcn", "N1")]}
    assert [coc[c]["is_suppressed"] for c in ("A1", "A2", "A3", "N1")] == [
        "true", "false", "true", "false",
    ]
    # the sum of per-patient indices is not published (metrics.md): it would give the
    # exact patient count back as sum / mean
    assert [coc["N1"][c] for c in ("numerator", "denominator", "unweighted_count")] == [
        None, "75", "75",
    ]
    prem = rows[("prem_overall_experience_positive", "survey_wave", "2024-01-01", "all", "all",
                 "all", "all")]
    assert [prem[c] for c in ("numerator", "denominator", "unweighted_count")] == [
        "810", "1000", "1000",
    ]
    fte = rows[("gp_fte_per_10k", "census", "2025-03-31", "practice", "A1", "all", "all")]
    assert [fte[c] for c in ("numerator", "denominator", "unweighted_count")] == [
        "3.2", "4321.5", "4",
    ]


def test_published_values_are_the_disclosed_marts(warehouse: Path, published: Path) -> None:
    """metric_values.parquet is disclosed_metric_values as the build wrote it (labelled and
    sorted), without the rule that withheld a row; nothing of the exact metric_values."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        source = con.sql("select * from disclosed_metric_values").pl()
    result = pl.read_parquet(published / "metric_values.parquet")
    assert result.height == source.height
    joined = result.join(source, on=KEY, suffix="_mart")
    assert joined.height == source.height
    for column in ("value", "lower_95", "upper_998", "numerator", "denominator", "method"):
        assert joined[column].equals(joined[f"{column}_mart"], check_names=False), column
    assert "suppression_rule" not in result.columns and "withheld_reason" not in result.columns
    hidden = joined.filter(pl.col("is_suppressed"))
    assert hidden.select("value", "numerator", "lower_95").null_count().row(0) == (8, 8, 8)


def test_publish_never_applies_a_protection(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publish reads the build's decisions: it calls no protection function and does not
    need metric_values, metric_spc or inequality_gaps at all."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("publish applied disclosure control itself")

    for name in ("protect_spc", "protect_inequality_gaps", "disclosure_decisions"):
        if hasattr(disclosure, name):
            monkeypatch.setattr(disclosure, name, forbidden)
    import importlib
    import pkgutil

    import metrics_cli.publish as publish_package

    for module in pkgutil.iter_modules(publish_package.__path__, "metrics_cli.publish."):
        names = vars(importlib.import_module(module.name))
        assert not any(name.startswith(("protect_", "apply_")) for name in names), module.name
    exact_only = build_warehouse(
        tmp_path / "disclosed-only.duckdb",
        without=("metric_values", "metric_spc", "inequality_gaps"),
    )
    publish(exact_only, tmp_path / "out")
    assert (tmp_path / "out" / "metric_values.csv").is_file()


def test_withheld_share_per_geography_level(warehouse: Path, tmp_path: Path) -> None:
    outcome = publish(warehouse, tmp_path / "out")
    shares = {level: (c.withheld, c.cells) for level, c in outcome.withheld_by_geography.items()}
    # practices: ae A1, A3; coc A1, A3; dna A1, A2 in June, of 5 + 3 + 24 + 1 rows
    assert shares == {"practice": (6, 33), "pcn": (0, 15), "neighbourhood": (0, 2),
                      "place": (0, 1), "icb": (0, 1), "all": (2, 7)}
    assert list(shares) == ["practice", "pcn", "neighbourhood", "place", "icb", "all"]
    assert "    practice              6 of         33 (18.2%)" in outcome.summary()


def test_spc_and_gaps_carry_the_suppression(published: Path) -> None:
    spc = pl.read_parquet(published / "metric_spc.parquet")
    a1 = spc.filter(pl.col("geography_code") == "A1").sort("period_start")
    june = a1.filter(pl.col("period_start") == date(2024, 6, 1)).row(0, named=True)
    assert (june["value"], june["point_type"], june["is_suppressed"]) == (None, None, True)
    assert a1["mean"].null_count() == 12
    assert a1["upper_process_limit"].null_count() == 12
    assert a1["value"].null_count() == 1
    n1 = spc.filter(pl.col("geography_code") == "N1")
    assert n1["mean"].null_count() == 0 and not n1["is_suppressed"].any()
    assert a1["title"].unique().to_list() == ["Did not attend rate"]

    spc_csv = pl.read_csv(published / "metric_spc.csv", infer_schema=False)
    june_csv = spc_csv.filter(
        (pl.col("geography_code") == "A1") & (pl.col("period_start") == "2024-06-01")
    ).row(0, named=True)
    assert (june_csv["value"], june_csv["mean"], june_csv["target"]) == ("*", "*", None)

    gaps = pl.read_csv(published / "inequality_gaps.csv", infer_schema=False).row(0, named=True)
    assert [gaps[c] for c in ("quintile_1_value", "gap_absolute", "gap_relative", "sii")] == [
        "*"
    ] * 4
    assert float(gaps["quintile_5_value"]) == pytest.approx(70 / 3700 * 1000, rel=1e-15)
    assert gaps["core20_value"] is None
    assert gaps["suppressed_columns"] == (
        "quintile_1_value|gap_absolute|gap_relative|sii|sii_lower_95|sii_upper_95|"
        "rii|rii_lower_95|rii_upper_95"
    )


def test_maturity_levels_are_published_whole(published: Path) -> None:
    levels = pl.read_parquet(published / "maturity_levels.parquet")
    assert levels.columns[:2] == ["neighbourhood_code", "neighbourhood_name"]
    assert levels["neighbourhood_name"].to_list() == [
        "North Neighbourhood",
        "South Neighbourhood",
    ]
    assert levels["level_achieved"].to_list() == [2, 1]
    assert levels["has_discrepancy"].to_list() == [True, False]


# ---------------------------------------------------------------- dictionary and manifest


def test_data_dictionary_from_catalogue_and_column_docs(published: Path) -> None:
    dictionary = pl.read_csv(published / "data_dictionary.csv")
    described = {
        (row["file"], row["column"]): row for row in dictionary.iter_rows(named=True)
    }
    numerator = described[("metric_values.csv / .parquet", "numerator")]
    assert numerator["type"] == "decimal"
    assert numerator["description"] == (
        "Rounded numerator; null for means. Published: counts of people or events are "
        "rounded to the nearest 5; FTE and money are not; empty for means (the sum of "
        "per-patient values is not published); `*` where withheld."
    )
    assert ("metric_values.csv / .parquet", "withheld_reason") not in described
    withheld = described[("metric_values.csv / .parquet", "is_suppressed")]["description"]
    assert "fewer than 8 people or events" in withheld
    assert "fewer than 10 patients or respondents" in withheld
    assert "withheld so that a small number elsewhere cannot be worked out by subtraction" in (
        withheld
    )
    assert "not said row by row" in withheld
    assert described[("metric_values.csv / .parquet", "title")]["description"] == (
        "Short title of the metric."
    )
    assert described[("metric_spc.csv / .parquet", "is_suppressed")]["type"] == "boolean"
    assert described[("metric_catalogue.csv", "metric_id")]["type"] == "text"
    assert {f for f, _ in described} == {
        "metric_values.csv / .parquet",
        "inequality_gaps.csv / .parquet",
        "metric_spc.csv / .parquet",
        "maturity_levels.csv / .parquet",
        "metric_catalogue.csv",
    }
    markdown = (published / "data_dictionary.md").read_text(encoding="utf-8")
    assert "| `continuity_coc` | Continuity: Bice-Boxerman continuity of care index |" in markdown
    assert "Counts from 1 to 7 are withheld" in markdown
    assert "| `numerator` | decimal | Rounded numerator;" in markdown


def test_manifest(published: Path) -> None:
    manifest = json.loads((published / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["publisher"] == "nbhd"
    assert manifest["code"]["version"] == __version__
    assert manifest["warehouse"] == {
        "file": "warehouse.duckdb",
        "code_version": "0.1.0",
        "built_at": "2025-05-01T09:00:00+00:00",
    }
    assert manifest["vars"] == {}
    assert manifest["disclosure"] == {
        "threshold": 7,
        "rounding": 5,
        "minimum_patients_or_respondents": 10,
        "rows_with_figures_withheld": {
            "metric_values": 8,
            "inequality_gaps": 1,
            "metric_spc": 12,
        },
        "metric_values_withheld_by_geography": {
            "practice": {"cells": 33, "withheld": 6, "share": 0.181818},
            "pcn": {"cells": 15, "withheld": 0, "share": 0.0},
            "neighbourhood": {"cells": 2, "withheld": 0, "share": 0.0},
            "place": {"cells": 1, "withheld": 0, "share": 0.0},
            "icb": {"cells": 1, "withheld": 0, "share": 0.0},
            "all": {"cells": 7, "withheld": 2, "share": 0.285714},
        },
    }
    assert manifest["inputs"] == [
        {
            "dataset": "hospital_activity",
            "file_name": "hospital_activity.parquet",
            "sha256": "cd34",
            "rows_read": 1200,
            "rows_loaded": 1190,
            "rows_quarantined": 10,
        },
        {
            "dataset": "organisations",
            "file_name": "organisations.csv",
            "sha256": "ab12",
            "rows_read": 5,
            "rows_loaded": 5,
            "rows_quarantined": 0,
        },
    ]
    files = {f["name"]: f for f in manifest["files"]}
    assert set(files) == EXPECTED_FILES - {"manifest.json"}
    for name, entry in files.items():
        assert entry["sha256"] == digest(published / name)
    assert files["metric_values.csv"]["rows"] == 17 + 4 + 36 + 2
    assert files["data_dictionary.md"]["rows"] is None


def test_vars_given_to_the_build_set_the_threshold(tmp_path: Path) -> None:
    assert disclosure_settings({"vars": "{}"}) == (7, 5)
    assert disclosure_settings({}) == (7, 5)
    assert disclosure_settings({"vars": '{"disclosure_threshold": 9}'}) == (9, 5)
    assert disclosure_settings({"vars": '{"disclosure_rounding": 10}'}) == (7, 10)
    with pytest.raises(DataError, match="disclosure_rounding"):
        disclosure_settings({"vars": '{"disclosure_rounding": "five"}'})

    warehouse = build_warehouse(tmp_path / "w.duckdb", build_vars='{"disclosure_threshold": 12}')
    outcome = publish(warehouse, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["vars"] == {"disclosure_threshold": 12}
    assert (manifest["disclosure"]["threshold"], manifest["disclosure"]["rounding"]) == (12, 5)
    assert outcome.threshold == 12
    assert "counts 1-12 suppressed" in outcome.summary()
    dictionary = (tmp_path / "out" / "data_dictionary.md").read_text(encoding="utf-8")
    assert "fewer than 13 people or events" in dictionary


def test_no_file_says_why_a_cell_is_withheld(published: Path) -> None:
    """Which rule withheld a cell stays in the warehouse: knowing that a cell is small would
    help to pin its count (six small months of a small year leave it 6 or 7). Withheld rows
    are only marked withheld; the dictionary gives both reasons for every one of them."""
    rules = ("small_count", "small_base", "secondary")
    for path in published.iterdir():
        if path.suffix == ".parquet":
            columns = set(pl.read_parquet_schema(path))
            assert not {"suppression_rule", "withheld_reason"} & columns, path.name
            continue
        text = path.read_text(encoding="utf-8")
        for rule in rules:
            assert f"`{rule}`" not in text and f",{rule}," not in text, (path.name, rule)
    withheld = pl.read_csv(published / "metric_values.csv", infer_schema=False).filter(
        pl.col("is_suppressed") == "true"
    )
    assert withheld.height == 8
    assert withheld.select("value", "numerator", "lower_95").unique().rows() == [
        ("*", "*", "*")
    ]


# ---------------------------------------------------------------- changes and atomicity


def test_first_publication_says_so(published: Path) -> None:
    assert (published / "changes.md").read_text(encoding="utf-8") == (
        "# Changes since the previous publication\n\n"
        "This is the first publication in this directory.\n"
    )


def test_changes_since_the_previous_publication(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    publish(warehouse, out)
    revised = [*ae_rows(), *continuity_rows(), *dna_rows(), *other_rows(respondents=9)]
    for row in revised:
        if row["metric_id"] == "ae_attendance_rate" and row["geography_code"] == "B1":
            row["value"] = 25.0
    revised = [r for r in revised if r["metric_id"] != "gp_fte_per_10k"]
    revised.append(
        value_row(
            "same_day_share", "month", date(2025, 3, 1), date(2025, 3, 31), "2025-03",
            ("all", "all"), 400, 1000, 1000, 40.0, "wilson",
        )
    )
    second = build_warehouse(
        tmp_path / "second.duckdb",
        metric_values=revised,
        also_withheld={
            ("prem_overall_experience_positive", "all", "all", "all", "all"): "small_base"
        },
    )
    outcome = publish(second, out)
    changes = outcome.changes
    assert changes.first_publication is False
    assert changes.metrics_added == ("same_day_share",)
    assert changes.metrics_removed == ("gp_fte_per_10k",)
    assert (changes.rows_added, changes.rows_removed) == (1, 1)
    assert changes.moved_count == 1
    assert changes.moved[0].cell == (
        "ae_attendance_rate", "financial_year", "2024-04-01", "practice", "B1", "all", "all",
    )
    assert changes.moved[0].previous == "20 (18 to 22)"
    assert changes.moved[0].current == "25"
    assert changes.newly_suppressed_count == 1
    assert changes.newly_suppressed[0].cell[0] == "prem_overall_experience_positive"
    text = (out / "changes.md").read_text(encoding="utf-8")
    assert "- Metrics added: `same_day_share`" in text
    assert "- Metrics removed: `gp_fte_per_10k`" in text
    assert (
        "| ae_attendance_rate | financial_year | 2024-04-01 | practice | B1 | all | all | "
        "20 (18 to 22) | 25 |" in text
    )
    assert "## Newly suppressed cells (1)" in text
    assert "1 cells newly suppressed" in outcome.summary()


def test_a_failed_publish_leaves_the_previous_one_intact(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "published"
    publish(warehouse, out)
    before = tree(out)

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr("metrics_cli.publish.run.dictionary_markdown", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        publish(build_warehouse(tmp_path / "w2.duckdb", build_vars='{"x": 1}'), out)
    assert tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_republishing_replaces_the_previous_publication(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "published"
    publish(warehouse, out)
    (out / "metric_values.csv").write_text("stale")
    publish(warehouse, out)
    assert (out / "metric_values.csv").read_text(encoding="utf-8").startswith("metric_id,")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---------------------------------------------------------------- refusals and the CLI


def test_refuses_a_directory_that_is_not_a_publication(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "somewhere"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds no earlier publication"):
        publish(warehouse, out)
    assert (out / "notes.txt").read_text() == "mine"


def test_missing_warehouse_and_missing_marts(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="run `nbhd build` first"):
        publish(tmp_path / "none.duckdb", tmp_path / "out")
    partial = build_warehouse(tmp_path / "partial.duckdb", without=("disclosed_metric_spc",))
    with pytest.raises(DataError, match="the warehouse has no disclosed_metric_spc"):
        publish(partial, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("mart", "table"), [("metric_judgements", "metric_values"),
                        ("inequality_judgements", "inequality_gaps")]
)
def test_a_judgement_mart_with_two_rows_for_one_is_refused(
    warehouse: Path, tmp_path: Path, mart: str, table: str
) -> None:
    """The judgements are joined row by row in the warehouse: a key held twice would
    publish a row twice, so publish stops and writes nothing."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"insert into main.{mart} select * from main.{mart} limit 1")
    with pytest.raises(DataError, match=f"{mart} holds more than one row for a row of {table}"):
        publish(warehouse, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_previous_publication_without_a_compared_column_is_not_compared(
    warehouse: Path, tmp_path: Path
) -> None:
    out = tmp_path / "published"
    publish(warehouse, out)
    previous = pl.read_parquet(out / "metric_values.parquet").drop("lower_95")
    previous.write_parquet(out / "metric_values.parquet")
    assert publish(warehouse, out).changes.first_publication is True


def test_the_warehouse_is_only_read(warehouse: Path, tmp_path: Path) -> None:
    before = digest(warehouse)
    publish(warehouse, tmp_path / "out")
    assert digest(warehouse) == before
    assert not warehouse.with_suffix(".duckdb.wal").exists()


def test_cli(warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-out"
    assert main(["publish", "--out", str(out), "--warehouse", str(warehouse)]) == 0
    printed = capsys.readouterr().out
    assert f"Published to {out}" in printed
    assert "metric_values            59 rows,        8 with figures withheld" in printed
    assert "First publication in this directory." in printed
    assert main(["publish", "--out", str(tmp_path / "x"), "--warehouse", str(tmp_path)]) == 2


def test_outcome_summary_lists_every_table(warehouse: Path, tmp_path: Path) -> None:
    outcome = publish(warehouse, tmp_path / "out")
    lines = outcome.summary().splitlines()
    tables = [line.split()[0] for line in lines if line.startswith("  ") and "rows," in line]
    assert tables == ["metric_values", "inequality_gaps", "metric_spc", "maturity_levels"]
    levels = [line.split()[0] for line in lines if line.startswith("    ")]
    assert levels == ["practice", "pcn", "neighbourhood", "place", "icb", "all"]
