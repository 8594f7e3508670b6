"""`nbhd publish` on the real tiny build: the files users put on a website.

The published values are checked against statistics written out here, independently of
the dbt macros: Wilson, Byar's and exact Poisson limits from the rounded counts, a t-mean's
limits from the rounded patient count.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import duckdb
import polars as pl
import pytest

from metrics_cli.cli import main
from metrics_cli.disclosure import CELL_KEY, metric_kinds, settings_from_build_vars

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[3]
COUNTS = ("numerator", "denominator", "unweighted_count")
LIMITS = ("lower_95", "upper_95", "lower_998", "upper_998")
Z = {"95": 1.959963984540054, "998": 3.090232306167813}
KEYS = list(CELL_KEY)


def wilson(x: float, n: float, z: float, sign: int) -> float:
    return (2 * x + z * z + sign * z * math.sqrt(z * z + 4 * x * (1 - x / n))) / (2 * (n + z * z))


def byars(count: float, z: float, sign: int) -> float | None:
    if sign < 0:
        if count <= 0:
            return None
        bracket = 1 - 1 / (9 * count) - z / (3 * math.sqrt(count))
        return count * bracket**3 if bracket > 0 else None
    following = count + 1
    return following * (1 - 1 / (9 * following) + z / (3 * math.sqrt(following))) ** 3


def exact_poisson() -> dict[tuple[int, str, int], float]:
    with (REPO_ROOT / "seeds" / "exact_poisson_limits.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        (int(row["poisson_observed"]), level, sign): float(
            row[f"poisson_{'lower' if sign < 0 else 'upper'}_{level}"]
        )
        for row in rows
        for level in Z
        for sign in (-1, 1)
    }


def close(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module")
def published(tiny_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("published") / "out"
    assert main(["publish", "--out", str(out), "--warehouse", str(tiny_warehouse)]) == 0
    return out


def read(warehouse: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame: pl.DataFrame = con.sql(sql).pl()
    return frame


def test_publish_the_real_marts(published: Path) -> None:
    out = published
    for name in ("metric_values", "inequality_gaps", "metric_spc", "maturity_levels"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    by_level = manifest["disclosure"]["metric_values_withheld_by_geography"]
    assert next(iter(by_level)) == "practice" and by_level["practice"]["withheld"] > 0

    values = pl.read_csv(out / "metric_values.csv", infer_schema_length=0)
    catalogue = pl.read_csv(out / "metric_catalogue.csv", infer_schema_length=0)
    people = catalogue.filter(pl.col("method").is_in(["wilson", "byars", "dsr_dobson"]))
    counted = values.join(people.select("metric_id"), on="metric_id")
    for column in COUNTS:
        shown = counted.filter(pl.col(column) != "*")[column].cast(pl.Float64)
        assert not shown.is_between(0.5, 7.5).any(), f"a count of 1 to 7 in {column}"
        assert (shown % 5 == 0).all(), f"{column} not rounded to 5"
    # withheld rows say only that they are withheld, never which rule withheld them
    assert not {"withheld_reason", "suppression_rule"} & set(values.columns)
    withheld = values.filter(pl.col("is_suppressed") == "true")
    assert withheld.height > 0 and (withheld["value"] == "*").all()

    levels = pl.read_parquet(out / "maturity_levels.parquet")
    assert levels.height > 0


def test_the_disclosed_mart_follows_the_decisions(tiny_warehouse: Path) -> None:
    """disclosed_metric_values withholds exactly the rows int_disclosure_decisions withholds,
    with their reasons, one row per metric_values row; shown counts are the warehouse's
    rounded half up to 5, and a mean's sum is not shown."""
    disclosed = read(tiny_warehouse, "select * from disclosed_metric_values")
    decisions = read(tiny_warehouse, "select * from int_disclosure_decisions")
    exact = read(tiny_warehouse, "select * from metric_values")
    catalogue = read(tiny_warehouse, "select * from metric_catalogue")
    assert disclosed.height == exact.height == decisions.height
    joined = disclosed.join(decisions, on=KEYS, suffix="_decided").join(
        exact, on=KEYS, suffix="_exact"
    ).join(metric_kinds(catalogue), on="metric_id")
    assert joined.height == disclosed.height
    assert (joined["is_suppressed"] == joined["is_suppressed_decided"]).all()
    assert joined["suppression_rule"].equals(
        joined["suppression_rule_decided"], check_names=False
    )
    hidden = joined.filter(pl.col("is_suppressed"))
    assert hidden.height > 0
    for column in (*COUNTS, "value", *LIMITS, "comparison_to_parent"):
        assert hidden[column].null_count() == hidden.height, column
    assert set(hidden["method"].unique()) <= set(catalogue["method"].unique())

    shown = joined.filter(~pl.col("is_suppressed"))
    rounded_kinds = {
        "numerator": ["counts", "weighted_survey"],
        "denominator": ["counts", "mean", "weighted_survey"],
        "unweighted_count": ["counts", "mean", "weighted_survey"],
    }
    for column, kinds in rounded_kinds.items():
        rounded = shown.filter(pl.col("kind").is_in(kinds))
        expected = (rounded[f"{column}_exact"] / 5 + 0.5).floor() * 5
        assert rounded[column].equals(expected, check_names=False), column
        kept = shown.filter(pl.col("kind") == "no_counts")
        assert kept[column].equals(kept[f"{column}_exact"], check_names=False), column
    assert shown.filter(pl.col("kind") == "mean")["numerator"].null_count() == shown.filter(
        pl.col("kind") == "mean"
    ).height
    money = shown.filter(pl.col("kind") == "no_counts")
    for column in ("value", *LIMITS):
        assert money[column].equals(money[f"{column}_exact"], check_names=False), column
    # a row that has no value in the warehouse has none when published
    assert shown.filter(pl.col("value_exact").is_null())["value"].null_count() == shown.filter(
        pl.col("value_exact").is_null()
    ).height


