"""Diagnosis rules, proven on real oneDNN logs of real runs (no synthetic logs for the verdicts)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mxprof.jobs.fusion import diagnose as fusion_diagnose
from mxprof.jobs.fusion import trace as fusion_trace
from mxprof.jobs.fusion.assemble import FusionOptions, _worker_env, run_worker

TINY = str(Path(__file__).parent / "fixtures" / "fusion_tinynet.py") + ":build"
SHAPE = [1, 3, 16, 16]


def _trace(fused: bool, static: bool) -> fusion_trace.Trace:
    opts = FusionOptions(model=TINY, shape=tuple(SHAPE))
    spec = {"model": TINY, "shape": SHAPE, "fused": fused, "static": static, "warmup": 2,
            "iterations": 4, "seed": 0, "trace": True}
    with tempfile.TemporaryDirectory() as tmp:
        result, log = run_worker(spec, _worker_env(opts, {"DNNL_VERBOSE": "1"}), Path(tmp),
                                 "trace", 300)
    return fusion_trace.build_trace(log, result["graph"])


@pytest.fixture(scope="module")
def traces():
    return {"static": _trace(True, True), "dynamic": _trace(True, False),
            "unfused": _trace(False, True)}


def test_weight_reorder_every_call_found_without_static_flags(traces):
    trace = traces["dynamic"]
    found = fusion_diagnose.weights_reordered_every_call(trace, "fused", "FIX")
    assert len(found) == 1
    f = found[0]
    assert f.severity == "high" and f.fix == "FIX" and f.ms_per_iteration > 0
    assert "sg_mkldnn_conv_bn_act_0" in f.nodes and "sg_mkldnn_conv_bn_add_act_1" in f.nodes
    assert "in all 4 measured iterations" in f.evidence


def test_weight_reorder_rule_silent_with_static_flags(traces):
    assert fusion_diagnose.weights_reordered_every_call(traces["static"], "fused", "x") == []
    findings = fusion_diagnose.diagnose(traces["static"], traces["unfused"])
    assert not [f for f in findings if f.rule == "weights_reordered_every_call"]


def test_diagnose_names_the_static_fix(traces):
    findings = fusion_diagnose.diagnose(traces["dynamic"], traces["unfused"], "gluon")
    top = findings[0]
    assert top.rule == "weights_reordered_every_call" and top.graph == "fused"
    assert "static_alloc=True, static_shape=True" in top.fix


def test_trace_assigns_every_steady_primitive_to_a_node(traces):
    for trace in traces.values():
        assert trace.iterations == 4
        assert trace.onednn_version.startswith("oneDNN v2")
        steady = trace.steady()
        assert steady and all(p.node for p in steady)
    nodes = {p.node for p in traces["static"].steady()}
    assert {"sg_mkldnn_conv_bn_act_0", "sg_mkldnn_conv_bn_add_act_1"} <= nodes
    unfused_kinds = {p.kind for p in traces["unfused"].steady() if p.node == "batchnorm0_fwd"}
    assert unfused_kinds == {"batch_normalization"}


def test_group_reason_reports_merged_post_ops(traces):
    reason = fusion_diagnose.group_reason(
        ("conv1_fwd", "batchnorm1_fwd", "tiny__plus0", "relu1_fwd"),
        "sg_mkldnn_conv_bn_add_act_1", traces["unfused"], traces["static"])
    assert reason.startswith("4 primitives -> 1")
    assert "post-ops sum+eltwise_relu" in reason and "bn folded into weights" in reason


def test_memory_tags_and_weight_layouts():
    mds = "src_f32::blocked:abcd:f0 dst_f32::blocked:Acdb64a:f0"
    assert fusion_diagnose.memory_tags(mds) == {"src": "abcd", "dst": "Acdb64a"}
    weight = fusion_trace.Primitive(0, "reorder", "jit:uni", mds, "", "64x3x7x7", 0.01)
    data = fusion_trace.Primitive(0, "reorder", "jit:uni",
                                  "src_f32::blocked:acdb:f0 dst_f32::blocked:aBcd16b:f0", "",
                                  "1x64x8x8", 0.01)
    assert fusion_diagnose.is_weight_reorder(weight)
    assert not fusion_diagnose.is_weight_reorder(data)


def test_weight_reorder_share_is_per_iteration(traces):
    trace = traces["dynamic"]
    (f,) = fusion_diagnose.weights_reordered_every_call(trace, "fused", "x")
    per_iter_total = sum(p.ms for p in trace.steady()) / trace.iterations
    share = float(f.evidence.split("= ")[1].split("%")[0])
    assert share == pytest.approx(f.ms_per_iteration / per_iter_total * 100, abs=0.1)


def test_busy_machine_finding_only_when_other_processes_took_the_cpus():
    from mxprof.cpu.load import load_record
    from mxprof.jobs.fusion.assemble import _busy_machine

    quiet = load_record("mxprof fusion m", wall_s=10, cpus=2, system_busy_s=20.5, own_s=20.0)
    assert _busy_machine(quiet) is None and _busy_machine(None) is None
    busy = load_record("mxprof fusion m", wall_s=10, cpus=2, system_busy_s=26.0, own_s=20.0)
    finding = _busy_machine(busy)
    assert finding.rule == "busy_machine" and finding.severity == "high"
    assert "during mxprof fusion m" in finding.evidence and "30%" in finding.evidence


# The first three exec lines come from a real resnet18_v1 64x64 unfused run on this machine
# (oneDNN 2.4.4); the last, a gemm convolution on plain layouts, is constructed in that format.
_REAL_LINES = """\
mxprof_iter,0
dnnl_verbose,exec,cpu,convolution,brgconv:avx512_core,forward_inference,src_f32::blocked:acdb:f0 wei_f32::blocked:Acdb32a:f0 bia_undef::undef::f0 dst_f32::blocked:acdb:f0,,alg:convolution_direct,mb1_ic512oc512_ih2oh2kh3sh1dh0ph1_iw2ow2kw3sw1dw0pw1,0.09
dnnl_verbose,exec,cpu,batch_normalization,bnorm_jit:avx512_common,forward_inference,data_f32::blocked:acdb:f0 diff_undef::undef::f0,,flags:GS,1x512x2x2,0.01
dnnl_verbose,exec,cpu,sum,ref:any,undef,src_f32::blocked:aBcd16b:f0 src_f32::blocked:acdb:f0 dst_f32::blocked:aBcd16b:f0,,,1x512x2x2,0.02
dnnl_verbose,exec,cpu,convolution,gemm:jit,forward_inference,src_f32::blocked:abcd:f0 wei_f32::blocked:abcd:f0 bia_undef::undef::f0 dst_f32::blocked:abcd:f0,,alg:convolution_direct,mb1_ic512oc512_ih2oh2kh3sh1dh0ph1_iw2ow2kw3sw1dw0pw1,0.3
mxprof_end
"""
_GRAPH = {"nodes": [{"op": "Convolution", "name": "c1"}, {"op": "BatchNorm", "name": "b1"},
                    {"op": "elemwise_add", "name": "plus0"}, {"op": "Convolution", "name": "c2"}]}


def test_reference_sum_and_plain_layout_rules_on_logged_lines():
    trace = fusion_trace.build_trace(_REAL_LINES, _GRAPH)
    assert [p.node for p in trace.steady()] == ["c1", "b1", "plus0", "c2"]
    (ref,) = fusion_diagnose.reference_kernels(trace, "unfused")
    assert ref.nodes == ("plus0",) and "1x sum ref:any" in ref.evidence
    assert "different layouts" in ref.fix
    (plain,) = fusion_diagnose.plain_layouts(trace, "unfused")
    assert plain.nodes == ("c2",) and "gemm:jit" in plain.evidence
