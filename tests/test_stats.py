"""audit.stats against scipy and statsmodels (reference implementations, test extra only)
and against published worked examples."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from audit import stats
from audit.stats import CHI_SQUARE, FISHER, chi_square, compare, fisher_exact, wilson


@st.composite
def proportions(draw, max_base: int = 10_000):
    base = draw(st.integers(0, max_base))
    return draw(st.integers(0, base)), base


@st.composite
def tables(draw, max_base: int = 5_000):
    """Two columns' (count, base): small, large, lopsided, 0% and 100% alike."""
    size = draw(st.sampled_from([8, 40, 300, max_base]))
    count_a, base_a = draw(proportions(size))
    count_b, base_b = draw(proportions(size))
    return count_a, base_a, count_b, base_b


# --- Wilson --------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(proportions(1_000_000), st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999]))
def test_wilson_matches_statsmodels(proportion, confidence):
    count, base = proportion
    ours = wilson(count, base, confidence)
    if base == 0:
        assert ours is None
        return
    # statsmodels' default is the normal (Wald) interval: the Wilson one must be asked for
    low, high = proportion_confint(count, base, alpha=1 - confidence, method="wilson")
    assert ours[0] == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert ours[1] == pytest.approx(high, rel=1e-9, abs=1e-12)
    assert 0.0 <= ours[0] <= count / base <= ours[1] <= 1.0


def test_wilson_is_exactly_zero_and_one_at_the_ends():
    assert wilson(0, 50) == (0.0, pytest.approx(0.0713, abs=1e-4))
    assert wilson(50, 50)[1] == 1.0
    assert wilson(0, 1)[0] == 0.0 and wilson(1, 1)[1] == 1.0


def test_wilson_published_examples():
    # Newcombe R.G. (1998), "Two-sided confidence intervals for the single proportion:
    # comparison of seven methods", Statistics in Medicine 17:857-872, Table II,
    # method 3 (score interval without continuity correction), 95%.
    for count, base, low, high in [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605),
                                   (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]:
        got = wilson(count, base)
        assert (round(got[0], 4), round(got[1], 4)) == (low, high), (count, base)


def test_wilson_refuses_impossible_counts():
    for count, base in [(-1, 5), (6, 5), (1, -1)]:
        with pytest.raises(ValueError):
            wilson(count, base)
    with pytest.raises(TypeError):
        wilson(1.5, 5)
    with pytest.raises(ValueError):
        wilson(1, 5, confidence=1.0)


# --- tails -------------------------------------------------------------------------------


@given(st.floats(-40, 40))
def test_normal_tail_matches_scipy(z):
    assert stats.normal_sf(z) == pytest.approx(scipy_stats.norm.sf(z), rel=1e-12, abs=1e-300)
    assert stats.normal_two_sided(z) == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-12, abs=1e-300)


@given(st.floats(0, 1500))
def test_chi_square_tail_matches_scipy(x):
    assert stats.chi2_sf(x) == pytest.approx(scipy_stats.chi2.sf(x, 1), rel=1e-11, abs=1e-300)


@given(st.floats(1e-12, 1 - 1e-12))
def test_normal_quantile_matches_scipy(p):
    assert stats.normal_quantile(p) == pytest.approx(scipy_stats.norm.ppf(p), rel=1e-12, abs=1e-12)


# --- chi-square and the z-test -------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(tables(100_000))
def test_chi_square_matches_scipy_and_the_z_test(table):
    count_a, base_a, count_b, base_b = table
    ours = chi_square(*table)
    cells = [[count_a, base_a - count_a], [count_b, base_b - count_b]]
    if 0 in (base_a, base_b) or count_a + count_b in (0, base_a + base_b):
        assert ours is None  # a zero margin: no test
        return
    reference = scipy_stats.chi2_contingency(cells, correction=False)
    assert ours[0] == pytest.approx(reference.statistic, rel=1e-9, abs=1e-12)
    assert ours[1] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
    # the same test as the pooled two-proportion z-test
    z, p_value = proportions_ztest([count_b, count_a], [base_b, base_a])
    ours_z = stats.two_proportion_z(*table)
    assert ours_z[0] == pytest.approx(z, rel=1e-8, abs=1e-10)
    assert ours_z[1] == pytest.approx(p_value, rel=1e-8, abs=1e-300)


def test_chi_square_published_example():
    # Agresti A. (2007), An Introduction to Categorical Data Analysis, 2nd ed., section 2.4
    # (Table 2.3, Physicians' Health Study): heart attacks 189 of 11,034 on placebo and
    # 104 of 11,037 on aspirin; Pearson X^2 = 25.01, df = 1, P < 0.0001.
    statistic, p_value = chi_square(189, 11034, 104, 11037)
    assert round(statistic, 2) == 25.01
    assert p_value < 0.0001


