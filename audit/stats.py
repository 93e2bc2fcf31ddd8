"""Statistics beside a percentage: Wilson intervals and two-proportion tests, in pure Python.

Every function takes whole-number counts (``count`` of ``base`` cases), the
same unrounded counts a percentage is rounded from (:func:`audit.counting.percent`).
The methods are the ones HMI Probation's figures need and a reader can check:

* :func:`wilson` -- the Wilson score interval for a proportion (Wilson 1927),
  which stays inside [0, 1] and behaves at 0% and 100%, unlike the normal
  ("Wald") interval;
* :func:`chi_square` -- Pearson's chi-square on the 2x2 table, without
  continuity correction; the same test as the two-proportion z-test (z^2 = X^2);
* :func:`fisher_exact` -- Fisher's exact test, two-sided as scipy and R define
  it: the probability of every table with the observed margins that is no more
  likely than the observed one;
* :func:`compare` -- the test a figure's ``compare: [A, B]`` uses: chi-square,
  or Fisher's exact test when any expected count is below 5.

The tails (:func:`normal_sf`, :func:`chi2_sf`) come from :func:`math.erfc`, and
the normal quantile from :class:`statistics.NormalDist`. docs/statistics.md
says which method produced which number; tests cross-check each against scipy
and statsmodels and against published worked examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

CHI_SQUARE = "Pearson's chi-square (no continuity correction)"
FISHER = "Fisher's exact test (two-sided)"
MIN_EXPECTED = 5  # below this expected count, the chi-square approximation is not trusted
EXACT_LIMIT = 2_000  # Fisher's test sums exact integers up to this many cases (under 1 ms), log-space beyond
LOG_SPACE_TOLERANCE = 1e-7  # relative; R's fisher.test uses the same to treat near-equal tables as ties


# --- tails and quantiles -------------------------------------------------------------------


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (accurate far into the tail, unlike 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_two_sided(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """The z with P(Z <= z) = p, for 0 < p < 1."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"a probability strictly between 0 and 1 is needed, not {p}")
    return NormalDist().inv_cdf(p)


def chi2_sf(x: float, df: int = 1) -> float:
    """P(X > x) for a chi-square variable with one degree of freedom (the 2x2 table's)."""
    if df != 1:
        raise ValueError("only one degree of freedom (a 2x2 table) is supported")
    if x <= 0:
        return 1.0
    return math.erfc(math.sqrt(x / 2.0))


# --- one proportion ------------------------------------------------------------------------


def _check_counts(count: int, base: int) -> None:
    if isinstance(count, bool) or isinstance(base, bool) or not isinstance(count, int) or not isinstance(base, int):
        raise TypeError(f"counts must be whole numbers, not {count!r} of {base!r}")
    if base < 0 or not 0 <= count <= base:
        raise ValueError(f"a count must lie between 0 and its base, not {count} of {base}")


