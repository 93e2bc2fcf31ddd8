"""Agreement between inspectors who marked the same cases (moderation, double marking).

Pure Python. The answers of one question are given either as ``pairs``, one
``(first, second)`` per case marked by two inspectors, or as ``units``, one
sequence per case holding every inspector's answer (``None`` where one gave
none). Answers are any hashable codes; compare codes that count (a "Not
applicable" answer is an applicability disagreement, reported apart).

* :func:`percent_agreement` -- share of pairs that agree, with its Wilson interval;
* :func:`cohen_kappa` -- two raters; the standard error is the large-sample one
  of Fleiss, Cohen and Everitt (1969), as irrCAC's ``kappa2.table`` and
  statsmodels' ``cohens_kappa`` give it;
* :func:`gwet_ac1` -- any number of raters, missing answers allowed; value and
  variance as irrCAC's ``gwet.ac1.raw`` (Gwet 2008, 2014). Chance agreement is
  spread over ``categories`` (at least two), so it stays near the observed
  agreement when nearly every answer is "yes", where kappa collapses;
* :func:`krippendorff_alpha` -- nominal, any number of raters, missing answers
  allowed (Krippendorff 2011, "Computing Krippendorff's alpha-reliability").

Each returns ``None`` where the statistic is undefined (no pairs; a kappa or
alpha whose expected disagreement is zero because one answer was given by all).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

from audit.stats import normal_quantile, wilson

Pair = tuple[Hashable, Hashable]
Unit = Sequence[Hashable | None]


@dataclass(frozen=True)
class Estimate:
    """A statistic with its standard error and interval (None where there is none) over ``n`` cases."""

    value: float
    se: float | None
    ci: tuple[float, float] | None
    n: int


def _interval(value: float, se: float, confidence: float) -> tuple[float, float]:
    z = normal_quantile(0.5 + confidence / 2)
    return max(-1.0, value - z * se), min(1.0, value + z * se)


def percent_agreement(pairs: Iterable[Pair], confidence: float = 0.95) -> Estimate | None:
    """The share of pairs whose two answers are equal, with its Wilson interval."""
    pairs = list(pairs)
    if not pairs:
        return None
    agree = sum(a == b for a, b in pairs)
    p = agree / len(pairs)
    return Estimate(p, math.sqrt(p * (1 - p) / len(pairs)), wilson(agree, len(pairs), confidence), len(pairs))


def cohen_kappa(pairs: Iterable[Pair], confidence: float = 0.95) -> Estimate | None:
    """Cohen's kappa for two raters: (po - pe) / (1 - pe), pe from each rater's own margins."""
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return None
    cells = Counter(pairs)
    first, second = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    po = sum(cells[(k, k)] for k in first) / n
    pe = sum(first[k] * second[k] for k in first) / n**2
    if pe >= 1:
        return None
    kappa = (po - pe) / (1 - pe)
    # Fleiss, Cohen and Everitt (1969): sum over cells of p_kl (d_kl - (1 - kappa)(p_+k + p_l+))^2, less a correction
    total = sum(count / n * ((k == l) - (1 - kappa) * (second[k] + first[l]) / n) ** 2 for (k, l), count in cells.items())
    variance = max(0.0, (total - (po - 2 * (1 - kappa) * pe) ** 2) / (n * (1 - pe) ** 2))
    se = math.sqrt(variance)
    return Estimate(kappa, se, _interval(kappa, se, confidence), n)


def _tallies(units: Iterable[Unit]) -> list[Counter]:
    """Each unit's answers counted, for the units with at least one answer."""
    out = [Counter(v for v in unit if v is not None) for unit in units]
    return [c for c in out if c]


def gwet_ac1(units: Iterable[Unit], categories: Iterable[Hashable] | None = None, confidence: float = 0.95) -> Estimate | None:
    """Gwet's AC1 for any number of raters per case (``None`` for a missing answer)."""
    tallies = _tallies(units)
    rated = [(c, sum(c.values())) for c in tallies]
    paired = [(c, r) for c, r in rated if r >= 2]
    if not paired:
        return None
    n, n2 = len(rated), len(paired)
    codes = set(categories or ()) | {k for c in tallies for k in c}
    q = max(2, len(codes))
    pi = {k: sum(c[k] / r for c, r in rated) / n for k in codes}
    pe = sum(p * (1 - p) for p in pi.values()) / (q - 1)
    pa_i = [sum(x * (x - 1) for x in c.values()) / (r * (r - 1)) if r >= 2 else None for c, r in rated]
    pa = sum(a for a in pa_i if a is not None) / n2
    ac1 = (pa - pe) / (1 - pe)
    # per-case terms, corrected for pe estimated from the same cases (Gwet 2008); a case
    # with one answer adds no agreement term, only its share of the chance term
    pe_i = [sum(c[k] * (1 - pi[k]) for k in c) / (r * (q - 1)) for c, r in rated]
    terms = [(0.0 if a is None else (n / n2) * (a - pe) / (1 - pe)) - 2 * (1 - ac1) * (e - pe) / (1 - pe)
             for a, e in zip(pa_i, pe_i)]
    se = math.sqrt(sum((t - ac1) ** 2 for t in terms) / (n * (n - 1))) if n > 1 else None
    return Estimate(ac1, se, None if se is None else _interval(ac1, se, confidence), n)


def krippendorff_alpha(units: Iterable[Unit]) -> float | None:
    """Krippendorff's alpha, nominal: 1 - (n - 1) * observed / expected disagreement, from coincidences."""
    tallies = [c for c in _tallies(units) if sum(c.values()) >= 2]  # a lone answer is not pairable
    coincidences: Counter = Counter()
    for c in tallies:
        m = sum(c.values())
        for k, x in c.items():
            for l, y in c.items():
                coincidences[(k, l)] += x * (y - (k == l)) / (m - 1)
    totals: Counter = Counter()
    for (k, _), value in coincidences.items():
        totals[k] += value
    n = sum(totals.values())
    expected = sum(totals[k] * totals[l] for k in totals for l in totals if k != l)
    if n == 0 or expected == 0:
        return None
    observed = sum(value for (k, l), value in coincidences.items() if k != l)
    return 1 - (n - 1) * observed / expected
