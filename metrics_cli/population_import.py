"""`nbhd import population`: NHS Digital's *Patients Registered at a GP Practice* files.

Three published layouts, told apart by their columns (names matched ignoring case, with
spaces read as underscores):

- practice by single year of age: `EXTRACT_DATE, TYPE, CODE, SEX, AGE, NUMBER_OF_PATIENTS`
  (`gp-reg-pat-prac-all.csv`, every practice's list size with `SEX` and `AGE` `ALL`, and the
  `gp-reg-pat-prac-sing-age-female/male.csv` single-age files);
- practice by five-year age group: `EXTRACT_DATE, ORG_TYPE, ORG_CODE, SEX, AGE_GROUP_5,
  NUMBER_OF_PATIENTS` (`gp-reg-pat-prac-quin-age.csv`; practices are `ORG_TYPE` `GP`);
- practice by LSOA: `EXTRACT_DATE, PRACTICE_CODE, LSOA_CODE, SEX, NUMBER_OF_PATIENTS`
  (`gp-reg-pat-prac-lsoa-all.csv`, and the `-male` / `-female` files).

Each file imported into a directory is kept, normalised, under
`registered_population_published/`; `registered_population.csv` is then rebuilt from every
file imported so far, one extract (publication month) at a time: the practice's age-sex
counts spread over its LSOAs so that both the LSOA and the age-sex totals are kept exactly.
A practice with no age-sex breakdown in that month has its list size spread over the
European Standard Population 2013 age profile, half female and half male (so its
age-standardised rates equal its crude rates), and the import says how many; a practice
with no LSOA breakdown is in LSOA `UNKNOWN`. Rows the importer cannot read (a count that is
not a whole number, an unknown sex or age code, an unreadable date) are written as
published and left for validation to quarantine with the row-level reason.
The decisions are documented in docs/validation.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from metrics_cli.errors import UsageError
from metrics_cli.files import atomic_path
from metrics_cli.files import write_csv as safe_csv
from metrics_cli.importers import normalised, own_file, read_text, write_csv
from metrics_cli.schemas import AGE_BANDS, parse_gpad_month

SOURCES_DIR = "registered_population_published"
OUTPUT_COLUMNS = ("extract_date", "practice_code", "lsoa_code", "sex", "age_band", "patients")
SEXES = ("F", "M")
CELLS = tuple((sex, band) for sex in SEXES for band in AGE_BANDS)
UNKNOWN_LSOA = "UNKNOWN"
ALL = "ALL"

# European Standard Population 2013 by the 19 bands (seeds/esp2013.csv; a unit test keeps
# the two equal): the age profile given to a practice whose files have no age breakdown.
ESP2013 = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """One published layout: its columns (normalised names) and what each holds."""

    name: str
    practice: str
    age: str | None
    lsoa: str | None
    org_type: str | None


LAYOUTS = (
    Layout("five-year age", "ORG_CODE", "AGE_GROUP_5", None, "ORG_TYPE"),
    Layout("LSOA", "PRACTICE_CODE", None, "LSOA_CODE", None),
    Layout("single-year age", "CODE", "AGE", None, "TYPE"),
)
COMMON = ("EXTRACT_DATE", "SEX", "NUMBER_OF_PATIENTS")
SEX_CODES = {"FEMALE": "F", "F": "F", "MALE": "M", "M": "M"}


# ---------------------------------------------------------------- reading one file
def _layout(header: list[str], file: Path) -> Layout:
    names = set(header)
    for layout in LAYOUTS:
        wanted = [c for c in (layout.practice, layout.age, layout.lsoa) if c] + list(COMMON)
        if all(column in names for column in wanted):
            return layout
    raise UsageError(
        f"{file.name} is not a Patients Registered at a GP Practice file: it needs "
        "EXTRACT_DATE, SEX, NUMBER_OF_PATIENTS and CODE + AGE, ORG_CODE + AGE_GROUP_5 "
        "or PRACTICE_CODE + LSOA_CODE"
    )


def _age_band(text: pl.Expr) -> pl.Expr:
    """A published age as an ESP2013 band: a single year (`0`..`94`, `95+`) or a five-year
    group (`0_4`, `0-4` .. `90_94`, `95+`); 90 and over is `90+`. Anything else as is."""
    cleaned = text.str.strip_chars().str.replace_all("_", "-")
    first = cleaned.str.extract(r"^(\d+)(?:\+|-\d+)?$").cast(pl.Int64, strict=False)
    banded = (
        pl.when(first >= 90)
        .then(pl.lit("90+"))
        .otherwise(
            pl.concat_str((first // 5 * 5).cast(pl.String), pl.lit("-"), (first // 5 * 5 + 4))
        )
    )
    five_year = cleaned.str.extract(r"^(\d+)-(\d+)$", 2).cast(pl.Int64, strict=False)
    consistent = five_year.is_null() | (five_year - first == 4) | (first >= 90)
    return pl.when(first.is_not_null() & consistent).then(banded).otherwise(cleaned)


@dataclass(frozen=True)
class Piece:
    """One imported file, normalised: its month, what it breaks down by, and its rows."""

    month: str
    breakdown: str
    sexes: tuple[str, ...]
    rows: pl.DataFrame

    @property
    def file_name(self) -> str:
        return f"{self.month}_{self.breakdown}_{'-'.join(self.sexes) or ALL}.csv"


def read_published(file: Path) -> Piece:
    """One published file as a Piece: practices only, at the finest breakdown it has."""
    table = read_text(file)
    table = table.rename({c: normalised(c).upper().replace(" ", "_") for c in table.columns})
    layout = _layout(table.columns, file)
    if layout.org_type and layout.org_type in table.columns:
        table = table.filter(pl.col(layout.org_type).str.strip_chars().str.to_uppercase() == "GP")
    sex = pl.col("SEX").str.strip_chars().str.to_uppercase()
    age_text = pl.col(layout.age).str.strip_chars() if layout.age else pl.lit(ALL)
    age = age_text.str.to_uppercase()
    has_sex = table.select((sex != ALL).any()).item() is True
    has_age = layout.age is not None and table.select((age != ALL).any()).item() is True
    finest = table.filter((sex != ALL) if has_sex else sex == ALL).filter(
        (age != ALL) if has_age else age == ALL
    )
    month = parse_gpad_month(pl.col("EXTRACT_DATE").str.strip_chars()).dt.month_start()
    none = pl.lit(None, pl.String)
    rows = finest.select(
        extract_date=pl.coalesce(month.dt.strftime("%Y-%m-%d"), pl.col("EXTRACT_DATE")),
        practice_code=pl.col(layout.practice).str.strip_chars(),
        lsoa_code=pl.col(layout.lsoa).str.strip_chars() if layout.lsoa else none,
        sex=sex.replace_strict(SEX_CODES, default=sex) if has_sex else none,
        age_band=_age_band(age_text) if has_age else none,
        patients=pl.col("NUMBER_OF_PATIENTS").str.strip_chars(),
    )
    months = rows.filter(pl.col("extract_date").str.contains(r"^\d{4}-\d{2}-01$"))
    found = months.get_column("extract_date").unique().sort().to_list()
    if len(found) != 1:
        raise UsageError(
            f"{file.name} must hold one extract (EXTRACT_DATE such as 01JAN2021), not {len(found)}"
        )
    breakdown = "_".join(
        part
        for part, present in (("lsoa", layout.lsoa), ("age", has_age), ("sex", has_sex))
        if present
    )
    sexes = tuple(sorted(set(rows.get_column("sex").drop_nulls()) & set(SEXES)))
    return Piece(found[0][:7], breakdown or "total", sexes, rows)


# ---------------------------------------------------------------- whole numbers kept whole
def _valid() -> pl.Expr:
    sex_ok = pl.col("sex").is_null() | pl.col("sex").is_in(SEXES)
    age_ok = pl.col("age_band").is_null() | pl.col("age_band").is_in(AGE_BANDS)
    return (
        pl.col("extract_date").str.contains(r"^\d{4}-\d{2}-01$")
        & pl.col("practice_code").is_not_null()
        & pl.col("patients").str.contains(r"^\d{1,15}$")
        & sex_ok
        & age_ok
    )


def _apportion(totals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Whole numbers per row summing to each row's total, in proportion to the row's
    weights (largest remainders, ties to the earlier column); exact integer arithmetic."""
    weight_sums = weights.sum(axis=1)
    safe = np.where(weight_sums == 0, 1, weight_sums)
    quotas = totals[:, None] * weights
    base = quotas // safe[:, None]
    remainders = quotas % safe[:, None]
    short = totals - base.sum(axis=1)
    order = np.argsort(-remainders, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(weights.shape[1])[None, :], axis=1)
    share = base + (ranks < short[:, None])
    return np.where(weight_sums[:, None] == 0, 0, share)


