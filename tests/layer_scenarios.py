"""Runs the per-layer collector on real MXNet models in a fresh process (the engine and oneDNN
verbose settings are read when libmxnet loads) and writes what the tests check as JSON.

    python tests/layer_scenarios.py OUT_DIR      (env: mxprof.mx.layers.LAYER_ENV + DNNL_VERBOSE)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision

from mxprof._native import core
from mxprof.mx import _hooks_py as hooks_python
from mxprof.mx import layers
from mxprof.mx.fdcapture import capture_fd


class HeavyMiddle(nn.HybridBlock):
    """conv-bn-relu, then one convolution ~50x heavier than the rest, pool, dense."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.small = nn.Conv2D(8, 3, padding=1, prefix="small_conv_")
            self.bn = nn.BatchNorm(prefix="bn_")
            self.relu = nn.Activation("relu", prefix="relu_")
            self.big = nn.Conv2D(256, 5, padding=2, prefix="big_conv_")
            self.pool = nn.GlobalAvgPool2D(prefix="pool_")
            self.dense = nn.Dense(10, prefix="dense_")

    def hybrid_forward(self, F, x):
        return self.dense(self.pool(self.big(self.relu(self.bn(self.small(x))))))


def tiny(recorder):
    mx.random.seed(1)
    net = HeavyMiddle(prefix="tiny_")
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=(1, 3, 32, 32))
    profile = layers.collect_layer_times(net, x, iterations=8, warmup=2, recorder=recorder)
    return profile.to_dict()


def main(out_dir: Path) -> None:
    result = {"tiny_native": tiny(core), "tiny_python": tiny(hooks_python)}
    net = vision.get_model("resnet18_v1", pretrained=False)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    result["resnet_nodes"] = [
        [n.name, n.op, list(n.output_shape) if n.output_shape else None]
        for n in layers.graph_nodes(net, (1, 3, 64, 64))]
    with capture_fd(1, out_dir / "resnet.verbose.log"):
        profile = layers.collect_layer_times(net, x, iterations=5, warmup=2)
    result["resnet"] = profile.to_dict()
    (out_dir / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
