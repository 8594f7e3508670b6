"""The input rules of `../shared/spec/inputs.md`, stated once.

Every dataset is read as text first, so that a bad value can be reported with the row it
is on; `dataset_schema` is the pandera (polars backend) schema that checks that text, and
`to_canonical` turns the rows that pass into the canonical columns and dtypes. `DATASETS`
is the registry the validator and the warehouse build share.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from metrics_cli._pandera import pa
from metrics_cli.files import HIDING_CHARACTERS

SEXES = ("F", "M")
AGE_BANDS = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44",
    "45-49", "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
)  # fmt: skip
APPT_MODES = ("Face-to-Face", "Home Visit", "Telephone", "Video Conference/Online", "Unknown")
HCP_TYPES = ("GP", "Other Practice staff", "Unknown")
APPT_STATUSES = ("Attended", "DNA", "Unknown")
BOOKING_INTERVALS = (
    "Same Day",
    "1 Day",
    "2 to 7 Days",
    "8  to 14 Days",
    "15  to 21 Days",
    "22  to 28 Days",
    "More than 28 Days",
    "Unknown / Data Quality",
)
CLINICIAN_ROLES = (
    "GP", "Nurse", "Pharmacist", "Paramedic", "Physiotherapist", "Mental health practitioner",
    "Other",
)  # fmt: skip
FRAILTY = ("fit", "mild", "moderate", "severe")
ACTIVITY_TYPES = (
    "ae_type1", "ae_other", "emergency_admission", "elective_admission", "outpatient_first",
    "outpatient_followup",
)  # fmt: skip
ADMISSION_TYPES = ("emergency_admission", "elective_admission")
ACSC_CATEGORIES = ("none", "chronic", "acute", "vaccine_preventable")
COMMUNITY_SERVICES = (
    "district_nursing", "urgent_community_response", "virtual_ward", "community_mental_health",
    "community_pharmacy", "social_prescribing", "other_community",
)  # fmt: skip
PREM_RESPONSES = ("very_good", "fairly_good", "neither", "fairly_poor", "very_poor", "dont_know")
ORG_TYPES = ("icb", "place")
SPEND_CATEGORIES = (
    "acute", "community", "mental_health", "primary_care_gp", "primary_care_prescribing",
    "primary_care_pharmacy", "primary_care_dental", "primary_care_ophthalmic",
    "continuing_care", "other",
)  # fmt: skip
PAYMENT_CATEGORIES = (
    "global_sum", "qof", "enhanced_services", "pcn", "arrs", "premises", "dispensing", "other",
)  # fmt: skip
STAFF_GROUPS = (
    "gp_partner", "gp_salaried", "gp_locum", "gp_trainee", "nurse", "direct_patient_care",
    "admin",
)  # fmt: skip
MATURITY_STATUSES = ("met", "partially_met", "not_met", "not_assessed")
TRUE_TEXT = ("true", "TRUE", "True", "1")
FALSE_TEXT = ("false", "FALSE", "False", "0")

# A column names people when a word of its name is a compound such as `surname` or
# `firstName`, or is `name(s)` on its own or after a word that makes it a person's name
# (`patient_name`, `clinician_name`, `Given Name`). Organisations' names (`practice_name`,
# `pcn_name`) and things' names (`file_name`, `service_name`) are not people.
_PERSON_NAME_WORD = re.compile(
    r"^(fore|sur|first|last|given|family|middle|maiden|christian|nick|birth|full)names?$"
)
_PERSON_QUALIFIERS = frozenset(
    {"first", "last", "given", "family", "middle", "maiden", "christian", "nick", "birth",
     "full", "preferred", "legal", "known", "patient", "patients", "person", "persons",
     "people", "clinician", "doctor", "nurse", "staff", "carer", "contact", "kin",
     "nok", "mother", "father", "parent", "user", "respondent", "member", "client", "sur",
     "fore"}
)  # fmt: skip
UNKNOWN_LSOA = "UNKNOWN"

_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_GPAD_DATE = r"^\d{2}[A-Za-z]{3}\d{4}$"
_WHOLE_NUMBER = r"^\d{1,18}$"
_DECIMAL = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_FINANCIAL_YEAR = r"^(\d{4})/(\d{2})$"
_NHS_NUMBER_SHAPE = r"^\s*\d{3}[ -]?\d{3}[ -]?\d{4}\s*$"
# Digits of an NHS number may be grouped any way, the groups parted by white space, a dash
# or a dot (`943 476 5919`, `943-476-5919`, `9 4 3 4 7 6 5 9 1 9`), anywhere in a text.
_DIGIT_SEPARATOR = r"(?:\s*[-.]\s*|\s+)"
_DIGIT_RUN = rf"\d+(?:{_DIGIT_SEPARATOR}\d+)*"
_TEN_DIGITS = rf"\d(?:{_DIGIT_SEPARATOR}?\d){{9}}"
# A whole value that is one number with a decimal point (`94347659.19`, a spend in pounds)
# is a quantity: its two digit groups are never read as an NHS number.
_QUANTITY = r"^\s*[+-]?\d+\.\d+\s*$"
_FULL_POSTCODE = r"(?i)\b[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2}\b"
_LSOA = r"^[EW]01\d{6}$"
_ASSESSMENT_QUARTER = r"^(\d{4})/(\d{2}) Q[1-4]$"

Validity = Callable[[pl.Expr], pl.Expr]
Parser = Callable[[pl.Expr], pl.Expr]


# ---------------------------------------------------------------- text tests and parsers
def parse_iso_date(text: pl.Expr) -> pl.Expr:
    """`YYYY-MM-DD` text as a Date; null where it is not a real date."""
    return (
        pl.when(text.str.contains(_ISO_DATE))
        .then(text.str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
    )


def parse_gpad_month(text: pl.Expr) -> pl.Expr:
    """GPAD's `01JUL2024` (any letter case) or an ISO date, as a Date."""
    published = (
        pl.when(text.str.contains(_GPAD_DATE))
        .then(text.str.to_date("%d%b%Y", strict=False))
        .otherwise(None)
    )
    return pl.coalesce(published, parse_iso_date(text))


