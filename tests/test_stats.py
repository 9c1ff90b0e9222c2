"""eco_magic.stats against hand-computed values and SciPy."""
from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest
from scipy import stats as ss

from eco_magic import stats


# --- hand-computed ---------------------------------------------------------------------------------------------
def test_summarize_by_hand():
    s = stats.summarize([1, 2, 3, 4, 5])
    # mean 3, s² = (4+1+0+1+4)/4 = 2.5, t(0.975, 4) = 2.7764451051977987 (tables: 2.776)
    assert s.n == 5 and s.mean == 3.0
    assert s.std == pytest.approx(math.sqrt(2.5), rel=1e-15)
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert s.ci_low == pytest.approx(3 - half, rel=1e-12) and s.ci_high == pytest.approx(3 + half, rel=1e-12)
    assert s.ci == (s.ci_low, s.ci_high) and s.half_width == pytest.approx(half, rel=1e-12)
    assert s.sem == pytest.approx(math.sqrt(0.5), rel=1e-15)


def test_summarize_one_value_has_no_error_bar():
    s = stats.summarize([4.2])
    assert (s.n, s.mean, s.std, s.ci_low, s.ci_high, s.ci, s.sem) == (1, 4.2, None, None, None, None, None)


def test_summarize_constant_sample_has_zero_width_interval():
    s = stats.summarize([2.0, 2.0, 2.0])
    assert (s.std, s.ci_low, s.ci_high) == (0.0, 2.0, 2.0)


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf], ["1"], [True, 2.0]])
def test_summarize_rejects_non_numbers(bad):
    with pytest.raises((ValueError, TypeError)):
        stats.summarize(bad)


@pytest.mark.parametrize("confidence", [0, 1, 95, -0.5])
def test_confidence_must_be_a_fraction(confidence):
    with pytest.raises(ValueError, match="confidence"):
        stats.summarize([1, 2], confidence=confidence)


def test_t_quantiles_match_printed_tables():
    # the two-sided 95 % column every statistics textbook prints
    for df, table in [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042), (math.inf, 1.960)]:
        assert stats.t_ppf(0.975, df) == pytest.approx(table, abs=5e-4)
    assert stats.t_ppf(0.5, 3) == 0.0
    assert stats.t_ppf(0.025, 4) == -stats.t_ppf(0.975, 4)
    # df = 1 is the Cauchy distribution: quantile tan(π (p − ½)) in closed form
    assert stats.t_ppf(0.9, 1) == pytest.approx(math.tan(math.pi * 0.4), rel=1e-11)
    # df = 2 has a closed form too: t = (2p − 1) √(2 / (4p(1 − p)))
    p = 0.99
    assert stats.t_ppf(p, 2) == pytest.approx((2 * p - 1) * math.sqrt(2 / (4 * p * (1 - p))), rel=1e-11)


def test_ratio_of_means_by_hand():
    # a: mean 12, s² 4; b: mean 6, s² 1 → ratio 2; c = s²/(n x̄²) = 4/432 = 1/108 and 1/(3·36) = 1/108
    # se = √(2/108); Welch–Satterthwaite ν = (2/108)² / (2 · (1/108)² / 2) = 4
    r = stats.ratio_of_means([10, 12, 14], [5, 6, 7])
    assert r.ratio == 2.0 and r.n_a == 3 and r.n_b == 3
    assert r.df == pytest.approx(4.0, rel=1e-12)
    half = 2.7764451051977987 * math.sqrt(2 / 108)
    assert r.low == pytest.approx(2 * math.exp(-half), rel=1e-11)
    assert r.high == pytest.approx(2 * math.exp(half), rel=1e-11)
    assert r.pct == pytest.approx(100.0)
    low_pct, high_pct = r.pct_interval
    assert low_pct == pytest.approx(100 * (r.low - 1)) and high_pct == pytest.approx(100 * (r.high - 1))


def test_ratio_with_one_run_has_no_interval_and_zero_spread_has_zero_width():
    r = stats.ratio_of_means([3.0], [1.0, 1.1])
    assert r.ratio == pytest.approx(3 / 1.05) and (r.low, r.high, r.df) == (None, None, None)
    assert r.pct_interval is None
    exact = stats.ratio_of_means([0.9, 0.9, 0.9], [1.0, 1.0])
    assert (exact.low, exact.high, exact.df) == (pytest.approx(0.9), pytest.approx(0.9), math.inf)
    # one side constant: ν is the other side's n − 1
    half = stats.ratio_of_means([2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 2.0])
    assert half.df == pytest.approx(3.0)


