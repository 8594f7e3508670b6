"""`nbhd import`: published NHS files turned into input datasets.

- `gpad`: an *Appointments in General Practice* practice-level crosstab, kept as published
  (`gp_appointments.csv`; later months are appended), or its `Mapping.csv`
  (`organisations.csv`: neighbourhood = PCN, place = sub-ICB location).
- `epcn`: the ePCN *PCN core partner details* practice-to-PCN table with its dates
  (`organisations.csv`).
- `payments`: *NHS Payments to General Practice* (`practice_payments.csv` and
  `weighted_population.csv`).
- `population`: NHS Digital's *Patients Registered at a GP Practice* list sizes
  (`registered_population.csv`; the layouts and the combining are in population_import.py).
- `imd`: the English Indices of Deprivation LSOA file (`lsoa_deprivation.csv`).

The mappings and defaults are documented in docs/validation.md.
"""

from __future__ import annotations

import csv
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from metrics_cli.errors import UsageError
from metrics_cli.files import (
    atomic_path,
    check_not_input,
    check_own_file,
    check_replaceable,
    recorded_files,
    write_files_manifest,
)
from metrics_cli.files import write_csv as safe_csv
from metrics_cli.schemas import DATASETS, PAYMENT_CATEGORIES, parse_gpad_month

KINDS = ("gpad", "epcn", "payments", "population", "imd")
WRITTEN_BY = "nbhd import"
DEFAULT_VALID_FROM = "1900-01-01"
UNALLOCATED_PCN = "U"

GPAD_MAPPING_COLUMNS = (
    "GP_CODE",
    "GP_NAME",
    "PCN_CODE",
    "PCN_NAME",
    "SUB_ICB_LOCATION_CODE",
    "SUB_ICB_LOCATION_NAME",
    "ICB_CODE",
    "ICB_NAME",
)
GPAD_MONTH = "APPOINTMENT_MONTH_START_DATE"

# ePCN columns, by their names lower-cased with "Location" shortened to "Loc".
EPCN_COLUMNS = {
    "practice_code": "partner organisation code",
    "practice_name": "partner name",
    "place_code": "practice parent sub icb loc code",
    "place_name": "practice parent sub icb loc name",
    "pcn_code": "pcn code",
    "pcn_name": "pcn name",
    "valid_from": "practice to pcn relationship start date",
    "valid_to": "practice to pcn relationship end date",
}
EPCN_ICB_COLUMNS = {
    "icb_code": ("practice parent icb code", "icb code"),
    "icb_name": ("practice parent icb name", "icb name"),
}
# The ODS "epcncorepartnerdetails" report: the same table without a header row.
EPCN_ODS_REPORT_COLUMNS = (
    "Partner Organisation Code",
    "Partner Name",
    "Practice Parent Sub ICB Location Code",
    "Practice Parent Sub ICB Location Name",
    "PCN Code",
    "PCN Name",
    "PCN Parent Sub ICB Location Code",
    "PCN Parent Sub ICB Location Name",
    "Practice to PCN Relationship Start Date",
    "Practice to PCN Relationship End Date",
    "Practice Sub ICB and PCN Sub ICB Match?",
)

