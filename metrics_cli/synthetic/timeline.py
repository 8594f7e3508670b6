"""The calendar of a synthetic series: days, months, seasons, extracts, censuses and waves.

Days and months are counted from the first day of the series (day 0, month 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from metrics_cli.synthetic.config import SEASON_GP, WEEKDAY_WEIGHT, ScaleConfig

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
DAYS_PER_YEAR = 365.25
LOOKUP_SIZE = 1 << 20
_MONTH_ABBREVIATIONS = (
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
)  # fmt: skip


@dataclass(frozen=True)
class FinancialYear:
    label: str  # `2024/25`
    months: range  # month indices, April to March
    index: int  # 0 for the first financial year of the series


@dataclass(frozen=True)
class Timeline:
    start: date
    months: list[date]  # first day of each month
    days: int
    day_month: IntArray  # month index of each day
    month_first_day: IntArray  # day index of each month's first day, then `days`
    encounter_cumulative: FloatArray  # cumulative daily GP intensity, length days + 1
    encounter_weight_per_year: float
    encounter_lookup: npt.NDArray[np.int32]  # day at each of LOOKUP_SIZE even steps of intensity
    extracts: list[tuple[int, date]]  # registered population: quarterly, first of the month
    censuses: list[tuple[int, date]]  # workforce: last day of each quarter
    financial_years: list[FinancialYear]  # complete ones only
    waves: list[tuple[str, int, int]]  # survey: calendar year, reference day, wave number

    @property
    def month_count(self) -> int:
        return len(self.months)

    def date_of(self, day: int) -> date:
        """The date of day index `day`."""
        return self.start + timedelta(days=day)

    def season(self, amplitude: float) -> FloatArray:
        """Monthly factors 1 + amplitude cos(2 pi (calendar month - 1) / 12): January peaks."""
        return seasonal(self.months, amplitude)

    def day_at(self, intensity: FloatArray) -> IntArray:
        """The day in which cumulative GP intensity reaches each value (inverse of the CDF).

        A lookup table finds the day to within one (every day outweighs a table step), and
        one comparison settles it: the same answer as a binary search, much faster.
        """
        cumulative = self.encounter_cumulative
        step = cumulative[-1] / LOOKUP_SIZE
        guess = self.encounter_lookup[
            np.minimum(intensity / step, LOOKUP_SIZE - 1).astype(np.int64)
        ]
        day = guess + (cumulative[guess + 1] <= intensity) - (cumulative[guess] > intensity)
        return np.asarray(np.clip(day, 0, self.days - 1), dtype=np.int64)

    def years_elapsed(self) -> FloatArray:
        """Years since the series start, by month."""
        return np.arange(self.month_count, dtype=np.float64) / 12.0


def gpad_month_text(month: date) -> str:
    """GPAD's published month text, `01JUL2024` (independent of the locale)."""
    return f"01{_MONTH_ABBREVIATIONS[month.month - 1]}{month.year}"


def build_timeline(config: ScaleConfig) -> Timeline:
    """The calendar of `config`'s series."""
    months = config.month_starts
    start = months[0]
    after = _next_month(months[-1])
    days = (after - start).days
    first_days = np.array([(m - start).days for m in months] + [days], dtype=np.int64)
    day_month = np.repeat(np.arange(len(months), dtype=np.int64), np.diff(first_days))
    season = seasonal(months, SEASON_GP)
    weekday = WEEKDAY_WEIGHT[[(start + timedelta(days=d)).weekday() for d in range(days)]]
    daily = season[day_month] * weekday
    cumulative = np.concatenate([[0.0], np.cumsum(daily)])
    steps = np.arange(LOOKUP_SIZE) * (cumulative[-1] / LOOKUP_SIZE)
    if daily.min() <= cumulative[-1] / LOOKUP_SIZE:
        raise ValueError("the intensity lookup table is too coarse for the lightest day")
    lookup = (np.searchsorted(cumulative, steps, side="right") - 1).astype(np.int32)
    extracts = [(int(first_days[m]), months[m]) for m in range(len(months)) if m % 3 == 0]
    censuses = [
        (int(first_days[m + 1]) - 1, _next_month(months[m]) - timedelta(days=1))
        for m in range(len(months))
        if months[m].month in (3, 6, 9, 12)
    ]
    return Timeline(
        start=start,
        months=months,
        days=days,
        day_month=day_month,
        month_first_day=first_days,
        encounter_cumulative=cumulative,
        encounter_weight_per_year=float(cumulative[-1]) * DAYS_PER_YEAR / days,
        encounter_lookup=lookup,
        extracts=extracts,
        censuses=censuses,
        financial_years=_financial_years(months),
        waves=_waves(months, start),
    )


def seasonal(months: list[date], amplitude: float) -> FloatArray:
    """1 + amplitude cos(2 pi (calendar month - 1) / 12) for each month: January peaks."""
    calendar = np.array([m.month for m in months], dtype=np.float64)
    return 1.0 + amplitude * np.cos(2.0 * np.pi * (calendar - 1.0) / 12.0)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _financial_years(months: list[date]) -> list[FinancialYear]:
    years: list[FinancialYear] = []
    for m, month in enumerate(months):
        if month.month != 4 or m + 12 > len(months):
            continue
        label = f"{month.year}/{(month.year + 1) % 100:02d}"
        years.append(FinancialYear(label, range(m, m + 12), len(years)))
    return years


def _waves(months: list[date], start: date) -> list[tuple[str, int, int]]:
    """Calendar years whose January to March fieldwork lies inside the series."""
    waves: list[tuple[str, int, int]] = []
    for m, month in enumerate(months):
        if month.month == 1 and m + 3 <= len(months):
            day = (date(month.year, 1, 15) - start).days
            waves.append((str(month.year), day, len(waves)))
    return waves