def test_ratio_needs_positive_means():
    with pytest.raises(ValueError, match="positive"):
        stats.ratio_of_means([1.0, 2.0], [-1.0, -2.0])
    with pytest.raises(ValueError, match="both"):
        stats.ratio_of_means([], [1.0])


def test_classify_applies_the_threshold_to_the_whole_interval():
    assert stats.classify(1.03, 1.10) == stats.HIGHER
    assert stats.classify(1.01, 1.10) == stats.SAME  # interval reaches into ±2 %
    assert stats.classify(0.80, 0.97) == stats.LOWER
    assert stats.classify(0.80, 0.99) == stats.SAME
    assert stats.classify(0.96, 1.06) == stats.SAME
    assert stats.classify(1.01, 1.10, threshold=0.0) == stats.HIGHER
    assert stats.classify(1.5, 1.6, threshold=0.6) == stats.SAME  # sensors cannot resolve 60 %
    assert stats.classify(None, None) is None
    with pytest.raises(ValueError):
        stats.classify(1, 2, threshold=-0.1)


def test_welch_df_by_hand():
    # Welch's textbook formula with s²/n = 1 and 2, n = 5 and 9: ν = 9 / (1/4 + 4/8) = 12
    assert stats.welch_df(5.0, 5, 18.0, 9) == pytest.approx(12.0)
    assert stats.welch_df(0.0, 3, 0.0, 3) == math.inf


# --- SciPy -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("df", [0.7, 1, 2, 3, 4.5, 7, 12.3, 30, 250, 4e3, 2e5, math.inf])
def test_t_distribution_matches_scipy(df):
    for p in (1e-6, 0.001, 0.025, 0.1, 0.3, 0.6, 0.9, 0.975, 0.995, 0.9999):
        assert stats.t_ppf(p, df) == pytest.approx(ss.t.ppf(p, df), rel=5e-9)
    for t in (-40.0, -3.0, -0.5, -1e-6, 0.0, 1e-6, 0.5, 1.0, 2.2, 8.0):
        assert stats.t_cdf(t, df) == pytest.approx(ss.t.cdf(t, df), rel=1e-8, abs=1e-300)


def test_summarize_matches_scipy():
    rng = random.Random(7)
    for n in (2, 3, 5, 12, 40):
        xs = [rng.lognormvariate(1.0, 0.3) for _ in range(n)]
        for conf in (0.8, 0.95, 0.99):
            s = stats.summarize(xs, confidence=conf)
            low, high = ss.t.interval(conf, n - 1, loc=s.mean, scale=ss.sem(xs))
            assert (s.ci_low, s.ci_high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
            assert s.std == pytest.approx(ss.tstd(xs), rel=1e-12)


def test_welch_interval_matches_scipy():
    rng = random.Random(11)
    for na, nb in ((2, 2), (3, 7), (5, 5), (20, 4)):
        a = [rng.gauss(10, 1) for _ in range(na)]
        b = [rng.gauss(12, 3) for _ in range(nb)]
        res = ss.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(0.95)
        low, high, df = stats.welch_interval(a, b)
        assert (low, high) == (pytest.approx(ci.low, rel=1e-9), pytest.approx(ci.high, rel=1e-9))
        assert df == pytest.approx(res.df, rel=1e-12)


def test_ratio_df_is_scipys_welch_df_on_relative_values():
    # the delta-method variance terms are the Welch terms of each sample divided by its own mean
    a, b = [10.0, 11.5, 9.8, 10.9], [20.1, 23.0, 19.0, 21.9, 22.4]
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    res = ss.ttest_ind([x / ma for x in a], [x / mb for x in b], equal_var=False)
    assert stats.ratio_of_means(a, b).df == pytest.approx(res.df, rel=1e-12)


def test_ratio_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    """Coverage on log-normal runs (CV 10 %, 5 runs each, true ratio 2): the interval's stated 95 %."""
    rng = random.Random(2024)
    sigma, trials, hits = 0.1, 1500, 0
    true_ratio = 2.0  # arithmetic means: e^(μ + σ²/2) for each group, same σ → exactly 2
    for _ in range(trials):
        a = [2.0 * rng.lognormvariate(0.0, sigma) for _ in range(5)]
        b = [rng.lognormvariate(0.0, sigma) for _ in range(5)]
        r = stats.ratio_of_means(a, b)
        hits += r.low <= true_ratio <= r.high
    assert 0.93 <= hits / trials <= 0.97


def test_stats_imports_no_numpy_or_scipy():
    code = ("import sys, eco_magic.stats; "
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
