"""How a report writes numbers and words: values, limits, counts, labels of the judgements
the marts hold. Formatting only: nothing here decides better, worse or withheld."""

from __future__ import annotations

from metrics_cli.report.charts import format_number

WITHHELD = "withheld"
"""How a figure withheld by disclosure control is printed, whatever withheld it."""

GEOGRAPHY_LABELS = {
    "practice": "practice",
    "pcn": "PCN",
    "neighbourhood": "neighbourhood",
    "place": "place",
    "icb": "ICB",
    "provider": "at-scale provider",
    "all": "all organisations",
}
LEVEL_NAMES = {
    0: "Not yet at Foundation",
    1: "Foundation",
    2: "Developing",
    3: "Maturing",
    4: "Thriving",
}
QUINTILE_LABELS = {
    "1": "Quintile 1 (most deprived)",
    "2": "Quintile 2",
    "3": "Quintile 3",
    "4": "Quintile 4",
    "5": "Quintile 5 (least deprived)",
}
COHORT_LABELS = {
    "all": "All eligible patients",
    "age_75_plus": "Aged 75 and over",
    "multimorbid": "Two or more long-term conditions",
    "frail": "Moderate or severe frailty",
}
CHANGE_LABELS = {
    "improved": "Improved",
    "worsened": "Worsened",
    "no_significant_change": "No significant change",
    "higher": "Higher",
    "lower": "Lower",
    "unchanged": "Unchanged",
    "not_comparable": "No earlier figure",
    "withheld": "Not compared: a figure is withheld",
}
"""metric_judgements.change_from_year_before in words."""
COMPARISON_LABELS = {
    "better": "Better",
    "similar": "Similar",
    "worse": "Worse",
    "higher": "Higher",
    "lower": "Lower",
    "not_compared": "Not compared",
}
"""disclosed_metric_values.comparison_to_parent in words."""


def value_decimals(unit: str, value: float | None = None) -> int:
    """Decimals a value is printed with: by unit; money to the penny below £1,000."""
    if unit == "£":
        return 2 if value is not None and abs(value) < 1000 else 0
    return {"index": 3, "FTE per 10,000": 2}.get(unit, 1)


def format_value(value: float | None, unit: str) -> str:
    """A metric value as the report prints it: `45.8%`, `31.2`, `0.512`, `£1,234`, `+1.5 pp`."""
    if value is None:
        return "–"
    decimals = value_decimals(unit, value)
    if unit == "£":
        text = format_number(value, decimals)
        return f"−£{text[1:]}" if text.startswith("−") else f"£{text}"
    text = format_number(value, decimals)
    if unit == "%":
        return f"{text}%"
    if unit == "percentage points":
        return f"+{text} pp" if value > 0 and text.strip("0.") else f"{text} pp"
    return text


def format_interval(lower: float | None, upper: float | None, unit: str) -> str:
    """`41.2 to 45.9` (no unit, the value carries it); a dash when there are no limits."""
    if lower is None or upper is None:
        return "–"
    decimals = value_decimals(unit, max(abs(lower), abs(upper)))
    return f"{format_number(lower, decimals)} to {format_number(upper, decimals)}"


def unit_phrase(unit: str) -> str:
    """What follows a printed value in running text, e.g. ` per 1,000`."""
    if unit in ("%", "£", "percentage points", "index"):
        return ""
    return f" {unit}"


def format_count(count: float | None, suppressed: bool) -> str:
    """A count cell: `withheld` when disclosure control withheld it, a dash when there is
    none."""
    if suppressed:
        return WITHHELD
    if count is None:
        return "–"
    return f"{round(count):,}"


def in_sentence(title: str) -> str:
    """A title inside a sentence: first letter lower case unless it starts an acronym."""
    return (
        title if title[1:2].isupper() or not title[1:2].isalpha() else title[:1].lower() + title[1:]
    )


def sentence_case(text: str) -> str:
    """First letter upper case, the rest as written (keeps `A&E`, `GP`)."""
    return text[:1].upper() + text[1:]