def test_published_values_and_limits_come_from_the_rounded_counts(published: Path) -> None:
    """No published file holds a value whose limits give back an unrounded count: every shown
    Wilson, Byar's and exact Poisson row's value and four limits are those of its published
    (rounded) counts, recomputed here; weighted survey rows on the Kish effective sample size
    scaled to the rounded respondents are checked in the warehouse test below."""
    values = pl.read_parquet(published / "metric_values.parquet")
    catalogue = pl.read_csv(published / "metric_catalogue.csv")
    multipliers = dict(zip(catalogue["metric_id"], catalogue["multiplier"], strict=True))
    kinds = dict(
        zip(metric_kinds(catalogue)["metric_id"], metric_kinds(catalogue)["kind"], strict=True)
    )
    poisson = exact_poisson()
    checked = {"wilson": 0, "byars": 0, "exact_poisson": 0}
    shown = values.filter(~pl.col("is_suppressed") & pl.col("value").is_not_null())
    for row in shown.iter_rows(named=True):
        method, kind = row["method"], kinds[row["metric_id"]]
        if method not in checked or kind != "counts":
            continue
        x, n = row["numerator"], row["denominator"]
        multiplier = multipliers[row["metric_id"]]
        assert x == round(x) and x % 5 == 0 and n % 5 == 0, row
        assert close(row["value"], x / n * multiplier), row
        for level, z in Z.items():
            for sign, side in ((-1, "lower"), (1, "upper")):
                if method == "wilson":
                    expected = wilson(x, n, z, sign) * multiplier
                elif method == "byars":
                    assert x >= 10, row
                    limit = byars(x, z, sign)
                    expected = None if limit is None else limit / n * multiplier
                else:
                    assert x < 10, row
                    expected = poisson[(int(x), level, sign)] / n * multiplier
                assert close(row[f"{side}_{level}"], expected), (row, side, level)
        checked[method] += 1
    assert checked["wilson"] > 100 and checked["byars"] > 50, checked


def test_means_and_surveys_use_the_rounded_base(tiny_warehouse: Path) -> None:
    """A shown t-mean keeps its mean and takes its limits from the rounded patient count
    (the sum of squared deviations scaled with it); a weighted survey result is the rounded
    weighted positives over the rounded weighted base, with Wilson limits on the Kish
    effective sample size scaled by rounded over exact respondents."""
    rows = read(
        tiny_warehouse,
        """
        select d.*, m.numerator as exact_numerator, m.denominator as exact_denominator,
            m.unweighted_count as exact_unweighted, m.value as exact_value,
            a.sum_sq, c.method as catalogue_method, c.multiplier
        from disclosed_metric_values as d
        inner join metric_values as m using (metric_id, period_grain, period_start,
            geography_type, geography_code, breakdown_type, breakdown_value)
        inner join int_metric_counts_aggregated as a using (metric_id, period_grain,
            period_start, geography_type, geography_code, breakdown_type, breakdown_value)
        inner join metric_catalogue as c using (metric_id)
        where not d.is_suppressed and d.value is not null and a.sum_sq is not null
        """,
    )
    quantiles = {
        int(row["t_degrees_of_freedom"]): row
        for row in csv.DictReader(
            (REPO_ROOT / "seeds" / "t_distribution_quantiles.csv").open(encoding="utf-8")
        )
    }
    means = surveys = 0
    for row in rows.iter_rows(named=True):
        if row["catalogue_method"] == "t_mean":
            n, n_shown = row["exact_denominator"], row["denominator"]
            mean = row["exact_numerator"] / n
            assert close(row["value"], mean)
            deviations = row["sum_sq"] - row["exact_numerator"] ** 2 / n
            variance = max(deviations * n_shown / n / (n_shown - 1), 0.0)
            if n_shown - 1 > 100:
                continue  # the Cornish-Fisher branch is the stats macros' own test
            t = float(quantiles[int(n_shown - 1)]["t_95"])
            assert close(row["upper_95"], mean + t * math.sqrt(variance / n_shown)), row
            means += 1
        else:
            x, n = row["numerator"], row["denominator"]
            n_eff = row["exact_denominator"] ** 2 / row["sum_sq"]
            n_eff *= row["unweighted_count"] / row["exact_unweighted"]
            assert close(row["value"], x / n * 100), row
            expected = wilson(x / n * n_eff, n_eff, Z["95"], -1) * 100
            assert close(row["lower_95"], expected), row
            surveys += 1
    assert means > 100 and surveys > 100, (means, surveys)