# NHS Payments to General Practice: every published payment column, by its name
# lower-cased with runs of white space collapsed, and the spec category it counts in.
# Totals, averages, deductions, list sizes and descriptive columns are in PAYMENTS_IGNORED.
PAYMENT_COLUMNS = {
    "global sum": "global_sum",
    "mpig correction factor": "global_sum",
    "balance of pms expenditure": "global_sum",
    "total qof payments": "qof",
    "childhood vaccination and immunisation scheme": "enhanced_services",
    "gp extended hours access": "enhanced_services",
    "influenza and pneumococcal immunisations": "enhanced_services",
    "learning disabilities": "enhanced_services",
    "meningitis": "enhanced_services",
    "minor surgery": "enhanced_services",
    "out of area in hours urgent care": "enhanced_services",
    "pertussis": "enhanced_services",
    "rotavirus and shingles immunisation": "enhanced_services",
    "services for violent patients": "enhanced_services",
    "medical assessment reviews": "enhanced_services",
    "weight management service": "enhanced_services",
    "local incentive schemes": "enhanced_services",
    "non des item pneumococcal vaccine, childhood immunisation main programme": (
        "enhanced_services"
    ),
    "covid immunisation": "enhanced_services",
    "long covid": "enhanced_services",
    "premises payments": "premises",
    "pcn participation": "pcn",
    "pcn leadership": "pcn",
    "pcn support": "pcn",
    "pcn extended hours access": "pcn",
    "pcn investment and impact fund": "pcn",
    "pcn care home premium": "pcn",
    "pcn enhanced access": "pcn",
    "pcn workforce": "arrs",
    "prescribing fee payments": "dispensing",
    "dispensing fee payments": "dispensing",
    "reimbursement of drugs": "dispensing",
    "seniority": "other",
    "doctors retainer scheme payments": "other",
    "total locum allowances": "other",
    "appraisal - appraiser costs in respect of locums": "other",
    "prolonged study leave": "other",
    "pco admin other": "other",
    "information management and technology": "other",
    "general practice transformation": "other",
    "winter access fund": "other",
    "covid support and expansion": "other",
    "other payments": "other",
}
PAYMENTS_PRACTICE = "practice code"
PAYMENTS_WEIGHTED = "number of weighted patients (last known figure)"
PAYMENTS_IGNORED_PATTERNS = (
    r"^total ",
    r"^average payments ",
    r"^deductions ",
    r"^number of registered patients",
)
PAYMENTS_IGNORED = frozenset(
    {
        "nhs england (region) code",
        "nhs england (region) name",
        "ccg code",
        "ccg name",
        "sub icb name",
        "sub icb code",
        "code",
        "practice code",
        "practice name",
        "practice address",
        "practice postcode",
        "practice open date",
        "practice close date",
        "contract type",
        "dispensing practice",
        "practice type",
        "practice rurality",
        "atypical characteristics",
        PAYMENTS_WEIGHTED,
    }
)


def import_published(
    kind: str,
    file: Path,
    out: Path,
    valid_from: str | None = None,
    financial_year: str | None = None,
    notes: list[str] | None = None,
) -> list[Path]:
    """Turn one published NHS file into input datasets in `out`; the files written.

    What the user should know about the result (breakdowns spread, rows left for
    validation) is appended to `notes`."""
    if kind not in KINDS:
        raise UsageError(f"import takes one of {', '.join(KINDS)}, not '{kind}'")
    if not file.is_file():
        raise UsageError(f"there is no file at {file}")
    if kind != "gpad" and valid_from is not None:
        raise UsageError("--valid-from applies to a GPAD Mapping.csv only")
    if kind != "payments" and financial_year is not None:
        raise UsageError("a financial year applies to the payments file only")
    if file.suffix.lower() in (".xlsx", ".xls", ".zip"):
        raise UsageError(f"{file.name} is not a CSV: save or extract the table as CSV first")
    check_not_input(out, [file], "--out")
    check_replaceable(out, WRITTEN_BY, "--out")
    recorded = recorded_files(out, WRITTEN_BY)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    told = notes if notes is not None else []
    try:
        written = _import(kind, file, out, valid_from, financial_year, told)
    except BaseException:
        if created:  # a failed first import leaves no directory behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    for path in written:
        before = recorded.get(path.name)
        if before is not None and (before["kind"], before["source"]) != (kind, file.name):
            told.append(
                f"{path.name} was replaced: it held the {before['kind']} import of "
                f"{before['source']}"
            )
        recorded[path.name] = {"kind": kind, "source": file.name}
    write_files_manifest(out, WRITTEN_BY, recorded)
    return written


def _import(
    kind: str,
    file: Path,
    out: Path,
    valid_from: str | None,
    financial_year: str | None,
    notes: list[str],
) -> list[Path]:
    if kind == "gpad":
        return _import_gpad(file, out, valid_from)
    if kind == "epcn":
        return [_import_epcn(file, out)]
    if kind == "population":
        from metrics_cli.population_import import import_population

        return import_population(file, out, notes)
    if kind == "imd":
        return [_import_imd(file, out)]
    return _import_payments(file, out, financial_year)