def _apportion_groups(frame: pl.DataFrame, group: list[str], total: pl.Expr) -> pl.Series:
    """`_apportion` over long rows: each group's `total` shared in proportion to its
    `weight` column, ties to the earlier row."""
    weight_sum = pl.col("weight").sum().over(group)
    quota = total * pl.col("weight")
    shares = frame.select(
        base=quota // weight_sum,
        remainder=quota % weight_sum,
        total=total,
        weight_sum=weight_sum,
        **{key: pl.col(key) for key in group},
    ).with_columns(short=pl.col("total") - pl.col("base").sum().over(group))
    share = pl.col("base") + (
        pl.col("remainder").rank("ordinal", descending=True).over(group) <= pl.col("short")
    ).cast(pl.Int64)
    return shares.select(pl.when(pl.col("weight_sum") > 0).then(share).otherwise(0)).to_series()


def _spread_over_lsoas(cells: np.ndarray, owner: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each practice's cell counts (a row of `cells`) shared over its LSOAs (rows of
    `owner`, the practice's row in `cells`, and `counts`, which add up to the practice's
    total): LSOA by LSOA, in proportion to what is still unallocated, so both the LSOA
    totals and the cell totals are kept exactly (the last LSOA takes what is left)."""
    left = cells.copy()
    out = np.zeros((len(owner), cells.shape[1]), dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    rank = np.arange(len(owner)) - np.repeat(starts, np.diff(np.r_[starts, len(owner)]))
    for step in range(int(rank.max()) + 1 if len(rank) else 0):
        rows = np.flatnonzero(rank == step)
        practices = owner[rows]
        share = _apportion(counts[rows], left[practices])
        out[rows] = share
        left[practices] -= share
    return out


# ---------------------------------------------------------------- one extract
def _counts(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (
        rows.group_by(keys).agg(pl.col("patients").cast(pl.Int64).sum()).sort(keys, nulls_last=True)
    )


def _long(matrix: np.ndarray, practices: pl.Series, lsoas: pl.Series) -> pl.DataFrame:
    """A matrix (one row per practice and LSOA, one column per CELLS) as long rows, zero
    cells left out."""
    row, column = np.nonzero(matrix)
    return pl.DataFrame(
        {
            "practice_code": practices.gather(row),
            "lsoa_code": lsoas.gather(row),
            "sex": pl.Series([sex for sex, _ in CELLS]).gather(column),
            "age_band": pl.Series([band for _, band in CELLS]).gather(column),
            "patients": matrix[row, column],
        }
    )


@dataclass(frozen=True)
class Extract:
    """registered_population rows of one month, and how many practices lacked a breakdown."""

    rows: pl.DataFrame
    practices: int
    without_age_sex: int
    without_lsoa: int


def _sex_sizes(sizes: pl.DataFrame) -> pl.DataFrame:
    """practice_code, sex, patients: sexes as given, or a list size halved (F first)."""
    known = sizes.filter(pl.col("sex").is_not_null())
    halves = (
        sizes.filter(pl.col("sex").is_null())
        .select("practice_code", "patients")
        .join(pl.DataFrame({"sex": list(SEXES), "weight": [1, 1]}), how="cross")
    )
    halves = halves.with_columns(
        _apportion_groups(halves, ["practice_code"], pl.col("patients")).alias("patients")
    ).select("practice_code", "sex", "patients")
    return pl.concat([known.select("practice_code", "sex", "patients"), halves])


def combine_extract(pieces: list[Piece]) -> Extract:
    """One month's registered_population from the valid rows of its pieces."""

    def rows_of(*kinds: str) -> pl.DataFrame:
        chosen = [p.rows for p in pieces if p.breakdown.split("_")[0] in kinds]
        return pl.concat(chosen) if chosen else pieces[0].rows.clear()

    age_sex, totals, lsoa = rows_of("age"), rows_of("total"), rows_of("lsoa")
    profiled = set(age_sex["practice_code"])
    practices = sorted(profiled | set(totals["practice_code"]) | set(lsoa["practice_code"]))
    index = {practice: i for i, practice in enumerate(practices)}
    cell_index = {cell: j for j, cell in enumerate(CELLS)}
    cells = np.zeros((len(practices), len(CELLS)), dtype=np.int64)
    for practice, sex, band, patients in _counts(
        age_sex, ["practice_code", "sex", "age_band"]
    ).iter_rows():
        cells[index[practice], cell_index[(sex, band)]] += patients

    # practices without an age-sex breakdown: the list size (else the LSOA total) by sex,
    # then over the ESP2013 age profile
    listed = dict(_counts(totals, ["practice_code"]).iter_rows())
    lsoa_total = dict(_counts(lsoa, ["practice_code"]).iter_rows())
    lsoa_sexed: dict[str, list[tuple[str, int]]] = {}
    for practice, sex, patients in _counts(
        lsoa.filter(pl.col("sex").is_not_null()), ["practice_code", "sex"]
    ).iter_rows():
        lsoa_sexed.setdefault(practice, []).append((sex, patients))
    sizes: list[tuple[str, str | None, int]] = []
    for practice in practices:
        if practice in profiled:
            continue
        if practice in listed:
            sizes.append((practice, None, listed[practice]))
        elif practice in lsoa_sexed:
            sizes.extend((practice, sex, patients) for sex, patients in lsoa_sexed[practice])
        else:
            sizes.append((practice, None, lsoa_total[practice]))
    by_sex = pl.DataFrame(
        sizes,
        schema={"practice_code": pl.String, "sex": pl.String, "patients": pl.Int64},
        orient="row",
    )
    by_sex = _sex_sizes(by_sex)
    if by_sex.height:
        esp = pl.DataFrame({"age_band": list(AGE_BANDS), "weight": list(ESP2013)})
        spread = by_sex.join(esp, how="cross").sort("practice_code", "sex")
        spread = spread.with_columns(
            _apportion_groups(spread, ["practice_code", "sex"], pl.col("patients")).alias(
                "patients"
            )
        )
        for practice, sex, patients, band in spread.select(
            "practice_code", "sex", "patients", "age_band"
        ).iter_rows():
            cells[index[practice], cell_index[(sex, band)]] = patients

    # the LSOA split: the age-sex counts set the list size, the LSOA file how it is split
    parts: list[pl.DataFrame] = []
    split = set(lsoa["practice_code"])
    unsplit = [i for i, practice in enumerate(practices) if practice not in split]
    parts.append(
        _long(
            cells[unsplit],
            pl.Series([practices[i] for i in unsplit], dtype=pl.String),
            pl.Series([UNKNOWN_LSOA] * len(unsplit), dtype=pl.String),
        )
    )
    by_sex_lsoa = lsoa["sex"].null_count() < lsoa.height
    for sex_group in SEXES if by_sex_lsoa else (None,):
        columns = [j for j, (sex, _) in enumerate(CELLS) if sex_group in (None, sex)]
        group = lsoa if sex_group is None else lsoa.filter(pl.col("sex") == sex_group)
        group = _counts(group, ["practice_code", "lsoa_code"])
        if group.is_empty():
            continue
        owner = np.array([index[p] for p in group["practice_code"]], dtype=np.int64)
        own_cells = cells[:, columns]
        group = group.with_columns(
            weight=pl.col("patients"), size=pl.Series(own_cells.sum(axis=1)[owner])
        )
        scaled = _apportion_groups(group, ["practice_code"], pl.col("size"))
        shared = _spread_over_lsoas(own_cells, owner, scaled.to_numpy().astype(np.int64))
        full = np.zeros((len(owner), len(CELLS)), dtype=np.int64)
        full[:, columns] = shared
        parts.append(_long(full, group["practice_code"], group["lsoa_code"]))
    return Extract(
        pl.concat(parts),
        len(practices),
        len(practices) - len(profiled & set(practices)),
        len(unsplit),
    )


