"""summarize() against figures derived by hand and against numpy on random data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxprof.timing.stats import Stats, median_ci_ranks, pick_unit, summarize


def test_one_to_ten_exact_figures():
    s = summarize(np.arange(1, 11, dtype=np.int64))
    assert s.n == 10
    assert (s.min, s.max, s.median, s.mean) == (1.0, 10.0, 5.5, 5.5)
    # variance = sum((i - 5.5)^2) / 9 = 82.5 / 9
    assert s.stdev == pytest.approx(math.sqrt(82.5 / 9))
    # linear interpolation at position 9q: q1 at 2.25 -> 3.25, q3 at 6.75 -> 7.75,
    # p90 at 8.1 -> 9.1; p99 needs 100 samples
    assert (s.q1, s.q3) == pytest.approx((3.25, 7.75))
    assert s.p90 == pytest.approx(9.1)
    assert s.p99 is None
    # |x - 5.5| = 4.5 3.5 2.5 1.5 0.5 0.5 1.5 2.5 3.5 4.5 -> median 2.5
    assert s.mad == 2.5
    # n=10: P(B <= 1) = 11/1024 <= 2.5% < P(B <= 2) = 56/1024, so ranks 2 and 9
    assert (s.ci95_low, s.ci95_high) == (2.0, 9.0)
    assert s.outliers == 0


def test_outliers_use_tukey_fences():
    # q1=3.25, q3=7.75, IQR=4.5: fences -3.5 and 14.5
    data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    assert summarize(data).outliers == 1
    assert summarize([*data[:-1], 14]).outliers == 0
    assert summarize([*data[:-1], 15]).outliers == 1


@pytest.mark.parametrize(("n", "ranks", "coverage"), [
    (6, (1, 6), 1 - 2 / 64),
    (10, (2, 9), 1 - 2 * 11 / 1024),
    (20, (6, 15), 1 - 2 * sum(math.comb(20, k) for k in range(6)) / 2**20),
    (100, (40, 61), 1 - 2 * sum(math.comb(100, k) for k in range(40)) / 2**100),
])
def test_median_ci_ranks_match_binomial_tables(n, ranks, coverage):
    j, k, cov = median_ci_ranks(n)
    assert (j, k) == ranks
    assert cov == pytest.approx(coverage, rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_too_few_samples_for_a_median_ci(n):
    assert median_ci_ranks(n) is None
    s = summarize(np.arange(n) + 100)
    assert (s.ci95_low, s.ci95_high) == (s.min, s.max)
    assert s.median_ci_missing
    assert any("confidence interval" in w for w in s.warnings)
    assert any(f"only {n} samples" in w for w in s.warnings)


@pytest.mark.parametrize("n", [6, 7, 31, 200, 1001])
def test_ci_ranks_are_the_tightest_with_95_percent(n):
    j, k, _ = median_ci_ranks(n)
    tail = sum(math.comb(n, i) for i in range(j)) / 2**n            # P(B <= j - 1)
    tighter = sum(math.comb(n, i) for i in range(j + 1)) / 2**n     # P(B <= j)
    assert k == n + 1 - j
    assert tail <= 0.025 < tighter


def test_ci_covers_the_true_median_about_95_percent_of_the_time():
    rng = np.random.default_rng(12345)
    true_median = math.log(2)  # exponential(1)
    hits = 0
    trials = 2000
    for _ in range(trials):
        s = summarize(rng.exponential(1.0, size=25))
        hits += s.ci95_low <= true_median <= s.ci95_high
    _, _, coverage = median_ci_ranks(25)
    assert coverage >= 0.95
    # 2000 Bernoulli trials: 3 standard errors is about 1.4 points
    assert abs(hits / trials - coverage) < 0.015


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=400))
def test_figures_agree_with_numpy(values):
    x = np.array(values, dtype=np.int64)
    s = summarize(x)
    xf = x.astype(np.float64)
    expected = np.percentile(xf, [25, 50, 75, 90, 99])
    assert [s.q1, s.median, s.q3] == pytest.approx(expected[:3], rel=1e-9, abs=1e-3)
    for got, want, need in ((s.p90, expected[3], 10), (s.p99, expected[4], 100)):
        assert got is None if len(x) < need else got == pytest.approx(want, rel=1e-9, abs=1e-3)
    assert s.mean == pytest.approx(xf.mean(), rel=1e-9)
    assert s.mad == pytest.approx(np.median(np.abs(xf - np.median(xf))), rel=1e-9, abs=1e-3)
    if len(x) > 1:
        assert s.stdev == pytest.approx(xf.std(ddof=1), rel=1e-6, abs=1e-3)
    assert s.min == xf.min() and s.max == xf.max()
    assert s.ci95_low <= s.median <= s.ci95_high
    ordered = np.sort(xf)
    ranks = median_ci_ranks(len(x))
    if ranks:
        assert (s.ci95_low, s.ci95_high) == (ordered[ranks[0] - 1], ordered[ranks[1] - 1])


def test_stable_samples_have_no_warnings():
    rng = np.random.default_rng(1)
    s = summarize(1_000_000 + rng.integers(-1000, 1000, size=500), clock_overhead_ns=20)
    assert s.warnings == ()
    assert not s.unstable


def test_spread_and_short_minimum_are_flagged():
    rng = np.random.default_rng(2)
    wide = summarize(rng.normal(1e6, 3e5, size=200).clip(1))
    assert any("standard deviation" in w and "% of the mean" in w for w in wide.warnings)
    short_min = summarize([400, *([1000] * 50)])
    assert "the minimum (0.4 us) is 60% smaller than the median (1 us)" in short_min.warnings


def test_many_outliers_and_clock_cost_are_flagged():
    data = [100] * 90 + [10_000] * 10
    s = summarize(data, clock_overhead_ns=20)
    assert any("are outliers" in w for w in s.warnings)
    assert any("cost of one clock read" in w for w in s.warnings)


def test_to_dict_units_and_round_trip():
    s = summarize([1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000, 6_000_000])
    d = s.to_dict(unit="ms")
    assert d["unit"] == "ms" and d["median"] == 3.5 and d["min"] == 1.0
    assert d["n"] == 6 and isinstance(d["warnings"], list)
    back = Stats.from_dict(json.loads(json.dumps(d)))
    assert back == s
    assert Stats.from_dict(s.to_dict(unit="us")) == s
    assert s.to_dict("s")["max"] == pytest.approx(0.006)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="non-empty"):
        summarize([])
    with pytest.raises(ValueError, match="finite"):
        summarize([1.0, float("nan")])
    with pytest.raises(ValueError, match="unknown time unit"):
        summarize([1, 2]).to_dict(unit="minutes")


def test_pick_unit_and_format():
    assert [pick_unit(v) for v in (5, 5e3, 5e6, 5e9)] == ["ns", "us", "ms", "s"]
    line = summarize([2e6, 2.1e6, 2.2e6, 2e6, 2e6, 2e6]).format()
    assert line.startswith("median 2 ms (95% CI 2-2.2)")
    assert "n=6" in line
