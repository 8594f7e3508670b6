"""Write the computed statistical seeds: exact Poisson limits and Student t quantiles.

Run from the repository root: `python scripts/generate_stats_seeds.py`. Standard library
only: every value is solved in 60-digit decimal arithmetic, then rounded once to the nearest
double and written with the shortest text that reads back as that double.

- seeds/exact_poisson_limits.csv: for observed counts 0..9, the exact (chi-squared) limits of
  a Poisson count, lower = chi2(alpha/2; 2x) / 2 (0 for x = 0) and
  upper = chi2(1 - alpha/2; 2x + 2) / 2, at 95% and 99.8%. Solved through the identity
  P(chi2 with 2k df <= 2m) = P(Poisson(m) >= k).
- seeds/t_distribution_quantiles.csv: for 1..100 degrees of freedom, the two-sided 95% and
  99.8% critical values of Student's t (the 0.975 and 0.999 quantiles), solved from the
  closed-form t distribution function for whole degrees of freedom (Abramowitz and Stegun
  26.7.3 and 26.7.4). Above 100 the `t_quantile` macro uses the Cornish-Fisher expansion.

Column names carry a `poisson_` / `t_` prefix because the macros read these seeds in
correlated scalar subqueries: a plain name such as `observed` could capture the caller's
column of the same name.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from decimal import Decimal, localcontext
from pathlib import Path

PRECISION = 60
TOLERANCE = Decimal(10) ** -45
LEVELS: dict[str, Decimal] = {"95": Decimal("0.95"), "998": Decimal("0.998")}
EXACT_POISSON_MAX_OBSERVED = 9
T_QUANTILE_MAX_DF = 100

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"


def _bisect_increasing(function: Callable[[Decimal], Decimal], target: Decimal,
                       low: Decimal, high: Decimal) -> Decimal:
    """The root of function(x) = target on [low, high], function increasing."""
    while high - low > TOLERANCE * max(Decimal(1), abs(high)):
        middle = (low + high) / 2
        if function(middle) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def poisson_cdf(observed: int, mean: Decimal) -> Decimal:
    """P(X <= observed) for X ~ Poisson(mean)."""
    term = (-mean).exp()
    total = term
    for j in range(1, observed + 1):
        term = term * mean / j
        total += term
    return total


def exact_poisson_limits(observed: int, level: Decimal) -> tuple[Decimal, Decimal]:
    """Exact lower and upper limits of a Poisson count at a two-sided confidence level."""
    tail = (1 - level) / 2
    with localcontext() as context:
        context.prec = PRECISION
        high = Decimal(10 * (observed + 10))
        lower = Decimal(0)
        if observed > 0:
            # P(Poisson(L) >= observed) = tail, rising in L.
            lower = _bisect_increasing(
                lambda m: 1 - poisson_cdf(observed - 1, m), tail, Decimal(0), high
            )
        # P(Poisson(U) <= observed) = tail, falling in U.
        upper = _bisect_increasing(
            lambda m: -poisson_cdf(observed, m), -tail, Decimal(0), high
        )
    return lower, upper


def _arctan(x: Decimal) -> Decimal:
    """arctan(x) for x >= 0, by halving the angle until the Taylor series converges fast."""
    halvings = 0
    while x > Decimal("0.05"):
        x = x / (1 + (1 + x * x).sqrt())
        halvings += 1
    power = x
    total = x
    n = 1
    while True:
        power = -power * x * x
        term = power / (2 * n + 1)
        if abs(term) < TOLERANCE * TOLERANCE:
            break
        total += term
        n += 1
    return total * Decimal(2) ** halvings


def _pi() -> Decimal:
    """pi by Machin's formula."""
    return 4 * (4 * _arctan(Decimal(1) / 5) - _arctan(Decimal(1) / 239))


def t_two_sided_coverage(t: Decimal, degrees_of_freedom: int) -> Decimal:
    """P(|T| <= t) for Student's t with whole degrees of freedom (A and S 26.7.3-4)."""
    nu = Decimal(degrees_of_freedom)
    cos_squared = nu / (nu + t * t)
    sin_theta = t / (nu + t * t).sqrt()
    if degrees_of_freedom % 2 == 0:
        # sin(theta) * (1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ... up to cos^(nu - 2)).
        term = Decimal(1)
        total = term
        for k in range(1, degrees_of_freedom // 2):
            term = term * cos_squared * (2 * k - 1) / (2 * k)
            total += term
        return sin_theta * total
    theta = _arctan(t / nu.sqrt())
    if degrees_of_freedom == 1:
        return 2 * theta / _pi()
    # (2/pi) (theta + sin cos (1 + 2/3 cos^2 + (2*4)/(3*5) cos^4 + ... up to cos^(nu - 3))).
    term = Decimal(1)
    total = term
    for k in range(1, (degrees_of_freedom - 1) // 2):
        term = term * cos_squared * (2 * k) / (2 * k + 1)
        total += term
    return 2 * (theta + sin_theta * cos_squared.sqrt() * total) / _pi()


def t_critical_value(degrees_of_freedom: int, level: Decimal) -> Decimal:
    """t with P(|T| <= t) = level: the (1 + level) / 2 quantile of Student's t."""
    with localcontext() as context:
        context.prec = PRECISION
        high = Decimal(1)
        while t_two_sided_coverage(high, degrees_of_freedom) < level:
            high *= 2
        return _bisect_increasing(
            lambda t: t_two_sided_coverage(t, degrees_of_freedom), level, Decimal(0), high
        )


def as_double_text(value: Decimal) -> str:
    """The shortest text that reads back as the double nearest value."""
    return repr(float(value))


def exact_poisson_rows() -> list[list[str]]:
    """Rows of exact_poisson_limits.csv, header first."""
    rows = [[
        "poisson_observed", "poisson_lower_95", "poisson_upper_95",
        "poisson_lower_998", "poisson_upper_998",
    ]]
    for observed in range(EXACT_POISSON_MAX_OBSERVED + 1):
        row = [str(observed)]
        for level in LEVELS.values():
            row.extend(as_double_text(limit) for limit in exact_poisson_limits(observed, level))
        rows.append(row)
    return rows


def t_quantile_rows() -> list[list[str]]:
    """Rows of t_distribution_quantiles.csv, header first."""
    rows = [["t_degrees_of_freedom", "t_95", "t_998"]]
    for degrees_of_freedom in range(1, T_QUANTILE_MAX_DF + 1):
        rows.append(
            [str(degrees_of_freedom)]
            + [as_double_text(t_critical_value(degrees_of_freedom, level))
               for level in LEVELS.values()]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    """Write rows as a CSV with Unix line endings."""
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def main() -> None:
    """Regenerate both seeds in place."""
    write_csv(SEEDS_DIR / "exact_poisson_limits.csv", exact_poisson_rows())
    write_csv(SEEDS_DIR / "t_distribution_quantiles.csv", t_quantile_rows())


if __name__ == "__main__":
    main()