# ---------------------------------------------------------------- the directory
def _stored(out: Path) -> list[Piece]:
    pieces = []
    for path in sorted((out / SOURCES_DIR).glob("*.csv")):
        parts = path.stem.split("_")
        month, breakdown, sexes = parts[0], "_".join(parts[1:-1]), parts[-1]
        rows = pl.read_csv(
            path, infer_schema=False, schema=dict.fromkeys(OUTPUT_COLUMNS, pl.String)
        )
        chosen = () if sexes == ALL else tuple(sexes.split("-"))
        pieces.append(Piece(month, breakdown, chosen, rows))
    return pieces


def _overlaps(new: Piece, old: Piece) -> bool:
    """The same month and kind of breakdown, for a sex both hold (all sexes: any)."""
    same_kind = new.breakdown.split("_")[0] == old.breakdown.split("_")[0]
    both = not new.sexes or not old.sexes or bool(set(new.sexes) & set(old.sexes))
    return new.month == old.month and same_kind and both


def _one_sex_only(pieces: list[Piece]) -> str | None:
    """The sex of a month whose age breakdown holds only that sex (one single-age file)."""
    sexes = {sex for p in pieces if p.breakdown.startswith("age") for sex in p.sexes or SEXES}
    return next(iter(sexes)) if len(sexes) == 1 else None


