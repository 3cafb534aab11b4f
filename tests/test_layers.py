"""Per-layer timing on real MXNet (one worker process, see layer_scenarios.py) and the pure
functions that turn hook events into layer times and attribute oneDNN primitives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mxprof
from mxprof.mx import layers
from mxprof.mx.layers import GraphNode, LayerProfile
from mxprof.onednn import verbose
from mxprof.onednn.attribution import (
    attribute_primitives,
    reorder_report,
    summarize_by_layer,
    windows_frame,
)

SCENARIOS = Path(__file__).parent / "layer_scenarios.py"
# The mxprof under test (installed, or src/ in a development build), never the bare source tree.
SRC = Path(mxprof.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    out = tmp_path_factory.mktemp("layers")
    env = {**os.environ, **layers.LAYER_ENV, "DNNL_VERBOSE": "2", "DNNL_VERBOSE_TIMESTAMP": "1",
           "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(SCENARIOS), str(out)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    result["verbose_log"] = out / "resnet.verbose.log"
    return result


def parse_timed_lines(path: Path, categorical: bool) -> pd.DataFrame:
    """Minimal reader of oneDNN 2.4 timestamped primitive lines (the project parser lives in
    mxprof.onednn.verbose; this keeps the attribution tests independent of it). `categorical` gives
    the string columns that parser's dtype, and keeps creation lines as it does."""
    rows = []
    for line in path.read_text().splitlines():
        f = line.split(",")
        if len(f) == 12 and f[0] == "dnnl_verbose" and f[2].split(":")[0] in ("exec", "create"):
            if f[2] != "exec" and not categorical:
                continue
            rows.append({"timestamp_ms": float(f[1]), "operation": f[2].split(":")[0],
                         "kind": f[4], "impl": f[5], "prop_kind": f[6], "mds": f[7],
                         "problem": f[10], "time_ms": float(f[11])})
    frame = pd.DataFrame(rows)
    if categorical:
        for column in ("operation", "kind", "impl", "prop_kind", "mds", "problem"):
            frame[column] = frame[column].astype("category")
    else:
        frame = frame.drop(columns=["operation"])
    return frame


@pytest.mark.parametrize("impl", ["tiny_native", "tiny_python"])
def test_tiny_block_layers_named_and_heavy_conv_dominates(scenario, impl):
    profile = LayerProfile.from_dict(scenario[impl])
    names = [layer.name for layer in profile.layers]
    assert names == ["tiny_small_conv_fwd", "tiny_bn_fwd", "tiny_relu_fwd", "tiny_big_conv_fwd",
                     "tiny_pool_fwd", "tiny_dense_fwd"]
    assert [layer.count_per_iter for layer in profile.layers] == [1] * 6
    assert all(layer.ms >= 0 and layer.ms_p90 >= layer.ms for layer in profile.layers)
    ranking = sorted(profile.layers, key=lambda layer: -layer.ms)
    assert ranking[0].name == "tiny_big_conv_fwd"
    assert ranking[0].ms > 2 * ranking[1].ms
    assert profile.layers[3].output_shape == (1, 256, 32, 32)
    assert 0.5 < profile.coverage <= 1.05


def test_resnet_every_graph_node_timed_once_per_iteration(scenario):
    profile = LayerProfile.from_dict(scenario["resnet"])
    nodes = scenario["resnet_nodes"]
    assert len(nodes) == 68
    assert [layer.name for layer in profile.layers] == [n[0] for n in nodes]
    assert all(layer.count_per_iter == 1 for layer in profile.layers)
    assert nodes[0] == ["resnetv10_conv0_fwd", "Convolution", [1, 64, 32, 32]]
    assert nodes[-1] == ["resnetv10_dense0_fwd", "FullyConnected", [1, 1000]]
    assert all(layer.ms >= 0 for layer in profile.layers)
    assert 0.5 < profile.coverage <= 1.05, profile.coverage
    assert 0 <= profile.overhead_ms < profile.latency_ms
    assert profile.iterations == 5 and profile.method == layers.METHOD
    assert len(profile.windows) == 5 * 68


def test_profile_round_trips_through_json(scenario):
    profile = LayerProfile.from_dict(scenario["resnet"])
    again = LayerProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile


@pytest.mark.parametrize("categorical", [False, True], ids=["plain", "categorical"])
def test_convolution_primitives_go_to_convolution_layers(scenario, categorical):
    profile = LayerProfile.from_dict(scenario["resnet"])
    primitives = parse_timed_lines(scenario["verbose_log"], categorical)
    attributed = attribute_primitives(profile, primitives)
    timed = attributed[attributed["iteration"] >= 0]
    if categorical:  # DNNL_VERBOSE=2: creation lines are in the table and must not count
        assert (primitives["operation"] == "create").sum() > 0
        timed = timed[timed["operation"] == "exec"]
    # 5 timed iterations of resnet18: 20 convolutions and 1 inner product each.
    convs = timed[timed["kind"] == "convolution"]
    assert len(convs) == 5 * 20
    assert set(convs["layer_op"]) == {"Convolution"}
    assert set(timed.loc[timed["kind"] == "inner_product", "layer"]) == {"resnetv10_dense0_fwd"}
    assert set(timed.loc[timed["kind"] == "batch_normalization", "layer_op"]) == {"BatchNorm"}
    # Warm-up ran before the windows: its primitives stay unattributed.
    assert (attributed["iteration"] < 0).sum() > 0
    assert sorted(timed["iteration"].unique()) == [0, 1, 2, 3, 4]

    summary = summarize_by_layer(attributed)
    conv0 = summary[summary["layer"] == "resnetv10_conv0_fwd"]
    conv0 = conv0[conv0["kind"] == "convolution"].iloc[0]
    assert conv0["count_per_iter"] == 1
    assert conv0["gflops_per_s"] > 0
    # The primitives of one layer execution fit inside its window (1 us timestamp resolution).
    windows = windows_frame(profile).set_index(["iteration", "layer"])
    window_ms = windows["end_ms"] - windows["start_ms"]
    inside_ms = timed.groupby(["iteration", "layer"])["time_ms"].sum()
    assert (inside_ms <= window_ms[inside_ms.index] + 0.005).all()
    layer_ms = {layer.name: layer.ms for layer in profile.layers}

    reorders = reorder_report(attributed)
    assert reorders.count_per_iter == pytest.approx(len(timed[timed["kind"] == "reorder"]) / 5)
    assert all(r.layer in layer_ms for r in reorders.layers)
    assert all(" -> " in c for r in reorders.layers for c in r.conversions)


def test_layer_spans_cut_runs_per_node_and_iteration():
    nodes = [GraphNode("a", "Convolution", None), GraphNode("a_b", "Activation", None)]
    names = ["a_data", "a_weight", "a_output", "a_b_data", "a_b_output", "other_x"]
    index = layers.node_index_of_names(names, nodes)
    assert index.tolist() == [0, 0, 0, 1, 1, -1]
    t = np.array([10, 11, 20, 21, 25, 26, 110, 111, 130, 131, 140], dtype=np.int64)
    ids = np.array([0, 1, 2, 3, 4, 5, 0, 2, 3, 4, 5], dtype=np.int32)
    marks = np.array([0, 100, 200], dtype=np.int64)
    profile = layers.profile_from_events(nodes, marks, t, ids, names, realtime_offset_ns=10**9)
    assert [(w[0], w[1]) for w in profile.windows] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert profile.windows[0][2:] == (1000.00001, 1000.00002)
    a, b = profile.layers
    assert a.ms == pytest.approx(np.median([10e-6, 1e-6]))
    assert b.ms == pytest.approx(np.median([4e-6, 1e-6]))
    assert profile.latency_ms == pytest.approx(100e-6)
    assert profile.overhead_ms == pytest.approx(np.median([86e-6, 98e-6]))
    assert profile.per_iteration_ms == pytest.approx(np.median([14e-6, 2e-6]))
    assert profile.coverage == pytest.approx(np.median([14 / 100, 2 / 100]))


def test_events_outside_marks_are_ignored():
    nodes = [GraphNode("a", "Convolution", None)]
    profile = layers.profile_from_events(
        nodes, np.array([100, 200]), np.array([5, 6, 150, 160, 300]),
        np.array([0, 0, 0, 0, 0], dtype=np.int32), ["a_output"], 0)
    assert len(profile.windows) == 1 and profile.layers[0].ms == pytest.approx(10e-6)


def test_missing_env_is_reported():
    with pytest.raises(RuntimeError, match="MXNET_ENGINE_TYPE=NaiveEngine"):
        layers.check_layer_env({"MXNET_ENGINE_TYPE": "ThreadedEnginePerDevice"})
    layers.check_layer_env(dict(layers.LAYER_ENV))


def test_attribution_of_the_project_verbose_parser_table(scenario):
    profile = LayerProfile.from_dict(scenario["resnet"])
    table = verbose.parse(scenario["verbose_log"]).primitives
    attributed = attribute_primitives(profile, table)
    summary = summarize_by_layer(attributed, profile.iterations)
    convs = summary[summary["kind"] == "convolution"]
    assert len(convs) == 20 and (convs["count_per_iter"] == 1).all()
    assert set(convs["layer_op"]) == {"Convolution"}
    assert (convs["gflops_per_s"] > 0).all()
    timed_execs = attributed[(attributed["iteration"] >= 0).to_numpy()
                             & (attributed["operation"] == "exec").to_numpy()]
    assert summary["ms_per_iter"].sum() * profile.iterations == pytest.approx(
        timed_execs["time_ms"].sum())