def wilson(count: int, base: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval for ``count`` of ``base``, as fractions; None for a zero base.

    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with z the
    two-sided normal quantile of ``confidence``. The ends are exactly 0 at 0%
    and exactly 1 at 100%.
    """
    _check_counts(count, base)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, e.g. 0.95, not {confidence}")
    if base == 0:
        return None
    z = normal_quantile(0.5 + confidence / 2.0)
    n = float(base)
    p = count / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == base else min(1.0, centre + half)
    return low, high


# --- two proportions -----------------------------------------------------------------------


def _table(count_a: int, base_a: int, count_b: int, base_b: int) -> tuple[int, int, int, int]:
    _check_counts(count_a, base_a)
    _check_counts(count_b, base_b)
    return count_a, base_a - count_a, count_b, base_b - count_b


def expected_counts(count_a: int, base_a: int, count_b: int, base_b: int) -> tuple[float, float, float, float]:
    """The four expected counts of the 2x2 table (yes/no by A/B) under equal proportions."""
    a, b, c, d = _table(count_a, base_a, count_b, base_b)
    total = a + b + c + d
    if total == 0:
        return 0.0, 0.0, 0.0, 0.0
    yes, no = a + c, b + d
    return base_a * yes / total, base_a * no / total, base_b * yes / total, base_b * no / total


def chi_square(count_a: int, base_a: int, count_b: int, base_b: int) -> tuple[float, float] | None:
    """Pearson's X^2 (no continuity correction) and its p-value; None if a margin is zero.

    ``X^2 = N (ad - bc)^2 / (r1 r2 c1 c2)``, referred to chi-square with one
    degree of freedom: the two-sided two-proportion z-test with pooled variance.
    """
    a, b, c, d = _table(count_a, base_a, count_b, base_b)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:
        return None
    statistic = (a + b + c + d) * (a * d - b * c) ** 2 / margins  # exact integers, one correctly rounded division
    return statistic, chi2_sf(statistic)


def two_proportion_z(count_a: int, base_a: int, count_b: int, base_b: int) -> tuple[float, float] | None:
    """The pooled two-proportion z statistic for B minus A, and its two-sided p-value."""
    result = chi_square(count_a, base_a, count_b, base_b)
    if result is None:
        return None
    statistic, p_value = result
    sign = 1.0 if count_b * base_a >= count_a * base_b else -1.0
    return sign * math.sqrt(statistic), p_value


def fisher_exact(count_a: int, base_a: int, count_b: int, base_b: int, *, exact_limit: int = EXACT_LIMIT) -> float:
    """Fisher's exact test, two-sided: the p-value of the 2x2 table.

    With the margins fixed, the count in the first cell is hypergeometric. The
    p-value sums the probabilities of every possible first cell whose
    probability is no greater than the observed one's (the definition of
    scipy.stats.fisher_exact and R's fisher.test). Up to ``exact_limit`` cases
    the probabilities are exact integers (math.comb and its recurrence), so ties
    are found exactly; beyond it they are compared in log-space (lgamma) with
    a relative tolerance of 1e-7, as R does.
    """
    a, b, c, d = _table(count_a, base_a, count_b, base_b)
    total = a + b + c + d
    row, col = a + b, a + c  # first row (A's base) and first column (the yeses)
    low, high = max(0, row + col - total), min(row, col)
    if low == high:
        return 1.0
    if total <= exact_limit:
        return _fisher_exact_integers(a, row, col, total, low, high)
    return _fisher_log_space(a, row, col, total, low, high)


def _fisher_exact_integers(a: int, row: int, col: int, total: int, low: int, high: int) -> float:
    # weight(x) = C(col, x) C(total - col, row - x); weight(x+1)/weight(x) is a ratio of small integers
    weight = math.comb(col, low) * math.comb(total - col, row - low)
    weights = [weight]
    for x in range(low, high):
        weight = weight * (col - x) * (row - x) // ((x + 1) * (total - col - row + x + 1))
        weights.append(weight)
    observed = weights[a - low]
    tail = sum(w for w in weights if w <= observed)
    return min(1.0, tail / sum(weights))


def _log_weight(x: int, row: int, col: int, total: int) -> float:
    lg = math.lgamma
    return (lg(col + 1) - lg(x + 1) - lg(col - x + 1)
            + lg(total - col + 1) - lg(row - x + 1) - lg(total - col - row + x + 1))


def _fisher_log_space(a: int, row: int, col: int, total: int, low: int, high: int) -> float:
    logs = [_log_weight(x, row, col, total) for x in range(low, high + 1)]
    peak = max(logs)
    observed = logs[a - low]
    weights = [math.exp(v - peak) for v in logs]
    limit = observed + math.log1p(LOG_SPACE_TOLERANCE)
    tail = sum(w for w, v in zip(weights, logs) if v <= limit)
    return min(1.0, tail / sum(weights))


@dataclass(frozen=True)
class Comparison:
    """Column B against column A for one row.

    ``difference`` is B's percentage minus A's, in percentage points, unrounded.
    ``test`` names the test used (:data:`CHI_SQUARE` or :data:`FISHER`);
    ``statistic`` is X^2 for the chi-square test and None for Fisher's.
    All are None when either base is zero: there is nothing to compare.
    """

    difference: float | None
    test: str | None
    statistic: float | None
    p_value: float | None
    alpha: float

    @property
    def significant(self) -> bool | None:
        """Whether p < alpha; None when there was no test."""
        return None if self.p_value is None else self.p_value < self.alpha


def compare(count_a: int, base_a: int, count_b: int, base_b: int, alpha: float = 0.05) -> Comparison:
    """Test B's proportion against A's: chi-square, or Fisher's exact test when any expected count is below 5."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, e.g. 0.05, not {alpha}")
    _table(count_a, base_a, count_b, base_b)  # checks the counts
    if base_a == 0 or base_b == 0:
        return Comparison(None, None, None, None, alpha)
    difference = 100.0 * (count_b / base_b - count_a / base_a)
    chi = chi_square(count_a, base_a, count_b, base_b)
    if chi is None or min(expected_counts(count_a, base_a, count_b, base_b)) < MIN_EXPECTED:
        return Comparison(difference, FISHER, None, fisher_exact(count_a, base_a, count_b, base_b), alpha)
    statistic, p_value = chi
    return Comparison(difference, CHI_SQUARE, statistic, p_value, alpha)
