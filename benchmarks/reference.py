"""Reference points for the continuity chain: the floor (one DuckDB query) and plain pandas.

    python benchmarks/reference.py floor|pandas --data DIR [--out FILE]

Both compute, from the GP encounters input file as generated (`gp_encounters.parquet` or
`.csv`), the usual-provider-of-care index (UPC, max_j n_j / N) and the Bice-Boxerman
continuity of care index (COC, (sum n_j^2 - N) / (N (N - 1))) per practice and patient,
for GP encounters only (`clinician_role = 'GP'`), patients with at least two encounters,
over the windows the build uses for the index metrics: every financial year and the rolling
12 months ending each quarter, wholly inside the months the encounters cover, each distinct
window once (a financial year is the rolling 12 months ending in March).

- `floor`: one DuckDB query that reads the input once, UPC and COC only. What the build
  cannot beat.
- `pandas`: the usual alternative, in plain vectorised pandas, computing what the build's
  per-patient model (int_continuity_patient_indices) computes: UPC and COC, and the
  sequential continuity index (SECON, which needs the encounters in date order) and the
  modified modified continuity index (MMCI), so that the ratio compares like with like. It
  holds the encounters in memory, so `run.py` runs it only at tiny and icb scale.

Each prints one JSON line: rows (eligible patient-windows), windows, and the mean of each
index it computes.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

MIN_ENCOUNTERS = 2
INDICES = ("upc", "coc", "secon", "mmci")


def encounters_file(data: Path) -> Path:
    for suffix in (".parquet", ".csv"):
        path = data / f"gp_encounters{suffix}"
        if path.is_file():
            return path
    raise SystemExit(f"no gp_encounters.parquet or .csv in {data}")


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def windows(first_month: date, last_month: date) -> list[tuple[date, date]]:
    """(first month, last month) of every financial year and rolling 12 months ending a
    quarter that lies wholly within first_month..last_month, each once."""
    found: set[tuple[date, date]] = set()
    month = first_month
    while month <= last_month:
        start = _add_months(month, -11)
        if month.month in (3, 6, 9, 12) and start >= first_month:
            found.add((start, month))  # financial years are the ones ending in March
        month = _add_months(month, 1)
    return sorted(found)


def floor_sql(path: Path) -> str:
    """One query, one read of the input: UPC and COC per window, practice and patient."""
    source = str(path.resolve()).replace("'", "''")
    reader = f"read_parquet('{source}')" if path.suffix == ".parquet" else (
        f"read_csv('{source}', header = true)"
    )
    return f"""
    create table indices as
    with encounters as materialized (
        select practice_code, patient_id, clinician_id,
            cast(date_trunc('month', encounter_date) as date) as month
        from {reader}
        where clinician_role = 'GP' and patient_id is not null
            and clinician_id is not null and encounter_date is not null
    ),
    quarter_ends as (
        select unnest(generate_series(min(month), max(month), interval 1 month)) as month_end,
            min(month) as first_month
        from encounters
    ),
    windows as (
        select distinct cast(month_end - interval 11 month as date) as window_start,
            cast(month_end as date) as window_end
        from quarter_ends
        where month(month_end) in (3, 6, 9, 12)
            and month_end - interval 11 month >= first_month
    ),
    clinician_counts as (
        select window_start, practice_code, patient_id, clinician_id, count(*) as n
        from encounters
        inner join windows on encounters.month between window_start and window_end
        group by all
    )
    select window_start, practice_code, patient_id,
        max(n) / sum(n) as upc,
        (sum(n * n) - sum(n)) / (sum(n) * (sum(n) - 1)) as coc
    from clinician_counts
    group by all
    having sum(n) >= {MIN_ENCOUNTERS}
    """


def run_floor(data: Path) -> dict[str, object]:
    import duckdb

    con = duckdb.connect()
    con.execute(floor_sql(encounters_file(data)))
    rows, windows_seen, upc, coc = con.execute(
        "select count(*), count(distinct window_start), avg(upc), avg(coc) from indices"
    ).fetchall()[0]
    return {"rows": rows, "windows": windows_seen, "mean_upc": upc, "mean_coc": coc}


def run_pandas(data: Path) -> dict[str, object]:
    """The four indices the build computes per patient (int_continuity_patient_indices), in
    vectorised pandas: UPC and COC as the floor; SECON, the share of consecutive pairs of
    encounters (date order, ties by encounter_id, both inside the window) with the same GP,
    (N - 1) pairs; and MMCI, (1 - clinicians / (N + 0.1)) / (1 - 1 / (N + 0.1))."""
    import pandas as pd

    path = encounters_file(data)
    columns = [
        "encounter_id", "practice_code", "patient_id", "clinician_id", "clinician_role",
        "encounter_date",
    ]
    frame = (
        pd.read_parquet(path, columns=columns)
        if path.suffix == ".parquet"
        else pd.read_csv(path, usecols=columns, parse_dates=["encounter_date"])
    )
    frame = frame[frame["clinician_role"] == "GP"].dropna(
        subset=["patient_id", "clinician_id", "encounter_date"]
    )
    frame["month"] = pd.to_datetime(frame["encounter_date"]).dt.to_period("M").dt.to_timestamp()
    frame = frame.sort_values(["practice_code", "patient_id", "encounter_date", "encounter_id"])
    previous = frame.shift()
    follows = (frame["practice_code"] == previous["practice_code"]) & (
        frame["patient_id"] == previous["patient_id"]
    )
    frame["previous_month"] = previous["month"].where(follows)
    frame["same_pair"] = (follows & (frame["clinician_id"] == previous["clinician_id"])).astype(
        "int64"
    )
    first, last = frame["month"].min().date(), frame["month"].max().date()
    results = []
    for start, end in windows(first, last):
        inside = frame[frame["month"].between(pd.Timestamp(start), pd.Timestamp(end))].copy()
        inside["pair"] = inside["same_pair"].where(
            inside["previous_month"] >= pd.Timestamp(start), 0
        )
        n = inside.groupby(["practice_code", "patient_id", "clinician_id"]).agg(
            n=("month", "size"), pairs=("pair", "sum")
        )
        n["n2"] = n["n"] * n["n"]
        patients = n.groupby(["practice_code", "patient_id"]).agg(
            total=("n", "sum"),
            clinicians=("n", "size"),
            most=("n", "max"),
            squares=("n2", "sum"),
            pairs=("pairs", "sum"),
        )
        patients = patients[patients["total"] >= MIN_ENCOUNTERS]
        total = patients["total"].astype("float64")
        indices = pd.DataFrame(
            {
                "window_start": start,
                "upc": patients["most"] / total,
                "coc": (patients["squares"] - total) / (total * (total - 1)),
                "secon": patients["pairs"] / (total - 1),
                "mmci": (1 - patients["clinicians"] / (total + 0.1)) / (1 - 1 / (total + 0.1)),
            }
        )
        results.append(indices)
    every = pd.concat(results)
    return {
        "rows": len(every),
        "windows": len(results),
        **{f"mean_{index}": float(every[index].mean()) for index in INDICES},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("method", choices=["floor", "pandas"])
    parser.add_argument("--data", type=Path, required=True)
    args = parser.parse_args(argv)
    result = run_floor(args.data) if args.method == "floor" else run_pandas(args.data)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
