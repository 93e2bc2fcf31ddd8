"""audit.agreement against published values and statsmodels (test extra only)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from audit.agreement import cohen_kappa, gwet_ac1, krippendorff_alpha, percent_agreement


def pairs_from_table(table: list[list[int]], codes: list[str]) -> list[tuple[str, str]]:
    return [(codes[i], codes[j]) for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)]


# --- published values ----------------------------------------------------------------------

# Gwet K.L., irrCAC: Computing Chance-Corrected Agreement Coefficients, R package 1.0 (CRAN,
# 2019), vignette "overview" / README: dataset cont3x3abstractors (two abstractors, 100
# pregnancies; Gwet 2014, Handbook of Inter-Rater Reliability, 4th ed.).
CONT3X3 = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
CODES = ["Ectopic", "AIU", "NIU"]


def test_irrcac_cont3x3abstractors():
    pairs = pairs_from_table(CONT3X3, CODES)
    kappa = cohen_kappa(pairs)
    assert round(kappa.value, 7) == 0.7964094  # kappa2.table: coeff.val
    assert round(kappa.se, 8) == 0.05891072  # kappa2.table: coeff.se
    agreement = percent_agreement(pairs)
    assert agreement.value == 0.89 and round(agreement.se, 8) == 0.03128898  # pa2.table
    ac1 = gwet_ac1(pairs)
    assert round(ac1.value, 7) == 0.8493305  # gwet.ac1.table: coeff.val
    # gwet.ac1.table's variance divides by n, the raw-data formula used here by n - 1
    assert round(ac1.se * math.sqrt(99 / 100), 8) == 0.04321747
    alpha = krippendorff_alpha(pairs)
    assert round(alpha, 7) == 0.7972585  # krippen2.table
    # Scott's pi = 0.7962397 (scott2.table); for two raters alpha = 1 - (2n - 1)/(2n) (1 - pi)
    scott = 1 - (1 - alpha) * 200 / 199
    assert round(scott, 7) == 0.7962397


def test_irrcac_raw_ratings_with_missing_values():
    # irrCAC README: cac.raw4raters, 12 units by 4 raters with missing ratings: gwet.ac1.raw
    # 0.77544 (se 0.14295), krippen.alpha.raw 0.74342. These are Krippendorff's own data:
    # Krippendorff K. (2011), "Computing Krippendorff's Alpha-Reliability", example C
    # (nominal data, any number of observers, missing values): alpha = 0.743.
    na = None
    units = [[1, 1, na, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
             [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [na, 5, 5, 5], [na, na, 1, 1], [na, na, 3, na]]
    ac1 = gwet_ac1(units)
    assert (round(ac1.value, 5), round(ac1.se, 5)) == (0.77544, 0.14295)
    assert round(krippendorff_alpha(units), 5) == 0.74342
    assert round(krippendorff_alpha(units), 3) == 0.743


def test_irrcac_six_raters():
    # irrCAC README: distrib.6raters (15 patients, 6 psychiatrists, 5 diagnoses): gwet.ac1.dist
    # 0.4448007 (stderr 0.08418757), krippen.alpha.dist 0.4204384, fleiss.kappa.dist 0.4139265.
    dist = [[0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
            [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
            [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1]]
    units = [[k for k, n in enumerate(row) for _ in range(n)] for row in dist]
    ac1 = gwet_ac1(units, categories=range(5))
    assert (round(ac1.value, 7), round(ac1.se, 8)) == (0.4448007, 0.08418757)
    assert round(krippendorff_alpha(units), 7) == 0.4204384
    assert round(fleiss_kappa(np.array(dist)), 7) == 0.4139265  # statsmodels agrees with irrCAC


def test_krippendorff_worked_examples():
    # Krippendorff (2011), example A: binary data, two observers, no missing data: alpha = 0.095
    a = "0 1 0 0 0 0 0 0 1 0".split()
    b = "1 1 1 0 0 1 0 0 0 0".split()
    assert round(krippendorff_alpha(list(zip(a, b))), 3) == 0.095
    # example B: nominal data, two observers, no missing data: alpha = 0.692
    a = "a a b b d c c c e d d a".split()
    b = "b a b b b c c c e d d d".split()
    assert round(krippendorff_alpha(list(zip(a, b))), 3) == 0.692
    # Krippendorff's computational example (3 coders, 15 units, missing values), as in
    # Wikipedia's "Krippendorff's alpha": nominal alpha = 0.691
    coders = [
        [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
        [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
        [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
    ]
    assert round(krippendorff_alpha(list(zip(*coders))), 6) == 0.691358


def test_the_kappa_paradox():
    # nearly everyone "yes": 96% agreement, yet kappa is low; AC1 stays near the agreement
    pairs = [("yes", "yes")] * 95 + [("yes", "no")] * 2 + [("no", "yes")] * 2 + [("no", "no")] * 1
    assert percent_agreement(pairs).value == 0.96
    assert cohen_kappa(pairs).value < 0.35
    assert gwet_ac1(pairs).value > 0.95


# --- against statsmodels -----------------------------------------------------------------

answers = st.sampled_from(["yes", "no", "na", "other"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(answers, answers), min_size=2, max_size=200))
def test_cohen_kappa_matches_statsmodels(pairs):
    codes = sorted({x for pair in pairs for x in pair})
    table = np.zeros((len(codes), len(codes)))
    for a, b in pairs:
        table[codes.index(a), codes.index(b)] += 1
    ours = cohen_kappa(pairs)
    first, second = table.sum(1) / len(pairs), table.sum(0) / len(pairs)
    if (first * second).sum() >= 1 - 1e-12:  # one answer from both: kappa undefined
        assert ours is None
        return
    with np.errstate(invalid="ignore"):
        reference = cohens_kappa(table)
    assert ours.value == pytest.approx(reference.kappa, abs=1e-9)
    if np.isnan(reference.std_kappa):  # a variance of zero that rounding made negative: statsmodels' sqrt fails
        assert ours.se == pytest.approx(0, abs=1e-6)
    else:
        assert ours.se == pytest.approx(reference.std_kappa, rel=1e-6, abs=1e-6)  # a variance near 0 is rounding noise


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 6), st.lists(st.lists(st.integers(0, 3), min_size=6, max_size=6), min_size=2, max_size=40))
def test_krippendorff_alpha_matches_statsmodels_fleiss_kappa(raters, rows):
    # complete data, m raters a unit: alpha = 1 - (N m - 1)/(N m) (1 - Fleiss' kappa)
    units = [row[:raters] for row in rows]
    counts, _ = aggregate_raters(np.array(units))
    alpha = krippendorff_alpha(units)
    if len({v for unit in units for v in unit}) < 2:
        assert alpha is None
        return
    total = len(units) * raters
    assert alpha == pytest.approx(1 - (total - 1) / total * (1 - fleiss_kappa(counts)), abs=1e-9)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(answers, min_size=1, max_size=100))
def test_identical_answers_agree_fully(values):
    pairs = [(v, v) for v in values]
    assert percent_agreement(pairs).value == 1
    assert gwet_ac1(pairs).value == pytest.approx(1)
    several = len(set(values)) >= 2
    kappa, alpha = cohen_kappa(pairs), krippendorff_alpha(pairs)
    assert (kappa is not None) == several and (alpha is not None) == several
    if several:  # defined only when more than one answer was given
        assert kappa.value == pytest.approx(1) and alpha == pytest.approx(1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(answers, answers), min_size=1, max_size=100))
def test_swapping_the_raters_changes_nothing(pairs):
    swapped = [(b, a) for a, b in pairs]
    for statistic in (percent_agreement, cohen_kappa, gwet_ac1):
        one, other = statistic(pairs), statistic(swapped)
        assert (one is None) == (other is None)
        if one is not None:
            assert one.value == pytest.approx(other.value, abs=1e-12)
            assert (one.se or 0) == pytest.approx(other.se or 0, abs=1e-12)
    one, other = krippendorff_alpha(pairs), krippendorff_alpha(swapped)
    assert (one is None and other is None) or one == pytest.approx(other, abs=1e-12)


def test_nothing_to_compare():
    assert percent_agreement([]) is None and cohen_kappa([]) is None
    assert gwet_ac1([[None, "yes"], ["no", None]]) is None  # no case has two answers
    assert krippendorff_alpha([["yes", None]]) is None