def test_two_builds_publish_identical_files(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same inputs built twice publish byte-identical files, the manifest's run time,
    run seconds and warehouse build time aside."""
    from metrics_cli.build import build

    monkeypatch.setenv("NBHD_STATE_DIR", str(tmp_path / "state"))
    trees = []
    for attempt in ("first", "second"):
        warehouse = tmp_path / f"{attempt}.duckdb"
        result = build(tiny_data, warehouse, {})
        assert result.ok, result.summary()
        out = tmp_path / f"published-{attempt}"
        assert main(["publish", "--out", str(out), "--warehouse", str(warehouse)]) == 0
        files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "manifest.json"}
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        for volatile in ("published_at", "run_seconds"):
            manifest.pop(volatile)
        manifest["warehouse"].pop("built_at", None)
        manifest["warehouse"].pop("file", None)
        trees.append((files, manifest))
    (first_files, first_manifest), (second_files, second_manifest) = trees
    assert sorted(first_files) == sorted(second_files)
    # what disclosure control decides and every rounded count are the same bytes already
    first = pl.read_parquet(tmp_path / "published-first" / "metric_values.parquet")
    second = pl.read_parquet(tmp_path / "published-second" / "metric_values.parquet")
    for column in (*KEYS, "is_suppressed", "unweighted_count", "method"):
        assert first[column].equals(second[column]), column
    for name in ("metric_spc.csv", "maturity_levels.csv", "metric_catalogue.csv"):
        assert first_files[name] == second_files[name], name
    # every value to the last bit: sums of non-whole numbers (per-patient indices, survey
    # weights, money, FTE) are exact_sum's fixed-point sums, the same whatever order
    # DuckDB's threads add the rows in (docs/publication.md, "Two builds")
    differing = [name for name in first_files if first_files[name] != second_files[name]]
    assert differing == []
    assert first_manifest == second_manifest


def test_settings_of_the_build(tiny_warehouse: Path) -> None:
    info = read(tiny_warehouse, "select value from raw.build_info where key = 'vars'")
    (vars_json,) = info.row(0)
    assert settings_from_build_vars(vars_json) == (7, 5)


def test_published_judgements_are_the_marts(published: Path, tiny_warehouse: Path) -> None:
    """metric_values and inequality_gaps carry metric_judgements' and inequality_judgements'
    columns row for row, and the data dictionary describes them from the marts' docs."""
    judged = ("year_before_period_label", "change_from_year_before", "comparison_to_icb")
    values = pl.read_parquet(published / "metric_values.parquet")
    marts = read(tiny_warehouse, f"select {', '.join((*KEYS, *judged))} from metric_judgements")
    joined = values.select(*KEYS, *judged).join(marts, on=KEYS, suffix="_mart", nulls_equal=True)
    assert joined.height == values.height == marts.height
    for column in judged:
        assert joined[column].equals(joined[f"{column}_mart"], check_names=False), column
    assert {"improved", "worsened"} & set(values["change_from_year_before"].to_list())

    gaps = pl.read_parquet(published / "inequality_gaps.parquet")
    gap_key = ["metric_id", "period_grain", "period_label", "geography_type", "geography_code"]
    directions = read(tiny_warehouse, "select * from inequality_judgements").select(
        *gap_key, "gap_direction"
    )
    both = gaps.select(*gap_key, "gap_direction").join(
        directions, on=gap_key, suffix="_mart", nulls_equal=True
    )
    assert both.height == gaps.height == directions.height
    assert both["gap_direction"].equals(both["gap_direction_mart"], check_names=False)

    dictionary = pl.read_csv(published / "data_dictionary.csv")
    described = {
        (row["file"].split(".")[0], row["column"]): row["description"] or ""
        for row in dictionary.iter_rows(named=True)
    }
    for table, column in [
        *(("metric_values", c) for c in judged),
        ("inequality_gaps", "gap_direction"),
    ]:
        assert described[(table, column)], (table, column)
    change = described[("metric_values", "change_from_year_before")]
    assert "Macro change_from_year_before" in change