# ---------------------------------------------------------------- the directory
def own_file(path: Path) -> Path:
    """`path`, which an import is about to write: refused if a file is there that no import
    wrote (one the user put in the directory an import owns)."""
    return check_own_file(path, WRITTEN_BY, "move it away or import into another directory")


# ---------------------------------------------------------------- shared helpers
def _header(file: Path) -> list[str]:
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except UnicodeDecodeError as error:
        raise UsageError(f"{file.name} is not a UTF-8 CSV file") from error


def read_text(file: Path, has_header: bool = True) -> pl.DataFrame:
    try:
        return pl.read_csv(file, infer_schema=False, has_header=has_header, encoding="utf8")
    except pl.exceptions.PolarsError as error:
        raise UsageError(f"{file.name} could not be read as CSV: {error}") from error


def normalised(column: str) -> str:
    return re.sub(r"\s+", " ", column.strip()).lower()


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """Replace `path` (one of the import's own files) with `frame`, spreadsheet-safe."""
    with atomic_path(own_file(path)) as staged:
        safe_csv(frame, staged)
    return path


def _organisations_frame(columns: dict[str, pl.Expr], frame: pl.DataFrame) -> pl.DataFrame:
    """The organisations columns, in the canonical order, from expressions over `frame`."""
    spec = DATASETS["organisations"]
    return frame.select(
        [columns.get(name, pl.lit(None, pl.String)).alias(name) for name in spec.columns]
    )


# ---------------------------------------------------------------- GPAD
def _import_gpad(file: Path, out: Path, valid_from: str | None) -> list[Path]:
    header = _header(file)
    if GPAD_MONTH in header and "COUNT_OF_APPOINTMENTS" in header:
        if valid_from is not None:
            raise UsageError("--valid-from applies to a GPAD Mapping.csv, not a crosstab")
        return [_import_gpad_crosstab(file, header, out)]
    if all(column in header for column in GPAD_MAPPING_COLUMNS):
        return [_import_gpad_mapping(file, out, valid_from or DEFAULT_VALID_FROM)]
    raise UsageError(
        f"{file.name} is neither a GPAD practice-level crosstab "
        f"({GPAD_MONTH}, COUNT_OF_APPOINTMENTS, ...) nor its Mapping.csv "
        f"({', '.join(GPAD_MAPPING_COLUMNS)})"
    )


def _months(file: Path) -> set[date]:
    scanned = pl.scan_csv(file, infer_schema=False).select(pl.col(GPAD_MONTH)).unique()
    parsed = scanned.select(parse_gpad_month(pl.col(GPAD_MONTH))).collect().to_series()
    return set(parsed.drop_nulls().to_list())


def _import_gpad_crosstab(file: Path, header: list[str], out: Path) -> Path:
    """Copy the crosstab as published; a later month's file is appended to the first."""
    missing = [c for c in DATASETS["gp_appointments"].columns if c not in header]
    if missing:
        raise UsageError(f"{file.name} lacks the GPAD columns {', '.join(missing)}")
    target = own_file(out / "gp_appointments.csv")
    if not target.exists():
        with atomic_path(target) as staged:
            shutil.copyfile(file, staged)
        return target
    if _header(target) != header:
        raise UsageError(
            f"{target} already exists with other columns than {file.name}; "
            "import into an empty directory or make the columns match"
        )
    repeated = sorted(_months(target) & _months(file))
    if repeated:
        shown = ", ".join(m.strftime("%Y-%m") for m in repeated)
        raise UsageError(f"{target} already holds {shown}: appending would count it twice")
    with atomic_path(target) as staged:
        shutil.copyfile(target, staged)
        with staged.open("rb+") as existing:
            existing.seek(0, 2)
            if existing.tell():
                existing.seek(-1, 2)
                if existing.read(1) != b"\n":
                    existing.write(b"\n")
            with file.open("rb") as source:
                source.readline()
                shutil.copyfileobj(source, existing)
    return target