def _month_rows(month: str, pieces: list[Piece], notes: list[str] | None) -> pl.DataFrame:
    """registered_population rows of one month; what the user should know, in `notes`."""
    extract = combine_extract(
        [Piece(p.month, p.breakdown, p.sexes, p.rows.filter(_valid())) for p in pieces]
    )
    if notes is not None and extract.without_age_sex:
        notes.append(
            f"{extract.without_age_sex} of {extract.practices} practices of {month} have "
            "no age or sex breakdown: their list sizes were spread over the ESP2013 age "
            "profile, half female and half male (import the five-year age file of the "
            "same month for their own)"
        )
    if notes is not None and extract.without_lsoa:
        notes.append(
            f"{extract.without_lsoa} of {extract.practices} practices of {month} have no "
            "LSOA breakdown: their patients are in LSOA UNKNOWN (import the LSOA file of "
            "the same month to split them)"
        )
    lone = _one_sex_only(pieces)
    if notes is not None and lone is not None:
        notes.append(
            f"the age breakdown of {month} holds only sex {lone}: import the other sex's "
            "single-age file too, or the list sizes hold only these patients"
        )
    return extract.rows.select(
        pl.lit(f"{month}-01").alias("extract_date"),
        *OUTPUT_COLUMNS[1:-1],
        pl.col("patients").cast(pl.String),
    )


