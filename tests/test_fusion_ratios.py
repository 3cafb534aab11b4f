"""Fusion comparisons as ratios with intervals; gains at the log's resolution are flagged."""

from __future__ import annotations

import numpy as np
import pytest

from mxprof.jobs.fusion.ratios import LOG_RESOLUTION_MS, group_ratio, latency_ratio


def test_gain_over_rounds_is_significant_only_when_real():
    rng = np.random.default_rng(0)
    unfused = [rng.normal(10.0, 0.1, 40) for _ in range(3)]
    fused = [rng.normal(8.0, 0.1, 40) for _ in range(3)]
    r = latency_ratio(unfused, fused, "gain")
    assert r["significant"] and r["value"] == pytest.approx(1.25, rel=0.02)
    same = latency_ratio(unfused, [rng.normal(10.0, 0.1, 40) for _ in range(3)], "gain")
    assert not same["significant"] and same["text"].startswith("no significant difference")
    assert latency_ratio([], fused, "gain") is None


def test_group_gain_at_the_log_resolution_is_not_a_figure():
    unfused = {"conv": [0.001, 0.001, 0.001], "relu": [0.0, 0.0, 0.0]}
    fused = {"conv_relu": [0.0, 0.0, 0.0]}
    out = group_ratio(unfused, fused, ["conv", "relu"], "conv_relu")
    assert out["gain_ratio"] is None and f"({LOG_RESOLUTION_MS} ms)" in out["implausible"]
    big = {"conv": [0.50, 0.52, 0.51, 0.50], "relu": [0.10, 0.11, 0.10, 0.10]}
    ok = group_ratio(big, {"conv_relu": [0.40, 0.41, 0.40, 0.40]}, ["conv", "relu"], "conv_relu")
    assert ok["implausible"] is None and ok["gain_ratio"]["value"] == pytest.approx(1.5, rel=0.03)
    missing = group_ratio(big, {}, ["conv"], "conv_relu")
    assert missing["gain_ratio"] is None and "no primitive" in missing["implausible"]


def test_switch_cost_inside_the_noise_is_shown_as_no_difference():
    from mxprof.render.fusion import _cost
    rng = np.random.default_rng(1)
    ref = rng.normal(20.0, 1.0, 30)
    off = rng.normal(20.0, 1.0, 30)
    report = {"pattern_ratios": {"MXNET_DISABLE_X": latency_ratio([off], [ref], "pattern cost")}}
    p = {"switch": "MXNET_DISABLE_X", "cost_ms": -2.24, "clear": False}
    assert _cost(report, p) == "no significant difference"
    assert _cost({}, p) == "-2.240 ms ~"  # files written before the intervals


def test_group_gain_pools_the_trace_processes():
    """Each trace process is one level of the bootstrap (before: one trace per graph)."""
    from mxprof.jobs.fusion.ratios import primitive_ratio

    rng = np.random.default_rng(2)
    unfused = [{"conv": rng.normal(0.5, 0.01, 10), "relu": rng.normal(0.1, 0.01, 10)}
               for _ in range(3)]
    fused = [{"conv_relu": rng.normal(0.4, 0.01, 10)} for _ in range(3)]
    out = group_ratio(unfused, fused, ["conv", "relu"], "conv_relu")
    assert out["gain_ratio"]["processes"] == [3, 3] and out["gain_ratio"]["significant"]
    both = primitive_ratio(unfused, fused, ["conv", "relu", "conv"], ["conv_relu"])
    assert both["gain_ratio"]["value"] > out["gain_ratio"]["value"]


def _trace(values_per_iteration):
    from mxprof.jobs.fusion.trace import Primitive, Trace

    prims = tuple(Primitive(i, "convolution", "jit", "", "", "", ms, node)
                  for i, values in enumerate(values_per_iteration) for node, ms in values.items())
    return Trace(prims, len(values_per_iteration), "v2", "avx512")


def test_pattern_row_times_are_the_statistic_its_ratio_bootstraps():
    """Before: the row summed per-group medians (8 ms here) while its ratio took the median of
    per-iteration sums (18 ms), so a loaded machine's spikes gave '+33%' beside '3.00x'."""
    from mxprof.jobs.fusion import gains
    from mxprof.jobs.fusion.assemble import _pattern_group_rows, _Runs

    nodes = [f"{k}{g}" for g in range(4) for k in ("c", "r")]
    # Every iteration one primitive is preempted (+10 ms), each group's in a quarter of them.
    unfused = [_trace([{n: 1.0 + 10.0 * (n == nodes[(2 * i) % 8]) for n in nodes}
                       for i in range(8)]) for _ in range(2)]
    fused = [_trace([{f"f{g}": 1.5 for g in range(4)}] * 8) for _ in range(2)]
    groups = tuple(gains.FusedGroup(f"f{g}", "_sg_mkldnn_conv", "conv+relu",
                                    (f"c{g}", f"r{g}"), ("C", "A")) for g in range(4))
    from mxprof.jobs.fusion.trace import node_ms_per_iteration

    timings = gains.group_table(groups, [node_ms_per_iteration(t) for t in unfused],
                                [node_ms_per_iteration(t) for t in fused])
    runs = _Runs({}, {}, unfused_traces=unfused, fused_traces=fused)
    (row,) = _pattern_group_rows(timings, runs)
    assert row["unfused_ms"] == pytest.approx(18.0) and row["fused_ms"] == pytest.approx(6.0)
    assert row["gain_ratio"]["value"] == pytest.approx(row["unfused_ms"] / row["fused_ms"])