def _collapse_spaces(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(r"\s+", " ")


def normalise_booking_interval(text: pl.Expr) -> pl.Expr:
    """GPAD booking intervals in the published (double-spaced) text, whatever the spacing."""
    published = {re.sub(r"\s+", " ", value): value for value in BOOKING_INTERVALS}
    return _collapse_spaces(text).replace_strict(
        list(published), list(published.values()), default=None, return_dtype=pl.String
    )


def _parse_boolean(text: pl.Expr) -> pl.Expr:
    return (
        pl.when(text.is_in(TRUE_TEXT))
        .then(pl.lit(True))
        .when(text.is_in(FALSE_TEXT))
        .then(pl.lit(False))
        .otherwise(None)
    )


def _consecutive_years(text: pl.Expr, pattern: str) -> pl.Expr:
    first = text.str.extract(pattern, 1).cast(pl.Int64, strict=False)
    second = text.str.extract(pattern, 2).cast(pl.Int64, strict=False)
    return ((first + 1) % 100 == second).fill_null(False)


def is_financial_year(text: pl.Expr) -> pl.Expr:
    """`2024/25`: a year and the last two digits of the next."""
    return _consecutive_years(text, _FINANCIAL_YEAR)


def looks_like_nhs_number(text: pl.Expr) -> pl.Expr:
    """Ten digits, optionally spaced 3-3-4 (`943 476 5919`, `943-476-5919`): a cheap first test."""
    return text.str.contains(_NHS_NUMBER_SHAPE).fill_null(False)


def is_nhs_number(text: pl.Expr) -> pl.Expr:
    """A valid 10-digit NHS number (modulus 11 check digit), spaced `943 476 5919` or not.

    Ten repeats of one digit pass the arithmetic but are never issued, so they are not
    treated as NHS numbers (they are common dummy values in test systems).
    """
    number = (
        pl.when(looks_like_nhs_number(text))
        .then(text.str.replace_all(r"\D", "").cast(pl.Int64, strict=False))
        .otherwise(None)
    )
    digit: list[pl.Expr] = [(number // 10 ** (9 - i)) % 10 for i in range(10)]
    total = pl.sum_horizontal([digit[i] * (10 - i) for i in range(9)])
    check: pl.Expr = (11 - total % 11) % 11
    repeated_digit: pl.Expr = number % 1_111_111_111 == 0
    valid: pl.Expr = number.is_not_null() & ~repeated_digit & (check == digit[9])
    return valid.fill_null(False)


# One search for what any of a cell's own direct-identifier and hidden-character checks
# could find: ten digits in a row, a postcode's shape (without its word boundaries) or a
# hiding character. A superset of those checks' failures, at the cost of one of them.
_MAY_IDENTIFY = (
    f"{HIDING_CHARACTERS}|{_TEN_DIGITS}"
    r"|(?i:[A-Z]{1,2}[0-9][A-Z0-9]?\s*[0-9][A-Z]{2})"
)


def may_identify(text: pl.Expr) -> pl.Expr:
    """True on every text `nhs_numbers_in`, `is_full_postcode` or the hidden-character
    rule finds (and some they do not): the cheap first test of a batch's rows."""
    return text.str.contains(_MAY_IDENTIFY).fill_null(False)


def nhs_numbers_in(values: pl.Series) -> pl.Series:
    """True where a text holds a valid NHS number anywhere in it, in any grouping.

    Each run of digit groups (groups parted by white space, a dash or a dot) is cut at its
    group boundaries into every stretch of exactly ten digits, and each stretch is checked
    by `is_nhs_number`: `on 2024 943 476 5919` holds one, a single run of eleven digits
    holds none (it is some other number), nor does a decimal quantity such as
    `94347659.19`. Set-based: polars over the whole column."""
    frame = pl.DataFrame({"text": values.cast(pl.String)}).with_row_index("row")
    candidates = frame.filter(
        pl.col("text").str.contains(_TEN_DIGITS).fill_null(False)
        & ~pl.col("text").str.contains(_QUANTITY).fill_null(False)
    )
    if candidates.is_empty():
        return pl.Series(values.name, [False] * len(values), dtype=pl.Boolean)
    groups = pl.col("groups")
    numbers = (
        candidates.select("row", pl.col("text").str.extract_all(_DIGIT_RUN).alias("run"))
        .explode("run")
        .select("row", pl.col("run").str.extract_all(r"\d+").alias("groups"))
        .with_columns(
            groups.list.join("").alias("digits"),
            groups.list.eval(pl.element().str.len_chars().cum_sum()).alias("ends"),
        )
        .filter(pl.col("digits").str.len_chars() >= 10)
        .with_columns(pl.col("ends").list.eval(pl.element().shift(1, fill_value=0)).alias("start"))
        .explode("start")
        .filter(pl.col("ends").list.contains(pl.col("start") + 10))
        .select("row", pl.col("digits").str.slice(pl.col("start"), 10).alias("number"))
    )
    found = numbers.filter(is_nhs_number(pl.col("number"))).get_column("row").unique()
    flags = frame.select(pl.col("row").is_in(found.implode()).alias(values.name))
    return flags.to_series()


# An NHS number split over two neighbouring cells at one of its own group boundaries, the
# first part grouped as NHS numbers are written: `943 476` | `5919` or `943` | `476 5919`.
# The grouping is a space or a hyphen: a point would make a decimal amount (`943.476`)
# beside a four-digit count a split NHS number one time in eleven, refusing a whole file.
_SPLIT_SEPARATOR = r"(?:\s*-\s*|\s+)"
_SPLIT_BEFORE_LAST = (rf"^\s*\d{{3}}{_SPLIT_SEPARATOR}\d{{3}}\s*$", r"^\s*\d{4}\s*$")
_SPLIT_AFTER_FIRST = (r"^\s*\d{3}\s*$", rf"^\s*\d{{3}}{_SPLIT_SEPARATOR}\d{{4}}\s*$")


def nhs_number_split(first: pl.Expr, second: pl.Expr) -> pl.Expr:
    """True where two neighbouring cells hold a valid NHS number between them, split at a
    group boundary with the grouping showing (`943 476` and `5919`, or `943` and
    `476 5919`). Unspaced parts (`943476` and `5919`) are not matched: a six-digit code
    beside a four-digit count would pass the check digit one time in eleven."""
    joined = (first + second).str.replace_all(r"\D", "")
    return (split_shaped(first, second) & is_nhs_number(joined)).fill_null(False)


# either part of a split NHS number, first (`943 476`, `943`) or second (`5919`, `476 5919`)
_SPLIT_PART = (
    rf"^\s*(?:\d{{3}}(?:{_SPLIT_SEPARATOR}\d{{3}})?|(?:\d{{3}}{_SPLIT_SEPARATOR})?\d{{4}})\s*$"
)


def may_be_split_part(text: pl.Expr) -> pl.Expr:
    """True on every cell that is either part of a split NHS number (`split_shaped`): a
    pair of neighbouring cells can hold one only where both are. One search per cell,
    shared by the cell's two pairs, instead of two per pair."""
    return text.str.contains(_SPLIT_PART).fill_null(False)


def split_shaped(first: pl.Expr, second: pl.Expr) -> pl.Expr:
    """Two cells shaped like an NHS number split at a group boundary (`nhs_number_split`),
    whatever its check digit."""
    shaped = pl.lit(False)
    for before, after in (_SPLIT_BEFORE_LAST, _SPLIT_AFTER_FIRST):
        shaped = shaped | (first.str.contains(before) & second.str.contains(after))
    return shaped.fill_null(False)


def nhs_numbers_in_amounts(values: pl.Series) -> pl.Series:
    """`nhs_numbers_in` for a column of amounts (a decimal Field of an aggregate file, such
    as `spend.amount_gbp`): a
    value written as one plain number (`9434765919`, £9.4 billion of spend at ICB level) is
    a quantity, whatever its digits; the same digits spaced or with text around them are
    not an amount and are still found."""
    plain = values.cast(pl.String).str.contains(_DECIMAL).fill_null(False)
    return nhs_numbers_in(values) & ~plain


def is_full_postcode(text: pl.Expr) -> pl.Expr:
    """Holds a full UK postcode (outward and inward code) anywhere, in any letter case and
    spacing (`TS18 1AB`, `ts181ab`, `lives at TS18 1AB`)."""
    return text.str.contains(_FULL_POSTCODE).fill_null(False)


def is_name_column(column: str) -> bool:
    """A header that names people, by pattern (see `_PERSON_NAME_WORD`): `surname`,
    `FirstName`, `patient_surname`, `forenames`, `Given Name`, `name`; not `practice_name`."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column.strip())
    tokens = [token for token in re.split(r"[^a-z0-9]+", words.lower()) if token]
    for position, token in enumerate(tokens):
        if _PERSON_NAME_WORD.match(token) or token in ("initials", "forename", "forenames"):
            return True
        if token in ("name", "names") and (
            len(tokens) == 1 or (position > 0 and tokens[position - 1] in _PERSON_QUALIFIERS)
        ):
            return True
    return False


# ---------------------------------------------------------------- column kinds
@dataclass(frozen=True)
class Field:
    """One column: its canonical dtype, the text rule it must meet, and its parser."""

    dtype: pl.DataType
    nullable: bool = False
    rule: str | None = None
    message: str | None = None
    valid: Validity | None = None
    parse: Parser = lambda text: text
    # plausibility (`plausibility_rules`): a date the row is about is never after the build
    # date ("not_future"), and, for the column that dates the dataset's rows ("period"),
    # never far from the rest of the file; a count is at most `per_patient` times the
    # practice's registered list size
    when: str | None = None
    per_patient: int | None = None
    # Regular expressions that between them match every text `valid` accepts, none of
    # which can hold a direct identifier or a part of a split NHS number (neither
    # `may_identify` nor `may_be_split_part` finds one in it; a property test holds both):
    # the column's own rule then stands in for those searches when a batch's suspect rows
    # are found. Empty for a kind that may hold either (a number, free text).
    identifier_free_shapes: tuple[str, ...] = ()
    # `valid` as a test of the parsed value, where it is one (`valid(t)` is
    # `valid_parsed(parse(t))`): a batch's suspect rows are then found from the value parsed
    # once (`BuiltSchema.flags`), for this rule and the plausibility rules that read it
    valid_parsed: Callable[[pl.Expr], pl.Expr] | None = None


def _through(parse: Parser, test: Callable[[pl.Expr], pl.Expr]) -> Validity:
    """The text rule that is `test` of the text's parsed value."""
    return lambda text: test(parse(text))


def _is_day(day: pl.Expr) -> pl.Expr:
    return day.is_not_null()


def _first_of_month(day: pl.Expr) -> pl.Expr:
    return day.dt.day() == 1


def text(nullable: bool = False) -> Field:
    return Field(pl.String(), nullable)


def code(values: tuple[str, ...], nullable: bool = False, described: str | None = None) -> Field:
    listed = described or ", ".join(values)
    return Field(
        pl.String(),
        nullable,
        "allowed_values",
        f"{{column}} must be one of {listed}",
        lambda t: t.is_in(values),
        identifier_free_shapes=_exactly(values),
    )


def _exactly(values: Iterable[str]) -> tuple[str, ...]:
    """One shape matching each listed value and nothing else."""
    return tuple(f"^{re.escape(value)}$" for value in values)


def date(nullable: bool = False, when: str | None = None) -> Field:
    return Field(
        pl.Date(),
        nullable,
        "iso_date",
        "{column} must be a date written YYYY-MM-DD",
        _through(parse_iso_date, _is_day),
        parse_iso_date,
        when,
        identifier_free_shapes=(_ISO_DATE,),
        valid_parsed=_is_day,
    )


def month() -> Field:
    return Field(
        pl.Date(),
        False,
        "month_start",
        "{column} must be the first day of a month, written YYYY-MM-DD",
        _through(parse_iso_date, _first_of_month),
        parse_iso_date,
        "period",
        identifier_free_shapes=(_ISO_DATE,),
        valid_parsed=_first_of_month,
    )


def gpad_month() -> Field:
    return Field(
        pl.Date(),
        False,
        "month_start",
        "{column} must be the first day of a month, written 01JUL2024 or 2024-07-01",
        _through(parse_gpad_month, _first_of_month),
        parse_gpad_month,
        "period",
        identifier_free_shapes=(_GPAD_DATE, _ISO_DATE),
        valid_parsed=_first_of_month,
    )


def booking_interval() -> Field:
    return Field(
        pl.String(),
        False,
        "allowed_values",
        "{column} must be one of " + ", ".join(BOOKING_INTERVALS),
        lambda t: normalise_booking_interval(t).is_not_null(),
        normalise_booking_interval,
    )


def whole_number(
    nullable: bool = False, low: int = 0, high: int | None = None, per_patient: int | None = None
) -> Field:
    def within(t: pl.Expr) -> pl.Expr:
        number = t.cast(pl.Int64, strict=False)
        inside = number >= low if high is None else number.is_between(low, high)
        return t.str.contains(_WHOLE_NUMBER) & inside

    bounds = f">= {low}" if high is None else f"from {low} to {high}"
    return Field(
        pl.Int64(),
        nullable,
        "whole_number",
        f"{{column}} must be a whole number {bounds}",
        within,
        lambda t: t.cast(pl.Int64),
        per_patient=per_patient,
    )


def decimal(
    nullable: bool = False, above: float | None = None, at_least: float | None = None
) -> Field:
    def within(t: pl.Expr) -> pl.Expr:
        number = t.cast(pl.Float64, strict=False)
        ok = t.str.contains(_DECIMAL) & number.is_finite()
        if above is not None:
            ok = ok & (number > above)
        if at_least is not None:
            ok = ok & (number >= at_least)
        return ok

    if above is not None:
        rule, bound = "number_above", f" greater than {above:g}"
    elif at_least is not None:
        rule, bound = "number_at_least", f" >= {at_least:g}"
    else:
        rule, bound = "number", ""
    return Field(
        pl.Float64(),
        nullable,
        rule,
        f"{{column}} must be a number{bound}",
        within,
        lambda t: t.cast(pl.Float64),
    )


def boolean() -> Field:
    return Field(
        pl.Boolean(),
        False,
        "boolean",
        "{column} must be true or false",
        lambda t: t.is_in(TRUE_TEXT + FALSE_TEXT),
        _parse_boolean,
        identifier_free_shapes=_exactly(TRUE_TEXT + FALSE_TEXT),
    )


def financial_year() -> Field:
    return Field(
        pl.String(),
        False,
        "year_format",
        "{column} must be a financial year written like 2024/25",
        is_financial_year,
        identifier_free_shapes=(_FINANCIAL_YEAR,),
    )


def survey_wave() -> Field:
    return Field(
        pl.String(),
        False,
        "year_format",
        "{column} must be a calendar year like 2025 or a financial year like 2025/26",
        lambda t: t.str.contains(r"^\d{4}$") | is_financial_year(t),
    )


def assessment_period() -> Field:
    return Field(
        pl.String(),
        False,
        "quarter_format",
        "{column} must be a financial-year quarter written like 2025/26 Q2",
        lambda t: _consecutive_years(t, _ASSESSMENT_QUARTER),
        identifier_free_shapes=(_ASSESSMENT_QUARTER,),
    )


def lsoa(nullable: bool = False, unknown_allowed: bool = True) -> Field:
    also = f" or {UNKNOWN_LSOA}" if unknown_allowed else ""
    return Field(
        pl.String(),
        nullable,
        "lsoa_format",
        f"{{column}} must be an LSOA code (E01 or W01 and six digits){also}",
        lambda t: t.str.contains(_LSOA) | (pl.lit(unknown_allowed) & (t == UNKNOWN_LSOA)),
        identifier_free_shapes=(_LSOA, *_exactly([UNKNOWN_LSOA])),
    )


def sex(nullable: bool = False) -> Field:
    return code(SEXES, nullable)


def age_band(nullable: bool = False) -> Field:
    return code(AGE_BANDS, nullable, "the 19 ESP2013 age bands 0-4, 5-9, ..., 85-89, 90+")


# ---------------------------------------------------------------- rules across columns and rows
@dataclass(frozen=True)
class SchemaContext:
    """What a rule needs from outside the file: other datasets, the catalogue, the whole file."""

    practice_codes: frozenset[str] | None = None
    pcn_codes: frozenset[str] | None = None
    question_ids: frozenset[str] | None = None
    duplicate_keys: frozenset[str] | None = None
    # plausibility: the build date, the dates holding the bulk of each "period" column of
    # the file (`main_date_range`), and each practice's registered list size
    today: dt.date | None = None
    date_ranges: Mapping[str, tuple[dt.date, dt.date]] | None = None
    list_sizes: Mapping[str, int] | None = None


KEY_SEPARATOR = "\x1f"


def key_text(columns: tuple[str, ...]) -> pl.Expr:
    """The record key as one text value (columns joined with an unprintable separator)."""
    return pl.concat_str([pl.col(c) for c in columns], separator=KEY_SEPARATOR)


RowTest = Callable[[pl.LazyFrame, SchemaContext], pl.LazyFrame]


@dataclass(frozen=True)
class RowRule:
    """A rule over several columns or rows, reported against `column`.

    `test(frame, context)` gives one boolean column, True where the row passes. A rule
    that `needs` a context field (e.g. `practice_codes`) is left out while it is None.
    """

    rule_id: str
    column: str
    message: str
    test: RowTest
    report_columns: tuple[str, ...] = ()
    needs: str | None = None
    # for a rule of `column` alone, read through its kind's parser: the same test of the
    # parsed value (True = passes), which the suspect-row pass gives the value parsed once
    on_parsed: Callable[[pl.Expr], pl.Expr] | None = None

    def applies(self, context: SchemaContext) -> bool:
        """Whether the context holds what the rule needs."""
        return self.needs is None or getattr(context, self.needs) is not None


def _expr_test(build: Callable[[SchemaContext], pl.Expr]) -> RowTest:
    def test(frame: pl.LazyFrame, context: SchemaContext) -> pl.LazyFrame:
        return frame.select(build(context).fill_null(False).alias("ok"))

    return test


def _members(values: frozenset[str] | None) -> list[str]:
    return sorted(values or ())


def _unique_key(key: tuple[str, ...]) -> RowRule:
    def build(context: SchemaContext) -> pl.Expr:
        repeated = _members(context.duplicate_keys)
        return key_text(key).is_null() | ~key_text(key).is_in(repeated)

    joined = " + ".join(key)
    return RowRule(
        "record_key.unique",
        key[-1],
        f"{joined} is repeated in the file: every copy is quarantined",
        _expr_test(build),
        key,
        needs="duplicate_keys",
    )


def _known_practice(column: str) -> RowRule:
    def build(context: SchemaContext) -> pl.Expr:
        known = _members(context.practice_codes)
        return pl.col(column).is_null() | pl.col(column).is_in(known)

    return RowRule(
        f"{column}.in_organisations",
        column,
        f"{column} is not a practice in organisations",
        _expr_test(build),
        needs="practice_codes",
    )


def _not_before(later: str, earlier: str) -> RowRule:
    def build(_: SchemaContext) -> pl.Expr:
        start, end = parse_iso_date(pl.col(earlier)), parse_iso_date(pl.col(later))
        return start.is_null() | end.is_null() | (start <= end)

    return RowRule(
        f"{later}.not_before_{earlier}",
        later,
        f"{later} must not be before {earlier}",
        _expr_test(build),
        (earlier, later),
    )


def _organisation_periods_overlap(frame: pl.LazyFrame, _: SchemaContext) -> pl.LazyFrame:
    """True where a practice's validity period overlaps none of its other periods."""
    far_future = pl.date(9999, 12, 31)
    periods = frame.select(
        pl.col("practice_code"),
        parse_iso_date(pl.col("valid_from")).alias("start"),
        pl.when(pl.col("valid_to").is_null())
        .then(far_future)
        .otherwise(parse_iso_date(pl.col("valid_to")))
        .alias("end"),
    ).with_row_index("position")
    comparable = pl.col("start").is_not_null() & pl.col("end").is_not_null()
    ordered = (
        periods.filter(comparable & pl.col("practice_code").is_not_null())
        .sort("practice_code", "start", "position")
        .with_columns(
            pl.col("end").cum_max().shift(1).over("practice_code").alias("latest_end_before"),
            pl.col("start").shift(-1).over("practice_code").alias("next_start"),
        )
        .select(
            "position",
            (
                (pl.col("latest_end_before") >= pl.col("start"))
                | (pl.col("end") >= pl.col("next_start"))
            )
            .fill_null(False)
            .alias("overlaps"),
        )
    )
    return (
        periods.select("position")
        .join(ordered, on="position", how="left", maintain_order="left")
        .select((~pl.col("overlaps").fill_null(False)).alias("ok"))
    )


def _known_question(context: SchemaContext) -> pl.Expr:
    known = _members(context.question_ids)
    return pl.col("question_id").is_null() | pl.col("question_id").is_in(known)


def _bed_days_only_for_admissions(_: SchemaContext) -> pl.Expr:
    bed_days = pl.col("bed_days").cast(pl.Int64, strict=False)
    activity = pl.col("activity_type")
    unknown_activity = ~activity.is_in(ACTIVITY_TYPES)  # reported by its own rule
    return unknown_activity | activity.is_in(ADMISSION_TYPES) | bed_days.is_null() | (bed_days == 0)


def _practice_or_pcn(_: SchemaContext) -> pl.Expr:
    return pl.col("practice_code").is_not_null() | pl.col("pcn_code").is_not_null()


def _pcn_staff_pcn_known(context: SchemaContext) -> pl.Expr:
    return (
        pl.col("practice_code").is_not_null()
        | pl.col("pcn_code").is_null()
        | pl.col("pcn_code").is_in(_members(context.pcn_codes))
    )


# ---------------------------------------------------------------- plausibility
FAR_MONTHS = 24


def add_months(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def main_date_range(days: Mapping[dt.date, int]) -> tuple[dt.date, dt.date] | None:
    """The dates holding the bulk of a file: its dates split wherever two consecutive ones
    are more than `FAR_MONTHS` months apart, and the part with the most rows (the latest
    on a tie). None when nothing is that far apart (every row is plausible)."""
    ordered = sorted(days)
    parts: list[list[dt.date]] = []
    for day in ordered:
        if parts and add_months(parts[-1][-1], FAR_MONTHS) >= dt.date(day.year, day.month, 1):
            parts[-1].append(day)
        else:
            parts.append([day])
    if len(parts) < 2:
        return None
    bulk = max(parts, key=lambda part: (sum(days[d] for d in part), part[-1]))
    return bulk[0], bulk[-1]


def plausibility_rules(spec: DatasetSpec, context: SchemaContext) -> tuple[RowRule, ...]:
    """Rows dated after the build date, or far outside the rest of the file, and counts
    larger than the practice's list size allows (docs/validation.md, "Plausibility")."""
    rules: list[RowRule] = []
    for column, kind in spec.fields.items():
        if kind.when is not None and context.today is not None:
            rules.append(_not_after(column, kind.parse, context.today))
        bulk = (context.date_ranges or {}).get(column)
        if kind.when == "period" and bulk is not None:
            rules.append(_near_the_rest(spec.name, column, kind.parse, bulk, context.today))
        if kind.per_patient is not None and spec.practice_column is not None:
            rules.append(_within_list_size(column, spec.practice_column, kind.per_patient))
    return tuple(rules)


def _not_after(column: str, parse: Parser, today: dt.date) -> RowRule:
    def passes(day: pl.Expr) -> pl.Expr:
        return day.is_null() | (day <= today)

    return RowRule(
        f"{column}.not_after_build_date",
        column,
        f"{column} is after the build date ({today.isoformat()})",
        _expr_test(lambda _: passes(parse(pl.col(column)))),
        on_parsed=passes,
    )


def _near_the_rest(
    dataset: str, column: str, parse: Parser, bulk: tuple[dt.date, dt.date], today: dt.date | None
) -> RowRule:
    first, last = bulk
    low, high = add_months(first, -FAR_MONTHS), add_months(last, FAR_MONTHS + 1)

    def passes(day: pl.Expr) -> pl.Expr:
        future = (day > today) if today is not None else pl.lit(False)
        return day.is_null() | future | ((day >= low) & (day < high))

    return RowRule(
        f"{column}.near_the_rest_of_the_file",
        column,
        f"{column} is far outside the rest of {dataset} ({first.isoformat()} to "
        f"{last.isoformat()}, more than {FAR_MONTHS} months away)",
        _expr_test(lambda _: passes(parse(pl.col(column)))),
        on_parsed=passes,
    )


def _within_list_size(column: str, practice: str, per_patient: int) -> RowRule:
    def build(context: SchemaContext) -> pl.Expr:
        sizes = context.list_sizes or {}
        size = pl.col(practice).replace_strict(
            list(sizes), list(sizes.values()), default=None, return_dtype=pl.Int64
        )
        count = pl.col(column).cast(pl.Int64, strict=False)
        return size.is_null() | count.is_null() | (count <= size * per_patient)

    if per_patient == 1:
        limit = "the practice's registered list size"
    else:
        limit = f"{per_patient} times the practice's registered list size"
    return RowRule(
        f"{column}.within_list_size",
        column,
        f"{column} is more than {limit}: implausible for one row of one month",
        _expr_test(build),
        needs="list_sizes",
    )


# ---------------------------------------------------------------- the registry
@dataclass(frozen=True)
class DatasetSpec:
    """One input dataset: canonical columns (in order) with their polars dtypes, and its rules."""

    name: str
    columns: dict[str, pl.DataType]
    required: bool
    record_key: tuple[str, ...] | None
    patient_level: bool
    optional_columns: tuple[str, ...]
    fields: dict[str, Field] = field(repr=False)
    practice_column: str | None = None
    rules: tuple[RowRule, ...] = field(default=(), repr=False)
    whole_file: bool = False

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns a file must have (every canonical column that is not optional)."""
        return tuple(c for c in self.columns if c not in self.optional_columns)

    def all_rules(self) -> tuple[RowRule, ...]:
        """The dataset's own rules plus the key and practice-code rules every dataset shares."""
        shared: list[RowRule] = []
        if self.record_key is not None:
            shared.append(_unique_key(self.record_key))
        if self.practice_column is not None:
            shared.append(_known_practice(self.practice_column))
        return (*self.rules, *shared)


def _dataset(
    name: str,
    fields: dict[str, Field],
    *,
    required: bool = False,
    record_key: tuple[str, ...] | None = None,
    patient_level: bool = False,
    optional: tuple[str, ...] = (),
    practice_column: str | None = "practice_code",
    rules: tuple[RowRule, ...] = (),
    whole_file: bool = False,
) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        columns={column: kind.dtype for column, kind in fields.items()},
        required=required,
        record_key=record_key,
        patient_level=patient_level,
        optional_columns=optional,
        fields=fields,
        practice_column=practice_column,
        rules=rules,
        whole_file=whole_file,
    )


_SPECS = (
    _dataset(
        "organisations",
        {
            "practice_code": text(),
            "practice_name": text(),
            "pcn_code": text(),
            "pcn_name": text(),
            "neighbourhood_code": text(),
            "neighbourhood_name": text(),
            "place_code": text(),
            "place_name": text(),
            "icb_code": text(),
            "icb_name": text(),
            "provider_code": text(nullable=True),
            "provider_name": text(nullable=True),
            "valid_from": date(),
            "valid_to": date(nullable=True),
        },
        required=True,
        record_key=("practice_code", "valid_from"),
        practice_column=None,
        rules=(
            _not_before("valid_to", "valid_from"),
            RowRule(
                "organisations.overlapping_periods",
                "valid_from",
                "this practice's validity periods overlap: every overlapping row is quarantined",
                _organisation_periods_overlap,
                ("practice_code", "valid_from", "valid_to"),
            ),
        ),
        whole_file=True,
    ),
    _dataset(
        "registered_population",
        {
            "extract_date": date(when="period"),
            "practice_code": text(),
            "lsoa_code": lsoa(),
            "sex": sex(),
            "age_band": age_band(),
            "patients": whole_number(),
        },
        required=True,
    ),
    _dataset(
        "lsoa_deprivation",
        {
            "lsoa_code": lsoa(unknown_allowed=False),
            "imd_decile": whole_number(low=1, high=10),
            "imd_rank": whole_number(nullable=True, low=1),
        },
        record_key=("lsoa_code",),
        optional=("imd_rank",),
        practice_column=None,
    ),
    _dataset(
        "weighted_population",
        {
            "financial_year": financial_year(),
            "practice_code": text(),
            "weighted_patients": decimal(above=0),
        },
    ),
    _dataset(
        "gp_appointments",
        {
            "APPOINTMENT_MONTH_START_DATE": gpad_month(),
            "GP_CODE": text(),
            "PCN_CODE": text(nullable=True),
            "HCP_TYPE": code(HCP_TYPES),
            "APPT_MODE": code(APPT_MODES),
            "NATIONAL_CATEGORY": text(),
            "TIME_BETWEEN_BOOK_AND_APPT": booking_interval(),
            "APPT_STATUS": code(APPT_STATUSES),
            "COUNT_OF_APPOINTMENTS": whole_number(per_patient=1),
        },
        practice_column="GP_CODE",
    ),
    _dataset(
        "gp_encounters",
        {
            "encounter_id": text(),
            "encounter_date": date(when="period"),
            "practice_code": text(),
            "patient_id": text(),
            "clinician_id": text(),
            "clinician_role": code(CLINICIAN_ROLES),
            "appt_mode": code(APPT_MODES),
        },
        record_key=("encounter_id",),
        patient_level=True,
    ),
    _dataset(
        "patients",
        {
            "patient_id": text(),
            "practice_code": text(),
            "lsoa_code": lsoa(),
            "sex": sex(),
            "age_band": age_band(),
            "usual_gp_id": text(nullable=True),
            "ltc_count": whole_number(),
            "frailty": code(FRAILTY),
            "registered_from": date(when="not_future"),
            "registered_to": date(nullable=True, when="not_future"),
        },
        record_key=("patient_id",),
        patient_level=True,
        rules=(_not_before("registered_to", "registered_from"),),
    ),
    _dataset(
        "hospital_activity",
        {
            "month": month(),
            "practice_code": text(),
            "lsoa_code": lsoa(),
            "sex": sex(),
            "age_band": age_band(),
            "activity_type": code(ACTIVITY_TYPES),
            "acsc_category": code(ACSC_CATEGORIES),
            "events": whole_number(per_patient=1),
            "bed_days": whole_number(per_patient=31),
            "cost_gbp": decimal(nullable=True),
        },
        optional=("cost_gbp",),
        rules=(
            RowRule(
                "bed_days.admissions_only",
                "bed_days",
                "bed_days must be 0 unless activity_type is an admission",
                _expr_test(_bed_days_only_for_admissions),
                ("activity_type", "bed_days"),
            ),
        ),
    ),
    _dataset(
        "community_activity",
        {
            "month": month(),
            "practice_code": text(),
            "service": code(COMMUNITY_SERVICES),
            "contacts": whole_number(per_patient=1),
            "patients": whole_number(per_patient=1),
        },
    ),
    _dataset(
        "prem_responses",
        {
            "survey_wave": survey_wave(),
            "practice_code": text(),
            "respondent_id": text(),
            "lsoa_code": lsoa(nullable=True),
            "sex": sex(nullable=True),
            "age_band": age_band(nullable=True),
            "weight": decimal(above=0),
            "question_id": text(),
            "response": code(PREM_RESPONSES),
        },
        record_key=("survey_wave", "respondent_id", "question_id"),
        patient_level=True,
        rules=(
            RowRule(
                "question_id.in_catalogue",
                "question_id",
                "question_id is not a question in the metric catalogue",
                _expr_test(_known_question),
                needs="question_ids",
            ),
        ),
    ),
    _dataset(
        "spend",
        {
            "financial_year": financial_year(),
            "org_type": code(ORG_TYPES),
            "org_code": text(),
            "spend_category": code(SPEND_CATEGORIES),
            "amount_gbp": decimal(),
        },
        practice_column=None,
    ),
    _dataset(
        "practice_payments",
        {
            "financial_year": financial_year(),
            "practice_code": text(),
            "payment_category": code(PAYMENT_CATEGORIES),
            "amount_gbp": decimal(),
        },
    ),
    _dataset(
        "workforce",
        {
            "census_date": date(when="period"),
            "practice_code": text(nullable=True),
            "pcn_code": text(nullable=True),
            "staff_group": code(STAFF_GROUPS),
            "role": text(),
            "is_arrs_funded": boolean(),
            "fte": decimal(at_least=0),
            "headcount": whole_number(),
        },
        rules=(
            RowRule(
                "workforce.practice_or_pcn",
                "practice_code",
                "practice_code and pcn_code must not both be empty",
                _expr_test(_practice_or_pcn),
                ("practice_code", "pcn_code"),
            ),
            RowRule(
                "pcn_code.in_organisations",
                "pcn_code",
                "pcn_code of PCN-employed staff (no practice_code) is not a PCN in organisations",
                _expr_test(_pcn_staff_pcn_known),
                needs="pcn_codes",
            ),
        ),
    ),
    _dataset(
        "maturity_assessments",
        {
            "assessment_period": assessment_period(),
            "neighbourhood_code": text(),
            "submitted_by": text(),
            "criterion_id": text(),
            "status": code(MATURITY_STATUSES),
            "evidence": text(nullable=True),
            "evidence_url": text(nullable=True),
            "assessed_on": date(when="not_future"),
        },
        record_key=("assessment_period", "neighbourhood_code", "criterion_id"),
        practice_column=None,
    ),
)

DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


# ---------------------------------------------------------------- the pandera schema
@dataclass(frozen=True)
class Rule:
    """How one pandera check is reported: rule id, message and the columns it names."""

    rule_id: str
    message: str
    report_columns: tuple[str, ...] = ()
    identifier: bool = False


@dataclass(frozen=True)
class BuiltSchema:
    """A dataset's pandera schema for one file, and how to read its failure cases.

    `rules` is keyed by (column, check) as pandera reports them in `failure_cases`.
    """

    schema: pa.DataFrameSchema
    rules: Mapping[tuple[str, str], Rule]
    # cheap lazy tests standing in for costly checks when a batch's suspect rows are found,
    # keyed by (column, check): true on every row the check may fail (a superset of its
    # failures), or None where another test of the column already covers the check
    may_fail: Mapping[tuple[str, str], pl.Expr | None] = field(default_factory=dict)
    # flag columns those tests read, added to a batch once before them (a cell's search
    # for the shape of a split NHS number's part serves both pairs the cell is in; a
    # date's parsed value serves its own rule and the plausibility rules that read it)
    flags: Mapping[str, pl.Expr] = field(default_factory=dict)


NHS_NUMBER_RULE = Rule(
    "direct_identifier.nhs_number",
    "direct identifier: a valid NHS number (the whole file is refused)",
    identifier=True,
)
SPLIT_NHS_NUMBER_MESSAGE = (
    "direct identifier: a valid NHS number split across two neighbouring columns "
    "(the whole file is refused)"
)
POSTCODE_RULE = Rule(
    "direct_identifier.postcode",
    "direct identifier: a full postcode in a patient-level file (the whole file is refused)",
    identifier=True,
)


def _column_check(valid: Validity, rule: Rule) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        value = pl.col(data.key)
        return data.lazyframe.select((value.is_null() | valid(value)).fill_null(False).alias("ok"))

    return pa.Check(check, name=rule.rule_id, error=rule.message)


def _shows_as_written(text: pl.Expr) -> pl.Expr:
    """No character that hides or reorders text (`files.HIDING_CHARACTERS`): a name with a
    right-to-left override would print in reports other than as the file has it."""
    return ~text.str.contains(HIDING_CHARACTERS)


def _row_check(rule: RowRule, context: SchemaContext) -> pa.Check:
    def check(data: pa.PolarsData) -> pl.LazyFrame:
        return rule.test(data.lazyframe, context)

    return pa.Check(check, name=rule.rule_id, error=rule.message)


def _identifier_check(found: Callable[[pl.Series], pl.Series], rule: Rule) -> pa.Check:
    """Passes rows where `found` (over the column's values) is False."""

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        values = data.lazyframe.select(pl.col(data.key)).collect().to_series()
        return pl.DataFrame({"ok": ~found(values)}).lazy()

    return pa.Check(check, name=rule.rule_id, error=rule.message)


@dataclass
class _SplitShapes:
    """Which neighbouring column pairs of a batch hold a row shaped like a split NHS number:
    worked out for every pair in one query the first time a batch is checked, so that the
    check digit (ten times the cost of the shape) is computed only for such pairs (rare)."""

    pairs: tuple[tuple[str, str], ...]
    batch: pl.LazyFrame | None = None
    shaped: frozenset[tuple[str, str]] = frozenset()

    def of(self, batch: pl.LazyFrame) -> frozenset[tuple[str, str]]:
        if batch is not self.batch:
            tests = [split_shaped(pl.col(a), pl.col(b)).any() for a, b in self.pairs]
            found = batch.select(*(t.alias(str(i)) for i, t in enumerate(tests))).collect()
            self.batch = batch
            self.shaped = frozenset(
                pair for pair, hit in zip(self.pairs, found.row(0), strict=True) if hit
            )
        return self.shaped


def _split_check(second: str, shapes: _SplitShapes, rule: Rule) -> pa.Check:
    """Passes rows where the column and the one after it (`second`) hold no NHS number
    split between them (`nhs_number_split`)."""

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        if (data.key, second) not in shapes.of(data.lazyframe):
            return data.lazyframe.select(pl.repeat(True, pl.len()).alias("ok"))
        found = nhs_number_split(pl.col(data.key), pl.col(second))
        return data.lazyframe.select((~found).alias("ok"))

    return pa.Check(check, name=rule.rule_id, error=rule.message)


def postcodes_in(values: pl.Series) -> pl.Series:
    """True where a text holds a full postcode (`is_full_postcode`)."""
    return values.to_frame("text").select(is_full_postcode(pl.col("text"))).to_series()


def dataset_schema(
    spec: DatasetSpec, context: SchemaContext, header: tuple[str, ...] = ()
) -> BuiltSchema:
    """The pandera schema for one file of `spec`, read as text.

    The frame it checks holds every canonical column (absent optional ones as nulls) and
    every other column of the file's `header`, all as text; the other columns are checked
    for direct identifiers only.
    """
    checks: dict[str, list[pa.Check]] = {column: [] for column in spec.columns}
    rules: dict[tuple[str, str], Rule] = {}
    may_fail: dict[tuple[str, str], pl.Expr | None] = {}
    # columns whose own rule refuses any text that could identify (a date, a listed code,
    # a set format such as an LSOA code): that rule, checked exactly on every row, stands
    # in for their identifier searches
    identifier_free: set[str] = set()
    # flag columns: a column's value parsed once per batch, for its rule and the
    # plausibility rules that read it (`Field.valid_parsed`, `RowRule.on_parsed`)
    parsed: dict[str, pl.Expr] = {}
    for column, kind in spec.fields.items():
        rules[(column, "not_nullable")] = Rule(
            f"{column}.not_null", f"{column} must not be empty", (column,)
        )
        if kind.valid is not None and kind.rule is not None and kind.message is not None:
            rule = Rule(f"{column}.{kind.rule}", kind.message.format(column=column), (column,))
            checks[column].append(_column_check(kind.valid, rule))
            rules[(column, rule.message)] = rule
            if kind.identifier_free_shapes:
                identifier_free.add(column)
            if kind.valid_parsed is not None:
                value = pl.col(parsed_flag(column))
                parsed[parsed_flag(column)] = kind.parse(pl.col(column))
                passes = pl.col(column).is_null() | kind.valid_parsed(value)
                may_fail[(column, rule.rule_id)] = ~passes.fill_null(False)
        if kind.valid is not None:
            continue  # a date, number or listed code: its own rule refuses any other text
        hiding = Rule(
            f"{column}.hidden_character",
            f"{column} holds a character that hides or reorders text (a control character "
            "such as a NUL byte or a Unicode direction override)",
            (column,),
        )
        checks[column].append(_column_check(_shows_as_written, hiding))
        rules[(column, hiding.message)] = hiding
        may_fail[(column, hiding.rule_id)] = None  # the column's `may_identify` covers it
    for row_rule in (*spec.all_rules(), *plausibility_rules(spec, context)):
        if not row_rule.applies(context):
            continue
        checks[row_rule.column].append(_row_check(row_rule, context))
        if row_rule.on_parsed is not None and parsed_flag(row_rule.column) in parsed:
            value = pl.col(parsed_flag(row_rule.column))
            may_fail[(row_rule.column, row_rule.rule_id)] = ~row_rule.on_parsed(value).fill_null(
                False
            )
        shown = row_rule.report_columns or (row_rule.column,)
        rules[(row_rule.column, row_rule.message)] = Rule(row_rule.rule_id, row_rule.message, shown)
    for column in (*spec.columns, *(c for c in header if c not in spec.columns)):
        checks.setdefault(column, [])
        # an amount of an aggregate file; in a patient-level file, ten digits are refused
        is_amount = (
            not spec.patient_level
            and column in spec.fields
            and spec.fields[column].dtype == pl.Float64()
        )
        found = nhs_numbers_in_amounts if is_amount else nhs_numbers_in
        checks[column].append(_identifier_check(found, NHS_NUMBER_RULE))
        rules[(column, NHS_NUMBER_RULE.message)] = NHS_NUMBER_RULE
        # one search stands in for the column's identifier and hidden-character checks
        may_fail[(column, NHS_NUMBER_RULE.rule_id)] = (
            None if column in identifier_free else may_identify(pl.col(column))
        )
        if spec.patient_level:
            checks[column].append(_identifier_check(postcodes_in, POSTCODE_RULE))
            rules[(column, POSTCODE_RULE.message)] = POSTCODE_RULE
            may_fail[(column, POSTCODE_RULE.rule_id)] = None
    # a column named twice makes the file refused before its rows are read
    shapes = _SplitShapes(tuple((a, b) for a, b in itertools.pairwise(header) if a != b))
    searched: list[str] = []  # the cells searched for the shape of a split number's part
    for first, second in shapes.pairs:
        split = Rule(
            "direct_identifier.nhs_number_split", SPLIT_NHS_NUMBER_MESSAGE, (first, second), True
        )
        checks[first].append(_split_check(second, shapes, split))
        rules[(first, split.message)] = split
        if identifier_free & {first, second}:  # a part needs both cells: one's rule covers
            may_fail[(first, split.rule_id)] = None
            continue
        may_fail[(first, split.rule_id)] = pl.col(_part_flag(first)) & pl.col(_part_flag(second))
        searched += [first, second]
    columns = {
        column: pa.Column(
            pl.String,
            checks=column_checks,
            nullable=spec.fields[column].nullable if column in spec.fields else True,
        )
        for column, column_checks in checks.items()
    }
    part_flags = {
        _part_flag(column): may_be_split_part(pl.col(column)) for column in dict.fromkeys(searched)
    }
    return BuiltSchema(
        pa.DataFrameSchema(columns, name=spec.name), rules, may_fail, {**part_flags, **parsed}
    )


def _part_flag(column: str) -> str:
    """The name of the flag column `may_be_split_part` of `column` (`BuiltSchema.flags`)."""
    return f"__nbhd_split_part__{column}"


def parsed_flag(column: str) -> str:
    """The name of the flag column holding `column` parsed once (`BuiltSchema.flags`)."""
    return f"__nbhd_parsed__{column}"


def to_canonical(
    spec: DatasetSpec, frame: pl.DataFrame, parsed: Mapping[str, pl.Series] | None = None
) -> pl.DataFrame:
    """Rows that passed `dataset_schema`, as the canonical columns and dtypes. `parsed`
    holds a date column's values already parsed (a Parquet file's own dates), taken
    instead of parsing the column's text again."""
    given = parsed or {}
    return frame.select(
        [
            pl.lit(given[column]).alias(column)
            if column in given and kind.dtype == pl.Date()
            else kind.parse(pl.col(column)).cast(kind.dtype).alias(column)
            for column, kind in spec.fields.items()
        ]
    )


def empty_frame(spec: DatasetSpec) -> pl.DataFrame:
    """A dataset with no rows, in its canonical columns and dtypes."""
    return pl.DataFrame(schema=spec.columns)


def question_ids(catalogue: Path) -> frozenset[str]:
    """PREM question ids the metric catalogue knows: `prem_<question_id>_positive` rows."""
    pattern = re.compile(r"^prem_(.+)_positive$")
    with catalogue.open(newline="", encoding="utf-8-sig") as handle:
        found = (pattern.match(row.get("metric_id") or "") for row in csv.DictReader(handle))
        return frozenset(match.group(1) for match in found if match)