def import_population(file: Path, out: Path, notes: list[str]) -> list[Path]:
    """Keep `file` under SOURCES_DIR and rebuild registered_population.csv from them all.

    Nothing is written unless the whole import succeeds."""
    target = out / "registered_population.csv"
    if target.exists() and not (out / SOURCES_DIR).is_dir():
        raise UsageError(
            f"{target} was not written by nbhd import population: move it away first, "
            "or import into another directory"
        )
    piece = read_published(file)
    stored = _stored(out)
    repeated = [old for old in stored if _overlaps(piece, old)]
    if repeated:
        raise UsageError(
            f"{out / SOURCES_DIR / repeated[0].file_name} already holds the {piece.month} "
            f"{piece.breakdown.replace('_', ' and ')} breakdown: importing {file.name} "
            "would count it twice"
        )
    pieces = [*stored, piece]
    frames = [
        _month_rows(
            month, [p for p in pieces if p.month == month], notes if month == piece.month else None
        )
        for month in sorted({p.month for p in pieces})
    ]
    rejected = [
        p.rows.filter(~_valid()).with_columns(pl.col("lsoa_code").fill_null(UNKNOWN_LSOA))
        for p in pieces
    ]
    unread = sum(frame.height for frame in rejected)
    if unread:
        notes.append(
            f"{unread} published rows could not be read; they are written as published, for "
            "validation to quarantine with the reason"
        )
    (out / SOURCES_DIR).mkdir(parents=True, exist_ok=True)
    with atomic_path(own_file(target)) as staged:
        safe_csv(pl.concat([*frames, *rejected]).select(OUTPUT_COLUMNS), staged)
        write_csv(piece.rows, out / SOURCES_DIR / piece.file_name)
    return [target]
