"""Comparison metrics (mxprof.jobs.accuracy.metrics) and report records: pure functions, no MXNet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mxprof.jobs.accuracy import metrics as m
from mxprof.jobs.accuracy.execute import plan_configs
from mxprof.jobs.accuracy.records import (
    AccuracyReport,
    ConfigResult,
    int8_summary,
    latency_stats,
)


def test_max_abs_and_rel_diff_by_hand():
    ref = np.array([[10.0, -2.0, 0.0, 4.0]])
    out = np.array([[10.5, -2.0, 0.0, 3.0]])
    assert m.max_abs_diff(out, ref) == 1.0
    # |3-4|/4 = 0.25 beats |10.5-10|/10 = 0.05; the zero element uses the floor, no 0/0.
    assert m.max_rel_diff(out, ref) == pytest.approx(0.25)


def test_rel_diff_floor_keeps_near_zero_reference_finite():
    ref = np.array([1.0, 1e-12])
    out = np.array([1.0, 2e-12])
    # floor = 1e-6 * max|ref| = 1e-6, so 1e-12 / 1e-6 = 1e-6, not 1.0 (100 %).
    assert m.max_rel_diff(out, ref) == pytest.approx(1e-6)


def test_all_zero_reference():
    z = np.zeros(3)
    assert m.max_rel_diff(z, z) == 0.0
    assert m.max_rel_diff(z + 1e-3, z) == float("inf")


def test_nan_is_never_within_tolerance():
    ref = np.ones(4)
    out = ref.copy()
    out[2] = np.nan
    assert not m.within_tolerance(out, ref)
    assert np.isnan(m.max_abs_diff(out, ref))


def test_tolerance_is_relative_to_output_scale():
    tol = m.Tolerance(rtol=1e-3, atol=1e-4)
    tiny = np.array([1e-16, -3e-17, 5e-18])
    # A 1% error on logits near 1e-16 must fail, although it is 1e-18 in absolute terms.
    assert not m.within_tolerance(tiny * 1.01, tiny, tol)
    assert m.within_tolerance(tiny * (1 + 1e-4), tiny, tol)
    big = np.array([2000.0, -1500.0, 0.01])
    # The near-zero element may move by atol * max|ref| = 0.2.
    assert m.within_tolerance(big + np.array([1.0, -1.0, 0.15]), big, tol)
    assert not m.within_tolerance(big + np.array([0.0, 0.0, 0.25]), big, tol)


def test_topk_accuracy_by_hand():
    scores = np.array([[0.1, 0.7, 0.2],
                       [0.5, 0.3, 0.2],
                       [0.2, 0.3, 0.5]])
    labels = np.array([1, 1, 0])
    assert m.topk_accuracy(scores, labels, 1) == pytest.approx(1 / 3)
    assert m.topk_accuracy(scores, labels, 2) == pytest.approx(2 / 3)
    assert m.topk_accuracy(scores, labels, 5) == 1.0  # k above the class count: all classes


def test_topk_agreement_compares_sets_not_order():
    a = np.array([[5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5]], dtype=float)
    b = np.array([[4, 5, 3, 2, 1, 0], [0, 1, 2, 4, 3, 5]], dtype=float)
    assert m.topk_agreement(a, b, 1) == 0.5  # row 0 argmax differs, row 1 agrees
    assert m.topk_agreement(a, b, 5) == 1.0  # same top-5 sets in both rows


def test_ties_break_the_same_way_everywhere():
    s = np.array([[1.0, 1.0, 0.0]])
    assert m.topk_indices(s, 1).tolist() == [[0]]
    assert m.topk_agreement(s, s.copy(), 1) == 1.0


def test_shape_mismatch_and_empty_input_are_errors():
    with pytest.raises(ValueError, match="shape"):
        m.max_abs_diff(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="zero inputs"):
        m.topk_accuracy(np.zeros((0, 3)), np.zeros(0), 1)
    with pytest.raises(ValueError, match="labels"):
        m.topk_accuracy(np.zeros((2, 3)), np.zeros(3), 1)


def test_compare_outputs_multi_output_and_round_trip():
    rng = np.random.RandomState(0)
    ref = [rng.standard_normal((6, 10)), rng.standard_normal((6, 4, 2))]
    out = [ref[0] + 1e-7, ref[1].copy()]
    out[1][0, 0, 0] += 0.5
    cmp = m.compare_outputs("b", out, "a", ref)
    assert cmp.count == 6
    assert [o.within_tolerance for o in cmp.outputs] == [True, False]
    assert cmp.max_abs_diff == pytest.approx(0.5)
    assert not cmp.within_tolerance
    assert cmp.top1_agreement == 1.0
    again = m.Comparison.from_dict(json.loads(json.dumps(cmp.to_dict())))
    assert again == cmp


def test_non_classifier_output_has_no_topk():
    ref = [np.ones((3, 1))]
    cmp = m.compare_outputs("b", ref, "a", ref)
    assert cmp.top1_agreement is None and cmp.top5_agreement is None


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(2, 12)),
                  elements=st.floats(-1e3, 1e3, width=32)))
def test_identical_outputs_agree_fully(a):
    assert m.max_abs_diff(a, a.copy()) == 0.0
    assert m.max_rel_diff(a, a.copy()) == 0.0
    assert m.within_tolerance(a, a.copy())
    assert m.topk_agreement(a, a.copy(), 1) == 1.0
    assert m.topk_agreement(a, a.copy(), 5) == 1.0


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 9)),
                  elements=st.floats(-1e3, 1e3)),
       st.integers(0, 2**31 - 1))
def test_topk_accuracy_matches_a_direct_count(scores, seed):
    labels = np.random.RandomState(seed).randint(0, scores.shape[1], scores.shape[0])
    for k in (1, 3):
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        direct = np.mean([labels[i] in order[i] for i in range(len(labels))])
        assert m.topk_accuracy(scores, labels, k) == pytest.approx(direct)


def test_plan_always_starts_with_the_reference():
    plans = plan_configs(["mkldnn-fused"], ["naive", "entropy"])
    assert [p.name for p in plans] == ["mkldnn-off", "mkldnn-fused", "int8-naive",
                                       "int8-entropy"]
    assert plans[0].env() == {"MXNET_MKLDNN_ENABLED": "0"}
    assert all(p.env() == {"MXNET_MKLDNN_ENABLED": "1"} for p in plans[1:])
    with pytest.raises(ValueError, match="unknown configuration"):
        plan_configs(["tensorrt"], [])


def test_busy_machine_note():
    from mxprof.cpu.load import load_record
    from mxprof.jobs.accuracy.execute import busy_machine_note

    quiet = load_record("mxprof accuracy m", wall_s=10, cpus=2, system_busy_s=20.5, own_s=20.0)
    assert busy_machine_note(quiet) is None and busy_machine_note(None) is None
    busy = load_record("mxprof accuracy m", wall_s=10, cpus=2, system_busy_s=26.0, own_s=20.0,
                       load_before=1.0, load_after=9.3)
    note = busy_machine_note(busy)
    assert "during mxprof accuracy m" in note and "1.0 -> 9.3" in note


def _lat(ms: float) -> dict:
    samples = (ms, ms, ms)
    return {"latency": latency_stats(samples), "samples_ms": samples}


def test_report_round_trip_and_int8_summary():
    cfgs = (
        ConfigResult("mkldnn-off", "plain", False, None, True, top1=0.9, top5=0.99,
                     max_abs_diff=0.0, max_rel_diff=0.0, within_tolerance=True,
                     top1_agreement=1.0, top5_agreement=1.0, **_lat(4.0)),
        ConfigResult("mkldnn-fused", "fused", True, None, True, top1=0.9, top5=0.99,
                     **_lat(2.0)),
        ConfigResult("int8-naive", "int8", True, "naive", True, top1=0.88, top5=0.99,
                     **_lat(0.5)),
        ConfigResult("int8-none", "int8", True, "none", False, error="worker exit 1: boom"),
    )
    report = AccuracyReport(model={"name": "x", "input_shape": [3, 8, 8]}, param_count=10,
                            weights="user", inputs={"kind": "random", "count": 3},
                            tolerance=m.Tolerance(), configs=cfgs, comparisons=(),
                            calibration=None, environment={"mxnet": "1.9.1"})
    rows = int8_summary(report)
    assert len(rows) == 1  # the failed INT8 row has nothing to compare
    assert rows[0]["fp32_config"] == "mkldnn-fused"
    assert rows[0]["top1_delta"] == pytest.approx(-0.02)
    assert rows[0]["speedup"] == pytest.approx(4.0)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["schema"] == 1
    assert {"name", "top1", "top5", "max_abs_diff", "max_rel_diff",
            "top1_agreement"} <= set(d["configs"][0])
    assert AccuracyReport.from_dict(d) == report


def test_renderers_show_failures_and_reference_layout():
    from mxprof.render.accuracy import render_markdown

    cfgs = (ConfigResult("mkldnn-off", "plain", False, None, True, top1=0.5, top5=0.75),
            ConfigResult("mkldnn", "plain", True, None, False, error="worker signal 11: "))
    report = AccuracyReport(model={"name": "net", "input_shape": [3, 8, 8]}, param_count=1234,
                            weights="random", inputs={"kind": "random", "count": 2},
                            tolerance=m.Tolerance(), configs=cfgs, comparisons=(),
                            calibration=None, environment={}, notes=("weights are random",))
    text = render_markdown(report)
    assert "| net | 1,234 | 0.50000000 | 0.75000000 |" in text
    assert "mkldnn failed: worker signal 11" in text
    assert "note: weights are random" in text


def _timed(name: str, per_process) -> ConfigResult:
    from mxprof.jobs.accuracy.records import pooled_latency_stats
    return ConfigResult(name, "plain", True, None, True,
                        latency=pooled_latency_stats(per_process),
                        samples_ms=tuple(v for p in per_process for v in p))


def test_int8_speedup_carries_an_interval():
    from mxprof.jobs.accuracy.records import speedup_ratio
    rng = np.random.default_rng(0)
    fp32 = _timed("mkldnn-fused", [tuple(rng.normal(10.0, 0.1, 30))])
    int8 = _timed("int8-naive", [tuple(rng.normal(5.0, 0.05, 30))])
    r = speedup_ratio(fp32, int8)
    assert r["significant"] and r["value"] == pytest.approx(2.0, rel=0.02)
    assert "run-to-run noise not covered" in r["method"]
    assert not speedup_ratio(fp32, fp32)["significant"]
    assert speedup_ratio(_timed("x", []), int8) is None


def test_speedups_pool_the_timing_processes_of_each_configuration():
    """Before: one process per configuration, so no interval covered run-to-run noise."""
    from mxprof.jobs.accuracy.records import speedup_ratio, speedups
    rng = np.random.default_rng(1)
    ref = _timed("mkldnn-off", [tuple(rng.normal(10.0 + d, 0.1, 20)) for d in (0, 0.3, -0.2)])
    new = _timed("mkldnn", [tuple(rng.normal(5.0, 0.1, n)) for n in (20, 25, 30)])
    assert [len(p) for p in new.per_process()] == [20, 25, 30]
    assert new.latency.processes == 3 and new.latency.n_per_process == (20, 25, 30)
    r = speedup_ratio(ref, new)
    assert r["processes"] == [3, 3] and r["significant"]
    report = AccuracyReport(model={"name": "x", "input_shape": [3, 8, 8]}, param_count=1,
                            weights="random", inputs={"kind": "random", "count": 1},
                            tolerance=m.Tolerance(), configs=(ref, new), comparisons=(),
                            calibration=None, environment={})
    (row,) = speedups(report)
    assert row["config"] == "mkldnn" and row["ratio"] == r
    # The split survives the file: the per-process counts are in the saved latency record.
    again = AccuracyReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.configs[1].per_process() == new.per_process()


OLD_LATENCY = {"batch": 1, "warmup": 2, "iterations": 3, "median_ms": 2.0, "p25_ms": 1.5,
               "p75_ms": 2.5, "min_ms": 1.0}


@pytest.mark.parametrize("samples", [None, [1.0, 2.0, 3.0]])
def test_old_latency_dicts_load_as_statistics_records(samples):
    """Files written before the one statistics record: {median_ms, p25_ms, ...} latencies,
    with or without their samples, load and render; with samples the record is exact."""
    from mxprof.render.accuracy import render_markdown

    old = {**OLD_LATENCY, **({"samples_ms": samples} if samples else {})}
    cfg = {"name": "mkldnn-off", "kind": "plain", "mkldnn": False, "calib_mode": None,
           "ok": True, "latency": old}
    report = AccuracyReport.from_dict({
        "schema": 1, "model": {"name": "m", "input_shape": [3, 8, 8]}, "param_count": 1,
        "weights": "random", "inputs": {"kind": "random", "count": 3},
        "tolerance": m.Tolerance().to_dict(), "configs": [cfg], "comparisons": [],
        "calibration": None, "environment": {}})
    (c,) = report.configs
    assert c.latency.median == pytest.approx(2e6) and c.latency.n == 3
    assert report.timing == {"batch": 1, "warmup": 2, "iterations": 3}
    assert (c.latency.ci95_low is None) == (samples is None)  # never an invented interval
    assert c.samples_ms == tuple(samples or ())
    text = render_markdown(report)
    assert "| mkldnn-off |" in text and "3 forward calls at batch 1" in text
    assert "2.000" in text
    again = AccuracyReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert again.configs[0].latency.median == pytest.approx(2e6)


def test_equivalence_on_vanishing_outputs_is_called_not_meaningful():
    from mxprof.jobs.accuracy import metrics
    tiny = np.full((4, 10), 1e-17) * np.arange(1, 11)
    comp = metrics.compare_outputs("mkldnn", [tiny * (1 + 1e-3)], "mkldnn-off", [tiny])
    assert comp.within_tolerance is not None
    reason = metrics.not_meaningful(comp)
    assert reason.startswith("not meaningful") and "1.0e-16" in reason
    normal = metrics.compare_outputs("mkldnn", [tiny * 1e16], "mkldnn-off", [tiny * 1e16])
    assert metrics.not_meaningful(normal) is None


def test_zoo_rnn_network_gets_the_rnn_reference_and_says_so():
    # GNMT from mxprof's zoo used to be planned with MXNET_MKLDNN_ENABLED=0 and reported as
    # "MXNet's own CPU kernels for every operator", while its worker switched to the RNN path.
    from mxprof.jobs.accuracy.execute import reference_for
    from mxprof.mx import models

    plans, account = reference_for(models.resolve("gnmt").to_dict(),
                                   plan_configs(["mkldnn"], []))
    assert plans[0].env() == {"MXNET_MKLDNN_ENABLED": "1", "MXNET_USE_MKLDNN_RNN": "0"}
    assert account["env"] == plans[0].env() and "RNN layers" in account["why"]
    plans, account = reference_for(models.resolve("resnet18_v1").to_dict(),
                                   plan_configs(["mkldnn"], []))
    assert plans[0].env() == account["env"] == {"MXNET_MKLDNN_ENABLED": "0"}


def test_every_renderer_shows_the_reference_note():
    import html
    import io

    from rich.console import Console

    from mxprof.mx.models import RNN_REFERENCE_NOTE
    from mxprof.render.accuracy import render_markdown, render_terminal
    from mxprof.render.html.accuracy import render as render_html

    cfgs = (ConfigResult("mkldnn-off", "plain", True, None, True, max_abs_diff=0.0),)
    report = AccuracyReport(model={"name": "gnmt", "input_shape": [50]}, param_count=10,
                            weights="random", inputs={"kind": "random", "count": 2},
                            tolerance=m.Tolerance(), configs=cfgs, comparisons=(),
                            calibration=None, environment={},
                            reference_note=RNN_REFERENCE_NOTE)
    out = io.StringIO()
    render_terminal(report, Console(file=out, width=400))
    for text in (out.getvalue(), render_markdown(report), render_html(report)):
        # The page escapes the note's apostrophe; the terminal may wrap it.
        assert f"reference note: {RNN_REFERENCE_NOTE}" in " ".join(html.unescape(text).split())
    back = AccuracyReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.reference_note == RNN_REFERENCE_NOTE
    quiet = AccuracyReport.from_dict({**report.to_dict(), "reference_note": None})
    assert "reference note" not in render_markdown(quiet)