# --- Fisher's exact test -------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(tables(400))
def test_fisher_matches_scipy(table):
    count_a, base_a, count_b, base_b = table
    reference = scipy_stats.fisher_exact([[count_a, base_a - count_a], [count_b, base_b - count_b]]).pvalue
    assert fisher_exact(*table) == pytest.approx(reference, rel=1e-9, abs=1e-300)
    # the log-space path (used for large tables) gives the same answer
    assert fisher_exact(*table, exact_limit=0) == pytest.approx(reference, rel=1e-7, abs=1e-300)


@settings(max_examples=60, deadline=None)
@given(st.integers(1_001, 300_000), st.integers(1_001, 300_000), st.integers(0, 12), st.integers(0, 12))
def test_fisher_large_tables_match_scipy(base_a, base_b, count_a, count_b):
    # rare events among many cases: where a figure's comparison falls back to Fisher at scale
    reference = scipy_stats.fisher_exact([[count_a, base_a - count_a], [count_b, base_b - count_b]]).pvalue
    assert fisher_exact(count_a, base_a, count_b, base_b) == pytest.approx(reference, rel=1e-6, abs=1e-300)
    small = min(base_a, base_b, 10_000)  # the exact-integer path, forced, on a table it would leave to log-space
    assert fisher_exact(count_a, small, count_b, small, exact_limit=10**9) == pytest.approx(
        scipy_stats.fisher_exact([[count_a, small - count_a], [count_b, small - count_b]]).pvalue, rel=1e-9, abs=1e-300)


def test_fisher_published_examples():
    # Fisher R.A. (1935), The Design of Experiments, ch. 2, the lady tasting tea: 3 of 4 cups
    # right each way; the two-sided p-value is 34/70.
    assert fisher_exact(3, 4, 1, 4) == pytest.approx(34 / 70, rel=1e-12)
    # Wikipedia, "Fisher's exact test", worked example (dieting: men 1 of 12, women 9 of 12):
    # two-sided p = 0.002759 (one-sided 0.001346).
    assert round(fisher_exact(1, 12, 9, 12), 6) == 0.002759


def test_fisher_ties_are_counted_exactly():
    # a symmetric table: every table's mirror image is exactly as likely
    assert fisher_exact(2, 10, 8, 10) == pytest.approx(scipy_stats.fisher_exact([[2, 8], [8, 2]]).pvalue, rel=1e-12)
    assert fisher_exact(5, 10, 5, 10) == 1.0


# --- compare -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(tables(3_000), st.sampled_from([0.01, 0.05, 0.1]))
def test_compare_picks_the_test_by_expected_counts(table, alpha):
    count_a, base_a, count_b, base_b = table
    result = compare(*table, alpha=alpha)
    if base_a == 0 or base_b == 0:
        assert (result.difference, result.test, result.p_value, result.significant) == (None, None, None, None)
        return
    assert result.difference == pytest.approx(100 * (count_b / base_b - count_a / base_a))
    cells = [[count_a, base_a - count_a], [count_b, base_b - count_b]]
    margins_zero = count_a + count_b in (0, base_a + base_b)
    expected = None if margins_zero else scipy_stats.contingency.expected_freq(cells)
    if margins_zero or expected.min() < 5:
        assert result.test == FISHER
        assert result.p_value == pytest.approx(scipy_stats.fisher_exact(cells).pvalue, rel=1e-9)
    else:
        assert result.test == CHI_SQUARE
        assert result.p_value == pytest.approx(scipy_stats.chi2_contingency(cells, correction=False).pvalue, rel=1e-9)
    assert result.significant == (result.p_value < alpha)


def test_compare_edge_cases():
    both_none = compare(0, 0, 3, 10)
    assert both_none.p_value is None and both_none.significant is None and both_none.test is None
    nothing_differs = compare(0, 40, 0, 60)  # 0% against 0%: a zero margin, Fisher, p = 1
    assert (nothing_differs.test, nothing_differs.p_value, nothing_differs.significant) == (FISHER, 1.0, False)
    assert compare(40, 40, 60, 60).p_value == 1.0  # 100% against 100%
    extreme = compare(0, 5000, 5000, 5000)
    assert extreme.test == CHI_SQUARE and extreme.difference == 100.0 and extreme.p_value < 1e-300 * 10
    at_five = compare(1, 12, 9, 12)  # smallest expected count exactly 5: still chi-square
    assert at_five.test == CHI_SQUARE
    small = compare(1, 10, 7, 12)  # an expected count of 3.6: Fisher
    assert small.test == FISHER and small.statistic is None
    assert small.p_value == pytest.approx(scipy_stats.fisher_exact([[1, 9], [7, 5]]).pvalue, rel=1e-12)
    with pytest.raises(ValueError):
        compare(1, 10, 1, 10, alpha=0)


def test_large_counts_stay_exact_and_fast():
    # 100k cases a column: the statistic is computed from exact integers
    result = compare(71_000, 100_000, 71_500, 100_000)
    reference = scipy_stats.chi2_contingency([[71_000, 29_000], [71_500, 28_500]], correction=False)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert math.isclose(result.p_value, reference.pvalue, rel_tol=1e-9)