def _valid_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"{what} must be a date written YYYY-MM-DD, not '{text}'") from error


def _import_gpad_mapping(file: Path, out: Path, valid_from: str) -> Path:
    """Mapping.csv as organisations: one row per practice, valid from `valid_from`.

    Rows repeated with only SUPPLIER different (a practice moving clinical system) are one
    practice. Unallocated practices (PCN_CODE `U`) get the PCN `U-<sub-ICB code>`, so each
    sub-ICB location's unallocated practices group together without crossing places.
    """
    start = _valid_date(valid_from, "--valid-from")
    mapping = read_text(file).select(GPAD_MAPPING_COLUMNS).unique(maintain_order=True)
    unallocated = pl.col("PCN_CODE") == UNALLOCATED_PCN
    pcn_code = (
        pl.when(unallocated)
        .then(pl.concat_str(pl.lit(f"{UNALLOCATED_PCN}-"), pl.col("SUB_ICB_LOCATION_CODE")))
        .otherwise(pl.col("PCN_CODE"))
    )
    pcn_name = (
        pl.when(unallocated)
        .then(
            pl.concat_str(
                pl.col("PCN_NAME"), pl.lit(" ("), pl.col("SUB_ICB_LOCATION_CODE"), pl.lit(")")
            )
        )
        .otherwise(pl.col("PCN_NAME"))
    )
    organisations = _organisations_frame(
        {
            "practice_code": pl.col("GP_CODE"),
            "practice_name": pl.col("GP_NAME"),
            "pcn_code": pcn_code,
            "pcn_name": pcn_name,
            "neighbourhood_code": pcn_code,
            "neighbourhood_name": pcn_name,
            "place_code": pl.col("SUB_ICB_LOCATION_CODE"),
            "place_name": pl.col("SUB_ICB_LOCATION_NAME"),
            "icb_code": pl.col("ICB_CODE"),
            "icb_name": pl.col("ICB_NAME"),
            "valid_from": pl.lit(start),
            "valid_to": pl.lit(None, pl.Date),
        },
        mapping,
    )
    return write_csv(organisations, out / "organisations.csv")


# ---------------------------------------------------------------- ePCN
def _epcn_table(file: Path) -> pl.DataFrame:
    """The ePCN table with its columns named by EPCN_COLUMNS' normalised names."""
    header = _header(file)
    first = header[0].strip() if header else ""
    if len(header) == len(EPCN_ODS_REPORT_COLUMNS) and re.fullmatch(r"[A-Z]\d{5}", first):
        table = read_text(file, has_header=False)
        table.columns = list(EPCN_ODS_REPORT_COLUMNS)
    else:
        table = read_text(file)
    names = {c: normalised(c).replace("location", "loc") for c in table.columns}
    table = table.rename(names)
    missing = [published for published in EPCN_COLUMNS.values() if published not in table.columns]
    if missing:
        raise UsageError(
            f"{file.name} is not the ePCN PCN core partner details table: "
            f"it lacks {', '.join(missing)}"
        )
    return table


def _epcn_date(column: str) -> pl.Expr:
    """ePCN dates: ISO, the ODS report's YYYYMMDD, or DD/MM/YYYY as a spreadsheet saves them."""
    text = pl.col(column).str.strip_chars()
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        text.str.to_date("%Y%m%d", strict=False),
        text.str.to_date("%d/%m/%Y", strict=False),
    )


