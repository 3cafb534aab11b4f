"""Timing processes of one configuration pooled into one record; speedups with intervals."""

from __future__ import annotations

import numpy as np
import pytest

from mxprof.render.tables import ratio_cell
from mxprof.timing.pooled import pooled_latency, ratio
from mxprof.timing.stats import summarize


def _worker(samples_ms):
    """What one timing worker writes: Stats.to_dict("ms") plus samples and protocol."""
    s = summarize(np.asarray(samples_ms) * 1e6).to_dict("ms")
    return {**s, "samples_ms": list(samples_ms), "first_call_ms": 30.0,
            "protocol": {"warmup": 2, "iterations": len(samples_ms)}}


def _runs(rng, centre, processes=3, calls=40):
    return [_worker(rng.normal(centre + rng.normal(0, 0.05), 0.1, calls)) for _ in range(processes)]


def test_processes_are_pooled_with_their_spread():
    rng = np.random.default_rng(0)
    runs = _runs(rng, 5.0)
    lat = pooled_latency(runs)
    allc = np.concatenate([r["samples_ms"] for r in runs])
    assert lat["n"] == 120 and lat["processes"] == 3 and lat["n_per_process"] == [40, 40, 40]
    assert lat["median"] == pytest.approx(np.median(allc))
    assert lat["p90"] is not None and lat["p99"] is not None
    assert lat["ci95_low"] < lat["median"] < lat["ci95_high"]
    assert "hierarchical bootstrap" in lat["ci_method"]
    assert lat["per_process_median_ms"] == pytest.approx([np.median(r["samples_ms"]) for r in runs])
    assert lat["first_call_ms"] == 30.0 and lat["protocol"]["warmup"] == 2


def test_speedup_of_a_real_difference_and_of_none():
    rng = np.random.default_rng(1)
    on, off = pooled_latency(_runs(rng, 5.0)), pooled_latency(_runs(rng, 10.0))
    r = ratio(off, on, "latency")
    assert r.significant and r.value == pytest.approx(2.0, rel=0.05)
    assert ratio_cell(r.to_dict()) == f"{r.value:.2f}x"
    same = ratio(pooled_latency(_runs(rng, 5.0)), on, "latency")
    assert not same.significant and ratio_cell(same.to_dict()).startswith("n.s. ")


def test_files_without_samples_keep_their_figures_and_get_no_interval():
    old = {"median": 4.0, "n": 30, "p90": 5.0, "p99": 6.0}
    assert pooled_latency([old])["median"] == 4.0
    assert ratio(old, old, "latency") is None
    assert ratio_cell(None, 1.5) == "1.50x"


def test_negative_framework_overhead_is_flagged_not_printed():
    from mxprof.jobs.profile.report import coverage
    from mxprof.render.tables import layer_table
    rows = [{"name": "conv0", "op": "Convolution", "ms": 6.0, "output_shape": [1, 8, 4, 4]},
            {"name": "fc", "op": "FullyConnected", "ms": 2.0, "output_shape": [1, 10]}]
    ok = coverage(rows, 10.0)
    assert ok["overhead_ms"] == 2.0 and ok["overhead_plausible"] and "implausible" not in ok
    bad = coverage(rows, 5.8)
    assert not bad["overhead_plausible"] and "not measurable" in bad["implausible"]
    foot = layer_table({"layers": rows, "coverage": bad}, "t").footnote
    assert "implausible" in foot and "-2.20" not in foot and "overhead -" not in foot


def test_sample_level_pooling_is_the_one_every_job_uses():
    from mxprof.timing.pooled import pooled_stats, ratio_of

    rng = np.random.default_rng(3)
    slow = [rng.normal(10.0, 0.1, 30) for _ in range(3)]
    fast = [rng.normal(8.0, 0.1, 30) for _ in range(3)]
    s = pooled_stats([*slow, []])  # an empty process is skipped, not a process
    assert s.processes == 3 and s.n == 90 and "hierarchical bootstrap" in s.ci_method
    r = ratio_of(slow, fast, "gain")
    assert r.significant and r.processes == (3, 3) and r.value == pytest.approx(1.25, rel=0.02)
    assert pooled_stats([[], []]) is None and ratio_of([], fast) is None
    # A backwards clock (a negative sample) gives no interval instead of an exception.
    assert ratio_of([[1.0, -2.0]], fast) is None
    assert pooled_stats([[1.0, -2.0], [1.0, 2.0]]).processes == 1
