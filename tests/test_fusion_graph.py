"""Fusion membership on real MXNet graphs: each fused node maps back to the layers it absorbed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mxprof.jobs.fusion import gains as fusion
from mxprof.jobs.fusion.assemble import FusionOptions, _worker_env, run_worker

TINY = str(Path(__file__).parent / "fixtures" / "fusion_tinynet.py") + ":build"
SHAPE = [1, 3, 16, 16]


def _graph(fused: bool, env: dict | None = None) -> dict:
    opts = FusionOptions(model=TINY, shape=tuple(SHAPE))
    spec = {"model": TINY, "shape": SHAPE, "fused": fused, "static": True, "warmup": 1,
            "iterations": 2, "seed": 0}
    with tempfile.TemporaryDirectory() as tmp:
        result, _ = run_worker(spec, _worker_env(opts, env or {}), Path(tmp), "w", 300)
    return result["graph"]


@pytest.fixture(scope="module")
def graphs():
    return {"unfused": _graph(False), "fused": _graph(True),
            "no_conv_bn": _graph(True, {"MXNET_DISABLE_MKLDNN_FUSE_CONV_BN": "1"}),
            "no_fc_eltwise": _graph(True, {"MXNET_DISABLE_MKLDNN_FUSE_FC_ELTWISE": "1"})}


def test_every_fused_node_maps_to_its_original_layers(graphs):
    groups = {g.fused_node: g for g in fusion.fusion_groups(graphs["fused"])}
    by_pattern = {g.pattern: g for g in groups.values()}
    assert set(by_pattern) == {"conv+bn+relu", "conv+bn+sum+relu", "fc+relu", "fc"}
    assert by_pattern["conv+bn+relu"].members == ("conv0_fwd", "batchnorm0_fwd", "relu0_fwd")
    assert by_pattern["conv+bn+sum+relu"].member_ops == (
        "Convolution", "BatchNorm", "elemwise_add", "Activation")
    assert by_pattern["fc+relu"].members == ("dense0_fwd", "relu2_fwd")
    assert by_pattern["fc"].members == ("dense1_fwd",)
    assert all(g.op.startswith("_sg_mkldnn_") for g in groups.values())


def test_every_original_layer_is_in_exactly_one_group_or_unfused(graphs):
    groups = fusion.fusion_groups(graphs["fused"])
    cov = fusion.layer_coverage(groups, graphs["unfused"], graphs["fused"])
    originals = [name for name, _ in fusion.operator_nodes(graphs["unfused"])]
    assert cov.duplicated == ()
    assert sorted(originals) == sorted([*cov.grouped, *cov.unfused, *cov.removed])
    assert cov.removed == () and cov.unfused == ()  # everything in this net fuses


def test_resnet_pooling_stays_unfused():
    # A real zoo model: 66 of resnet18_v1's 68 operator nodes fuse, the two poolings do not.
    unfused = _graph_of("resnet18_v1", False)
    fused = _graph_of("resnet18_v1", True)
    groups = fusion.fusion_groups(fused)
    cov = fusion.layer_coverage(groups, unfused, fused)
    assert cov.unfused == ("resnetv10_pool0_fwd", "resnetv10_pool1_fwd")
    assert len(cov.grouped) == 66 and cov.duplicated == () and cov.removed == ()
    assert fusion.pattern_counts(groups) == {
        "conv+bn+relu": 9, "conv+bn+sum+relu": 8, "conv+bn": 3, "fc": 1}


def _graph_of(model: str, fused: bool) -> dict:
    opts = FusionOptions(model=model, shape=(1, 3, 32, 32))
    spec = {"model": model, "shape": [1, 3, 32, 32], "fused": fused, "static": True,
            "warmup": 0, "iterations": 1, "seed": 0}
    with tempfile.TemporaryDirectory() as tmp:
        return run_worker(spec, _worker_env(opts, {}), Path(tmp), "w", 300)[0]["graph"]


def test_conv_bn_switch_keeps_batchnorm_separate(graphs):
    ops = [op for _, op in fusion.operator_nodes(graphs["no_conv_bn"])]
    assert ops.count("BatchNorm") == 2
    patterns = fusion.pattern_counts(fusion.fusion_groups(graphs["no_conv_bn"]))
    assert not any("bn" in p for p in patterns)
    assert "bn" in "".join(fusion.pattern_counts(fusion.fusion_groups(graphs["fused"])))


def test_fc_eltwise_switch_keeps_relu_after_dense(graphs):
    patterns = fusion.pattern_counts(fusion.fusion_groups(graphs["no_fc_eltwise"]))
    assert "fc+relu" not in patterns and patterns["fc"] == 2
    assert "conv+bn+relu" in patterns  # the other patterns are untouched


def test_pattern_attribution_is_latency_difference():
    fused = fusion.summary_ms([9.5, 10.0, 10.5])
    off = {"MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM": (fusion.summary_ms([12.0, 12.5, 13.0]),
                                                  {"conv+bn": 3})}
    (effect,) = fusion.pattern_attribution({"MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM": fused}, off)
    assert effect.pattern == "conv+sum" and effect.cost_ms == pytest.approx(2.5)
    latency = effect.to_dict()["latency"]  # the one statistics record, in ms
    assert latency["unit"] == "ms" and latency["median"] == pytest.approx(12.5)
    assert latency["ci95_low"] == pytest.approx(12.0) and latency["ci95_high"] == 13.0


def test_group_table_sums_members_per_iteration():
    g = fusion.FusedGroup("sg0", "_sg_mkldnn_conv", "conv+relu", ("c", "r"),
                          ("Convolution", "Activation"))
    (row,) = fusion.group_table([g], {"c": [1.0, 2.0, 3.0], "r": [0.5, 0.5, 0.5]},
                                {"sg0": [1.0, 1.0, 1.0]})
    assert row.unfused_ms == pytest.approx(2.5) and row.fused_ms == 1.0
    d = row.to_dict()
    assert d["gain_ms"] == pytest.approx(1.5) and d["gain_percent"] == pytest.approx(60.0)
    assert d["unfused_spread"]["n"] == 3 and d["unfused_spread"]["unit"] == "ms"
    assert fusion.FusedGroup.from_dict(g.to_dict()) == g


def test_group_without_primitives_has_no_statistics():
    g = fusion.FusedGroup("sg0", "_sg_mkldnn_conv", "conv", ("c",), ("Convolution",))
    (row,) = fusion.group_table([g], {"c": [1.0, 2.0]}, {})
    assert row.fused is None and row.to_dict()["fused_spread"] is None
    assert row.gain_ms != row.gain_ms  # NaN: written as null by the strict JSON writer


def test_symbolic_path_fuses_only_with_the_backend_env():
    # The executor partitions with MKLDNN unless told NONE; the runner passes both explicitly.
    opts = FusionOptions(model=TINY, shape=tuple(SHAPE), path="symbolic")
    spec = {"model": TINY, "shape": SHAPE, "fused": False, "path": "symbolic", "warmup": 1,
            "iterations": 2, "seed": 0}
    graphs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("NONE", "MKLDNN"):
            env = _worker_env(opts, {"MXNET_SUBGRAPH_BACKEND": backend})
            graphs[backend] = run_worker(spec, env, Path(tmp), backend, 300)[0]["graph"]
    assert fusion.fusion_groups(graphs["NONE"]) == ()
    assert set(fusion.pattern_counts(fusion.fusion_groups(graphs["MKLDNN"]))) == {
        "conv+bn+relu", "conv+bn+sum+relu", "fc+relu", "fc"}


def test_gain_by_pattern_sums_groups():
    def timing(node, pattern, before, after):
        g = fusion.FusedGroup(node, "_sg_mkldnn_conv", pattern, (node + "_c",), ("Convolution",))
        return fusion.GroupTiming(g, fusion.summary_ms([before] * 3),
                                  fusion.summary_ms([after] * 3))

    rows = fusion.gain_by_pattern([timing("a", "conv+relu", 2.0, 1.0),
                                   timing("b", "conv+relu", 3.0, 2.5),
                                   timing("c", "fc", 1.0, 1.2)])
    assert [r["pattern"] for r in rows] == ["conv+relu", "fc"]
    assert rows[0]["groups"] == 2 and rows[0]["gain_ms"] == pytest.approx(1.5)
    assert rows[1]["gain_ms"] == pytest.approx(-0.2)


def test_workers_share_weights_and_inputs(tmp_path):
    # The fused worker loads the unfused worker's weights and draws the same input: same output.
    opts = FusionOptions(model=TINY, shape=tuple(SHAPE))
    params = str(tmp_path / "w.params")
    base = {"model": TINY, "shape": SHAPE, "static": True, "warmup": 0, "iterations": 1,
            "seed": 0, "output": True}
    first, _ = run_worker({**base, "fused": False, "params_out": params},
                          _worker_env(opts, {}), tmp_path, "a", 300)
    second, _ = run_worker({**base, "fused": True, "params_in": params},
                           _worker_env(opts, {}), tmp_path, "b", 300)
    assert first["output_sum"] == pytest.approx(second["output_sum"], rel=1e-4)
    assert first["output_sum"] != 0