def _import_epcn(file: Path, out: Path) -> Path:
    """Practice-to-PCN relationships as organisations rows, one per relationship.

    Without ICB columns the ICB is taken to be the sub-ICB location (documented). Where
    a relationship's end date reaches the next relationship's start, it is ended the day
    before, so one practice's periods never overlap.
    """
    table = _epcn_table(file)
    icb: dict[str, pl.Expr] = {}
    for target, candidates in EPCN_ICB_COLUMNS.items():
        found = next((c for c in candidates if c in table.columns), None)
        fallback = EPCN_COLUMNS["place_code" if target == "icb_code" else "place_name"]
        icb[target] = pl.col(found if found else fallback)
    start, end = EPCN_COLUMNS["valid_from"], EPCN_COLUMNS["valid_to"]
    dated = table.with_columns(_epcn_date(start).alias("_start"), _epcn_date(end).alias("_end"))
    bad = dated.with_row_index("row", 1).filter(
        pl.col("_start").is_null()
        | (pl.col(end).str.strip_chars().str.len_chars() > 0) & pl.col("_end").is_null()
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise UsageError(
            f"{file.name} row {row['row']}: relationship dates must be YYYY-MM-DD, YYYYMMDD "
            f"or DD/MM/YYYY, not '{row[start]}' / '{row[end]}'"
        )
    pcn_code, pcn_name = pl.col(EPCN_COLUMNS["pcn_code"]), pl.col(EPCN_COLUMNS["pcn_name"])
    organisations = _organisations_frame(
        {
            "practice_code": pl.col(EPCN_COLUMNS["practice_code"]).str.strip_chars(),
            "practice_name": pl.col(EPCN_COLUMNS["practice_name"]),
            "pcn_code": pcn_code,
            "pcn_name": pcn_name,
            "neighbourhood_code": pcn_code,
            "neighbourhood_name": pcn_name,
            "place_code": pl.col(EPCN_COLUMNS["place_code"]),
            "place_name": pl.col(EPCN_COLUMNS["place_name"]),
            "icb_code": icb["icb_code"],
            "icb_name": icb["icb_name"],
            "valid_from": pl.col("_start"),
            "valid_to": pl.col("_end"),
        },
        dated,
    ).unique(maintain_order=True)
    next_start = pl.col("valid_from").shift(-1).over("practice_code")
    trimmed = organisations.sort("practice_code", "valid_from").with_columns(
        pl.when(
            (next_start > pl.col("valid_from"))
            & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= next_start))
        )
        .then(next_start - timedelta(days=1))
        .otherwise(pl.col("valid_to"))
        .alias("valid_to")
    )
    return write_csv(trimmed, out / "organisations.csv")


# ---------------------------------------------------------------- payments
def _financial_year(file: Path, given: str | None) -> str:
    """`2022/23` from the option, else from a `2022-23` (or `2022_23`) in the file name."""
    if given is not None:
        match = re.fullmatch(r"(\d{4})/(\d{2})", given)
    else:
        match = re.search(r"(?<!\d)(20\d{2})[-_](\d{2})(?!\d)", file.name)
    if match and (int(match.group(1)) + 1) % 100 == int(match.group(2)):
        return f"{match.group(1)}/{match.group(2)}"
    raise UsageError(
        f"cannot tell the financial year of {file.name}: name the file like "
        "nhs_payments_gp_2022-23.csv, or give the year as 2022/23"
    )


def _amount(column: str) -> pl.Expr:
    """A published amount as a number: blank is 0; thousands commas and £ are dropped."""
    text = pl.col(column).str.replace_all(r"[,£\s]", "")
    number = text.cast(pl.Float64, strict=False)
    return pl.when(text.is_null() | (text == "")).then(0.0).otherwise(number).alias(column)


