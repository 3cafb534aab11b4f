"""Diagnosis rules: each triggered by a purpose-built tiny net, none by a healthy one.

The nets are in fixtures/diagnosis_nets.py (exported to symbol + params, random weights).
Unit tests cover the shared primitive tests and the thread count on hand-made inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mxprof.cpu.threads import thread_usage
from mxprof.onednn import findings
from schema_check import assert_matches_schema

NETS = Path(__file__).parent / "fixtures" / "diagnosis_nets.py"
CPUS = len(os.sched_getaffinity(0))


def test_subnormal_count_uses_fp32_smallest_normal():
    values = np.array([0.0, 1e-39, -5e-40, 1.2e-38, 1.0, -1e-45], dtype=np.float32)
    # 1e-39, -5e-40 and -1e-45 (rounded to the smallest subnormal) lie below 1.1755e-38.
    assert findings.subnormal_count(values) == 3
    found = findings.parameter_subnormals({"a_alpha": values, "b_weight": np.ones(4),
                                           "c_index": np.arange(4)})
    assert [(f["param"], f["subnormal"], f["size"]) for f in found] == [("a_alpha", 3, 6)]


@pytest.mark.parametrize("kind,impl,slow", [
    ("lrn", "lrn_ref:any", True), ("sum", "ref:any", True), ("reorder", "simple:any", True),
    ("convolution", "gemm:blas", True), ("reorder", "jit:uni", False),
    ("convolution", "brgconv:avx512_core", False), ("inner_product", "x64:gemm:jit", False),
])
def test_reference_implementations(kind, impl, slow):
    assert findings.is_reference_impl(kind, impl) is slow


def test_memory_tags_of_v1_and_v36_descriptors():
    assert findings.memory_tags("src_f32::blocked:abcd:f0 wei_f32::blocked:Acdb64a:f0") == {
        "src": "abcd", "wei": "Acdb64a"}
    assert findings.memory_tags("src:f32::blocked:ab::f0 wei:f32:ap:blocked:BA16a64b::f0") == {
        "src": "ab", "wei": "BA16a64b"}
    assert findings.is_weight_reorder("reorder", "src_f32::blocked:abcd:f0 "
                                                 "dst_f32::blocked:Acdb64a:f0")


def test_thread_usage_leaves_the_main_thread_out():
    before = {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    after = {1: 0.9, 2: 1.0, 3: 0.3, 4: 0.01}  # 1 = main; 3 has 30% of the busiest (2)
    u = thread_usage(before, after, 1.0, cpus_bound=4, main_tid=1)
    assert u["busy_threads"] == 2 and u["main_cpu_s"] == pytest.approx(0.9)
    assert u["parallelism"] == pytest.approx(2.21)


# ---- end to end on tiny nets ------------------------------------------------------------

@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    out = tmp_path_factory.mktemp("nets")
    subprocess.run([sys.executable, str(NETS), str(out)], check=True, timeout=300)
    return out, tmp_path_factory.mktemp("cache")


def _profile(nets, name: str, *extra: str) -> dict:
    from conftest import run_cli
    out, cache = nets
    result = out / f"{name}-{'-'.join(extra) or 'default'}.json"
    proc = run_cli("profile", "--symbol", str(out / f"{name}-symbol.json"), "--params",
                   str(out / f"{name}-0000.params"), "--shape", "3,32,32", "--no-reference",
                   "--checks", "none", "--min-time", "0.1", "--batch-size", "1",
                   # The findings come from one worker's readings: the spread between
                   # processes is not what these tests check.
                   "--processes", "1",
                   "--json", str(result), *extra, env={"MXPROF_CACHE": str(cache)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(result.read_text())
    # Roofline, findings and primitives are typed in the published schema: real ones must fit.
    assert_matches_schema("profile", report)
    return report


def _rules(report: dict) -> dict[str, dict]:
    return {f["rule"]: f for f in report["findings"]}


@pytest.mark.slow
def test_healthy_net_triggers_no_rule_and_has_a_roofline(nets):
    report = _profile(nets, "healthy", "--threads", str(CPUS))
    assert report["findings"] == []
    roof = report["roofline"]
    # healthy is the first net exported: its layers are numbered from 0.
    assert {r["layer"] for r in roof["layers"] if r["layer_op"] == "Convolution"} == {
        "conv0_fwd", "conv1_fwd"}
    assert all(r["bound"] in ("compute-bound", "memory-bound", "overhead-bound")
               for r in roof["layers"])
    assert roof["headroom"]["roof_ms"] > 0 and roof["ceilings"]["bandwidth_gbs"] > 0


@pytest.mark.slow
def test_subnormal_prelu_slopes_are_found(nets):
    report = _profile(nets, "subnormal", "--threads", str(CPUS))
    found = _rules(report)["subnormal_parameters"]
    assert "prelu0_alpha" in found["evidence"] and "100%" in found["evidence"]
    assert any("prelu" in layer for layer in found["layers"])
    assert "set_data" in found["fix"]


@pytest.mark.slow
def test_reference_lrn_is_found(nets):
    report = _profile(nets, "reference", "--threads", str(CPUS), "--passes", "timing,primitives")
    found = _rules(report)["reference_kernels"]
    assert "lrn_ref" in found["evidence"] and "LRN" in found["fix"]


@pytest.mark.slow
@pytest.mark.skipif(CPUS < 2, reason="needs 2 CPUs to run fewer threads than CPUs")
def test_fewer_threads_than_cpus_is_found(nets):
    report = _profile(nets, "healthy", "--threads", "1", "--passes", "timing")
    found = _rules(report)["threads_idle"]
    assert f"of {CPUS} CPUs bound" in found["evidence"]
    assert f"--threads {CPUS}" in found["fix"]
    assert report["threads"]["busy_threads"] == 1


@pytest.mark.slow
@pytest.mark.skipif(CPUS < 2, reason="needs 2 CPUs to run fewer threads than CPUs")
def test_try_fixes_times_each_fix_before_and_after(nets):
    report = _profile(nets, "subnormal", "--threads", "1", "--passes", "timing,primitives",
                      "--try-fixes")
    rules = _rules(report)
    for rule, applied in (("threads_idle", f"OMP threads {CPUS}"),
                          ("subnormal_parameters", "subnormal values zeroed")):
        m = rules[rule]["effect"]["measured"]
        assert applied in m["fix_applied"] and m["error"] is None
        assert m["before_ms"] > 0 and m["after_ms"] > 0
        assert m["speedup"] == pytest.approx(m["before_ms"] / m["after_ms"])
    assert "fix not tried" not in json.dumps(report["findings"])


def test_small_inner_product_rule_on_a_real_line():
    """The fc of the real resnet18 log: mb1ic512oc1000 in 4.6 ms. With 100 GFLOP/s and 10 GB/s
    the ridge is 10 FLOP/B; intensity 2*B*512*1000 / (4*(512*B + 512*1000 + 1000*B)) is 7.6 at
    B=16 and 14.6 at B=32: the compute roof is reached from batch 32."""
    from mxprof.jobs.profile import diagnose
    from mxprof.onednn import roofline, verbose
    from mxprof.onednn.roofline import Ceilings
    from mxprof.onednn.work import primitive_work
    ceil = Ceilings({"f32": 100.0, "int8": 400.0}, 10.0, "test")
    log = verbose.parse(str(Path(__file__).parent / "fixtures" / "verbose" /
                            "mxnet191_dnnl_v2.4.4_ts_level1.log"))
    rows = log.exec()
    fc = rows[rows["kind"] == "inner_product"].head(1).assign(layer="dense0_fwd",
                                                             layer_op="FullyConnected")
    prims = roofline.add_roofline(primitive_work(fc, 1), ceil, calls="calls")
    (found,) = diagnose.small_gemm_below_roof({}, prims, ceil)
    assert found.layers == ("dense0_fwd",) and "from batch 32" in found.fix
    conv = rows[rows["kind"] == "convolution"].head(1).assign(layer="c", layer_op="Convolution")
    other = roofline.add_roofline(primitive_work(conv, 1), ceil, calls="calls")
    assert diagnose.small_gemm_below_roof({}, other, ceil) == []


def test_same_shape_rule_flags_the_slow_copy_only():
    """One real convolution line in two layers, the second ten times slower (what subnormal
    inputs do): only the second is flagged; equal copies flag nothing."""
    from mxprof.jobs.profile import diagnose
    from mxprof.onednn import roofline, verbose
    from mxprof.onednn.roofline import Ceilings
    from mxprof.onednn.work import primitive_work
    ceil = Ceilings({"f32": 100.0, "int8": 400.0}, 10.0, "test")
    rows = verbose.parse(str(Path(__file__).parent / "fixtures" / "verbose" /
                             "mxnet191_dnnl_v2.4.4_ts_level1.log")).exec()
    conv = rows[rows["kind"] == "convolution"].head(1)
    fast, slow = conv.assign(layer="conv_a"), conv.assign(layer="conv_b")
    slow = slow.assign(time_ms=slow["time_ms"] * 10)
    both = roofline.add_roofline(primitive_work(pd.concat([fast, slow]), 1), ceil,
                                 calls="calls")
    (found,) = diagnose.same_shape_below_roof({}, both)
    assert found.layers == ("conv_b",)
    assert found.cost_ms == pytest.approx(float(conv["time_ms"].iloc[0]) * 9)
    equal = roofline.add_roofline(primitive_work(
        pd.concat([fast, conv.assign(layer="conv_c")]), 1), ceil, calls="calls")
    assert diagnose.same_shape_below_roof({}, equal) == []
