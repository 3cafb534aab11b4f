"""`mxprof diff`'s pure parts on small records: matching, significance, primitive changes and
environment differences (the profile records are built here; no MXNet runs)."""

from __future__ import annotations

import numpy as np

from mxprof.jobs.diff import changes
from mxprof.jobs.diff import layers as L


def _row(name, op, shape, samples):
    groups = [list(map(float, g)) for g in samples]
    return {"name": name, "op": op, "output_shape": shape,
            "ms": float(np.median(np.concatenate(groups))), "samples_ms": groups}


def test_match_by_name_then_by_operator_and_shape():
    a = [_row("a_conv0", "Convolution", [1, 8, 4, 4], [[1]]),
         _row("a_relu0", "Activation", [1, 8, 4, 4], [[1]]),
         _row("pool", "Pooling", [1, 8, 2, 2], [[1]]),
         _row("a_fc", "FullyConnected", [1, 10], [[1]])]
    b = [_row("b_conv0", "Convolution", [1, 8, 4, 4], [[1]]),
         _row("pool", "Pooling", [1, 8, 2, 2], [[1]]),
         _row("b_fc", "FullyConnected", [1, 10], [[1]]),
         _row("b_softmax", "softmax", [1, 10], [[1]])]
    pairs, only_a, only_b = L.match_layers(a, b, "name")
    assert [(x["name"], y["name"]) for x, y in pairs] == [("pool", "pool")]
    pairs, only_a, only_b = L.match_layers(a, b, "shape")
    assert [(x["name"], y["name"]) for x, y in pairs] == [
        ("pool", "pool"), ("a_conv0", "b_conv0"), ("a_fc", "b_fc")]
    assert [r["name"] for r in only_a] == ["a_relu0"]
    assert [r["name"] for r in only_b] == ["b_softmax"]


def test_significance_needs_the_interval_beyond_the_band():
    rng = np.random.default_rng(1)

    def noisy(ms, n=20, procs=2):
        return [ms * (1 + 0.02 * rng.standard_normal(n)) for _ in range(procs)]

    a = [_row("big", "Convolution", None, noisy(1.0)), _row("same", "Pooling", None, noisy(0.5)),
         _row("tiny", "Activation", None, noisy(0.001))]
    b = [_row("big", "Convolution", None, noisy(2.0)), _row("same", "Pooling", None, noisy(0.5)),
         _row("tiny", "Activation", None, noisy(0.002))]
    pairs, _, _ = L.match_layers(a, b)
    diffs = {d.name: d for d in L.compare_layers(pairs)}
    assert diffs["big"].significant and diffs["big"].diff_low > 0
    assert not diffs["same"].significant
    # Doubled, but 0.001 ms is below 1% of the model's layer time: not a cause worth naming.
    assert not diffs["tiny"].significant
    assert L.compare_layers(pairs)[0].name == "big"


def _prims(rows, reorders=()):
    return {"primitives": {"work": rows, "reorders": {"layers": list(reorders)}}}


def test_primitive_changes_implementation_reference_layout_reorders():
    conv = {"layer": "conv0", "kind": "convolution", "impl": "brgconv:avx512_core",
            "mds": "src_f32::blocked:acdb:f0", "ms": 0.1}
    a = _prims([conv, {"layer": "fc", "kind": "inner_product", "impl": "x64:gemm:jit",
                       "mds": "src_f32::blocked:ab:f0", "ms": 0.05}],
               [{"layer": "conv0", "conversions": ["f32 abcd -> f32 acdb"]}])
    b = _prims([{**conv, "impl": "ref:any", "ms": 0.9},
                {"layer": "fc", "kind": "inner_product", "impl": "x64:gemm:jit",
                 "mds": "src_f32::blocked:ba:f0", "ms": 0.05}],
               [{"layer": "fc", "conversions": ["f32 aBcd16b -> f32 abcd"]}])
    got = {(c.layer, c.what) for c in changes.primitive_changes(a, b, {"conv0": "conv0",
                                                                       "fc": "fc"})}
    assert got == {("conv0", "reference"), ("conv0", "reorder gone"), ("fc", "layout"),
                   ("fc", "reorder added")}
    ref = next(c for c in changes.primitive_changes(a, b, {"conv0": "conv0"})
               if c.what == "reference")
    assert (ref.a, ref.b, ref.ms_b) == ("brgconv:avx512_core", "ref:any", 0.9)


def test_environment_changes_name_versions_and_flags():
    def report(version, flags, threads):
        return {"environment": {"mxnet": {"version": version}, "env": flags,
                                "cpu_model": "X"}, "protocol": {"threads": threads}}
    a = report("1.9.1", {"MXNET_MKLDNN_ENABLED": "1", "PATH": "/a"}, 2)
    b = report("1.6.0", {"MXNET_MKLDNN_ENABLED": "1", "KMP_AFFINITY": "compact", "PATH": "/b"}, 1)
    got = {c.what: (c.a, c.b) for c in changes.environment_changes(a, b)}
    assert got == {"MXNet version": ("1.9.1", "1.6.0"), "OpenMP threads": ("2", "1"),
                   "KMP_AFFINITY": (None, "compact")}


def test_findings_of_one_side():
    a = {"findings": [{"rule": "reorders", "title": "r", "layers": ["x"]}]}
    b = {"findings": [{"rule": "reorders", "title": "r"}, {"rule": "ref_kernel", "title": "k"}]}
    assert [(f.rule, f.side) for f in changes.finding_changes(a, b)] == [("ref_kernel", "B only")]


def test_a_shift_of_every_layer_is_named():
    from mxprof.jobs.diff import run
    from mxprof.jobs.diff.plan import DiffPlan, Options

    def report(scale):
        rows = [_row(f"l{i}", "Convolution", None, [[scale * (i + 1)] * 12] * 2)
                for i in range(6)]
        return {"model": {"name": "m"}, "layers": rows}
    plan = DiffPlan(kind="diff", options=Options(a="a.json", b="b.json"), a=report(1.0),
                    b=report(2.0))
    result = run(plan)
    assert any("moved the same way (median A/B 0.50x)" in n for n in result.notes)
    plan = DiffPlan(kind="diff", options=Options(a="a.json", b="b.json"), a=report(1.0),
                    b=report(1.0))
    assert not any("moved the same way" in n for n in run(plan).notes)