def _import_payments(file: Path, out: Path, financial_year: str | None) -> list[Path]:
    """practice_payments (one row per practice and category) and weighted_population."""
    year = _financial_year(file, financial_year)
    table = read_text(file)
    table = table.rename({c: normalised(c) for c in table.columns})
    if PAYMENTS_PRACTICE not in table.columns or PAYMENTS_WEIGHTED not in table.columns:
        raise UsageError(
            f"{file.name} is not an NHS Payments to General Practice file: it lacks "
            "'Practice Code' or 'Number of Weighted Patients (Last Known Figure)'"
        )
    unknown = [
        c
        for c in table.columns
        if c not in PAYMENT_COLUMNS
        and c not in PAYMENTS_IGNORED
        and not any(re.match(p, c) for p in PAYMENTS_IGNORED_PATTERNS)
    ]
    if unknown:
        raise UsageError(
            f"{file.name} has payment columns this importer does not know: "
            f"{'; '.join(unknown)}. Add them to PAYMENT_COLUMNS in metrics_cli/importers.py"
        )
    paid = [c for c in table.columns if c in PAYMENT_COLUMNS]
    amounts = table.select(
        pl.col(PAYMENTS_PRACTICE).alias("practice_code"), *[_amount(c) for c in paid]
    )
    for column in paid:
        broken = amounts.filter(pl.col(column).is_null())
        if broken.height:
            practice = broken.get_column("practice_code")[0]
            raise UsageError(f"{file.name}: '{column}' of practice {practice} is not a number")
    payments = (
        amounts.unpivot(index="practice_code", on=paid, variable_name="column", value_name="amount")
        .with_columns(
            pl.col("column")
            .replace_strict(PAYMENT_COLUMNS, return_dtype=pl.String)
            .alias("payment_category")
        )
        .group_by("practice_code", "payment_category")
        .agg(pl.col("amount").sum().round(2).alias("amount_gbp"))
        .sort("practice_code", pl.col("payment_category").cast(pl.Enum(PAYMENT_CATEGORIES)))
        .select(
            pl.lit(year).alias("financial_year"),
            "practice_code",
            "payment_category",
            "amount_gbp",
        )
    )
    weighted = table.select(
        pl.lit(year).alias("financial_year"),
        pl.col(PAYMENTS_PRACTICE).alias("practice_code"),
        pl.col(PAYMENTS_WEIGHTED).str.strip_chars().alias("weighted_patients"),
    )
    return [
        write_csv(payments, out / "practice_payments.csv"),
        write_csv(weighted, out / "weighted_population.csv"),
    ]


# ---------------------------------------------------------------- IMD
# English Indices of Deprivation, by normalised column name: the published File 1 / File 7
# names (2019: LSOA 2011 codes; 2025: LSOA 2021 codes) and short forms such as
# `lsoa11_code,IMD_decile,IMD_rank`.
IMD_LSOA = ("lsoa code (2011)", "lsoa code (2021)", "lsoa11_code", "lsoa21_code", "lsoa11cd",
            "lsoa21cd", "lsoa_code")  # fmt: skip
IMD_DECILE = (r"^index of multiple deprivation \(imd\) decile\b", r"^imd_?\s?decile$")
IMD_RANK = (r"^index of multiple deprivation \(imd\) rank\b", r"^imd_?\s?rank$")


def _imd_column(columns: list[str], patterns: tuple[str, ...]) -> str | None:
    return next((c for p in patterns for c in columns if re.search(p, c)), None)


def _import_imd(file: Path, out: Path) -> Path:
    """lsoa_deprivation: each LSOA's IMD decile and rank, as published.

    Values are copied, not checked: validation quarantines a decile outside 1 to 10, a
    malformed LSOA code or a repeated LSOA with the row-level reason."""
    table = read_text(file)
    table = table.rename({c: normalised(c) for c in table.columns})
    lsoa = next((c for c in IMD_LSOA if c in table.columns), None)
    decile = _imd_column(table.columns, IMD_DECILE)
    if lsoa is None or decile is None:
        raise UsageError(
            f"{file.name} is not an English Indices of Deprivation LSOA file: it needs an "
            "'LSOA code (2011)' or 'LSOA code (2021)' column and the 'Index of Multiple "
            "Deprivation (IMD) Decile' (save the IMD sheet of File 1, or File 7, as CSV)"
        )
    rank = _imd_column(table.columns, IMD_RANK)
    deprivation = table.select(
        pl.col(lsoa).str.strip_chars().alias("lsoa_code"),
        pl.col(decile).str.strip_chars().alias("imd_decile"),
        (pl.col(rank).str.strip_chars() if rank else pl.lit(None, pl.String))
        .str.replace_all(",", "")
        .alias("imd_rank"),
    )
    return write_csv(deprivation, out / "lsoa_deprivation.csv")
