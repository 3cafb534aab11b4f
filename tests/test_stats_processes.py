"""Several processes per configuration: hierarchical bootstrap interval, ratios, percentile gating.

Synthetic samples only (no timing): process offsets drawn around a known centre, calls around
each process's own centre. Every random draw is seeded, so each assertion is deterministic.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mxprof.timing import bootstrap
from mxprof.timing.stats import Ratio, Stats, speedup, summarize, summarize_processes


def _processes(rng, processes: int, calls: int, centre: float, between: float, within: float):
    """Normal calls around normal per-process centres: the pooled median is `centre`."""
    return [rng.normal(centre + rng.normal(0, between), within, calls)
            for _ in range(processes)]


def _coverage(processes: int, between: float, trials: int, seed: int) -> tuple[float, float]:
    """(hierarchical, order-statistic on one process) coverage of the true median."""
    rng = np.random.default_rng(seed)
    hier = single = 0
    for t in range(trials):
        groups = _processes(rng, processes, 30, 100.0, between, 2.0)
        s = summarize_processes(groups, resamples=400, seed=t)
        hier += s.ci95_low <= 100.0 <= s.ci95_high
        one = summarize(groups[0])
        single += one.ci95_low <= 100.0 <= one.ci95_high
    return hier / trials, single / trials


def test_interval_covers_when_processes_differ_and_one_process_does_not():
    # Between-process spread twice the within-process one: what the issue saw on this machine.
    hier, single = _coverage(processes=10, between=4.0, trials=300, seed=11)
    assert hier >= 0.88
    assert single <= 0.5  # one process's calls cannot see the other processes' offsets


def test_interval_near_nominal_without_between_process_spread():
    hier, single = _coverage(processes=5, between=0.0, trials=300, seed=12)
    assert 0.90 <= hier <= 0.995
    assert single >= 0.90


def test_equal_distributions_are_rarely_significant_shifted_ones_always():
    rng = np.random.default_rng(5)
    false_pos = 0
    for t in range(100):
        a = _processes(rng, 3, 40, 50.0, 1.0, 2.0)
        b = _processes(rng, 3, 40, 50.0, 1.0, 2.0)
        false_pos += speedup(a, b, resamples=500, seed=t).significant
    assert false_pos <= 10
    for t in range(20):
        base = _processes(rng, 3, 40, 60.0, 0.5, 2.0)
        new = _processes(rng, 3, 40, 50.0, 0.5, 2.0)
        r = speedup(base, new, resamples=500, seed=t)
        assert r.significant and r.ci95_low > 1.0
        assert r.value == pytest.approx(1.2, rel=0.05)


def test_ratio_text_and_json_round_trip():
    rng = np.random.default_rng(3)
    a = _processes(rng, 3, 40, 50.0, 0.2, 1.0)
    r = speedup([g * 1.3 for g in a], a)
    assert r.significant and r.text().startswith("1.30x, faster (95% CI ")
    slower = speedup(a, [g * 1.3 for g in a])
    assert slower.significant and slower.text().startswith("0.77x, slower (95% CI ")
    same = speedup(a, a)
    assert not same.significant and same.value == 1.0
    assert same.text().startswith("no significant difference (1.00x, 95% CI ")
    d = json.loads(json.dumps(r.to_dict()))
    assert d["significant"] is True and d["text"] == r.text()
    assert Ratio.from_dict(d) == r


def test_results_are_deterministic_for_a_seed():
    rng = np.random.default_rng(4)
    a = _processes(rng, 4, 25, 10.0, 1.0, 1.0)
    assert summarize_processes(a) == summarize_processes(a)
    assert speedup(a, a[::-1]) == speedup(a, a[::-1])
    assert summarize_processes(a, seed=1).ci95_low != summarize_processes(a, seed=2).ci95_low


def test_spreads_and_counts_per_process():
    groups = [np.array([1.0, 3.0, 5.0]) + 100 * i for i in range(3)]
    s = summarize_processes(groups)
    assert s.processes == 3 and s.n == 9 and s.n_per_process == (3, 3, 3)
    assert s.within_stdev == pytest.approx(2.0)        # each process: stdev of 1,3,5
    assert s.between_stdev == pytest.approx(100.0)     # medians 3, 103, 203
    assert "hierarchical bootstrap over 3 processes" in s.ci_method
    assert any("medians of the 3 processes differ" in w for w in s.warnings)
    one = summarize_processes(groups[:1])
    assert one.processes == 1 and one.between_stdev is None
    assert any("one process" in n for n in one.notes)


@pytest.mark.parametrize(("n", "p90", "p99"), [(9, False, False), (10, True, False),
                                               (99, True, False), (100, True, True)])
def test_percentiles_only_where_the_sample_supports_them(n, p90, p99):
    s = summarize(np.arange(1, n + 1, dtype=float))
    assert (s.p90 is not None, s.p99 is not None) == (p90, p99)
    assert any("p99 not given" in note for note in s.notes) == (not p99)
    assert any("p90 not given" in note for note in s.notes) == (not p90)
    d = s.to_dict("ms")
    assert (d["p99"] is None) == (not p99)
    assert Stats.from_dict(json.loads(json.dumps(d))) == s


def test_schema1_stats_dict_still_loads():
    old = {"n": 3, "min": 1.0, "max": 3.0, "median": 2.0, "mean": 2.0, "stdev": 1.0, "p90": 2.8,
           "p99": 2.98, "mad": 1.0, "ci95_low": 1.0, "ci95_high": 3.0, "q1": 1.5, "q3": 2.5,
           "outliers": 0, "warnings": [], "unit": "ms"}
    s = Stats.from_dict(old)
    assert s.processes == 1 and s.between_stdev is None and s.median == 2e6


def test_thinned_processes_keep_their_distribution():
    rng = np.random.default_rng(9)
    big = [rng.normal(100, 5, 5000) for _ in range(2)]
    med = bootstrap.hierarchical_medians(big, 200, np.random.default_rng(0))
    assert np.median(med) == pytest.approx(np.median(np.concatenate(big)), rel=0.01)


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="at least one"):
        summarize_processes([[], []])
    with pytest.raises(ValueError, match="> 0"):
        speedup([[1.0, -2.0]], [[1.0, 2.0]])
