"""One accuracy configuration in its own process: `python -m mxprof.jobs.accuracy.worker SPEC RESULT`.

MKL-DNN on/off (MXNET_MKLDNN_ENABLED) and the OpenMP settings are read once, when libmxnet
loads, so every configuration runs in a fresh interpreter whose environment the parent sets.
The worker loads the model, turns it into the configuration (plain hybridized, MKL-DNN fused by
`optimize_for`, or INT8 by `quantize`), runs every input, and writes the raw outputs as .npy
files plus its result (the one worker protocol, mxprof.workers.protocol); all comparison happens
in the parent (mxprof.jobs.accuracy.metrics).

Spec keys: model (ModelSpec dict), config {name, kind: plain|fused|int8, calib_mode},
inputs_npy (one .npy per model input, in call order) | data {path, preprocess, limit}, calib {npy | data range}, batch_size,
timing {batch, warmup, iterations}, out_dir, save_params (write the weights used, so that
every configuration sees identical random weights), timing_only (a further timing process of
the configuration: no input is evaluated and no output written).
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def load_model(model: dict):
    """Build the network a ModelSpec dict names, with its weights; -> (block, info dict)."""
    from mxprof.mx import models
    loaded = models.load(models.ModelSpec.from_dict(model), hybridize=False)
    return loaded.block, {"weights": loaded.weights, "weights_path": loaded.weights_path,
                          "param_count": loaded.param_count}


def save_weights(block, source: str, path: str) -> None:
    """Write the weights in use so other configurations load exactly the same values."""
    if source == "symbol":
        block.collect_params().save(path)  # what SymbolBlock.imports reads back
    else:
        block.save_parameters(path)


def _forward_outputs(block, xs) -> list:
    out = block(*xs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _nd(arrays) -> list:
    """numpy arrays as NDArrays of their own dtype (token ids stay integers)."""
    import mxnet as mx
    return [mx.nd.array(a, dtype=a.dtype) for a in arrays]


def build_config(block, config: dict, input_specs, batch_size: int,
                 calib_data: np.ndarray | None):
    """Turn the FP32 block into the configuration to run; `input_specs` are the model's
    inputs (mxprof.mx.inputs.InputSpec), in call order."""
    from mxprof.mx.inputs import zeros_arrays

    kind = config["kind"]
    if kind == "plain":
        block.hybridize(static_alloc=True, static_shape=True)
        return block
    if kind == "fused":
        example = _nd(zeros_arrays(input_specs, batch_size))
        block.optimize_for(*example, backend="MKLDNN", static_alloc=True, static_shape=True)
        return block
    if kind == "int8":
        from mxprof.mx.quantize import quantize

        return quantize(block, input_specs[0].shape, calib_mode=config["calib_mode"],
                        calib_data=calib_data, batch_size=batch_size)
    raise ValueError(f"unknown configuration kind {kind!r}")


def _input_batches(spec: dict):
    """Yield (inputs, labels or None) batches of exactly the size the spec asks for."""
    batch = spec["batch_size"]
    if "inputs_npy" in spec:
        paths = spec["inputs_npy"]
        xs = [np.load(p) for p in ([paths] if isinstance(paths, str) else paths)]
        for i in range(0, len(xs[0]), batch):
            yield [x[i:i + batch] for x in xs], None
        return
    from mxprof.jobs.accuracy.datasets import Preprocess, iter_batches, open_dataset

    data = spec["data"]
    ds = open_dataset(data["path"])
    pre = Preprocess.from_dict(data["preprocess"])
    for x, y in iter_batches(ds, pre, batch, data.get("limit")):
        yield [x], y


def _calibration_inputs(spec: dict) -> np.ndarray | None:
    calib = spec.get("calib")
    if not calib:
        return None
    if "npy" in calib:
        return np.load(calib["npy"])
    from mxprof.jobs.accuracy.datasets import Preprocess, load_arrays, open_dataset

    data = spec["data"]
    x, _ = load_arrays(open_dataset(data["path"]), Preprocess.from_dict(data["preprocess"]),
                       limit=calib["count"], start=calib.get("start", 0))
    return x


def run_inputs(net, spec: dict) -> tuple[list[np.ndarray], np.ndarray | None]:
    """All outputs over all inputs; a short last batch is padded so shapes stay static."""
    batch = spec["batch_size"]
    outputs: list[list[np.ndarray]] = []
    labels: list[np.ndarray] = []
    for xs, y in _input_batches(spec):
        n = len(xs[0])
        if n < batch:
            xs = [np.concatenate([x, np.repeat(x[-1:], batch - n, axis=0)]) for x in xs]
        outs = [o.asnumpy()[:n] for o in _forward_outputs(net, _nd(xs))]
        if not outputs:
            outputs = [[] for _ in outs]
        for acc, o in zip(outputs, outs):
            acc.append(o)
        if y is not None:
            labels.append(y)
    return ([np.concatenate(parts) for parts in outputs],
            np.concatenate(labels) if labels else None)


def time_forward(net, xs: list[np.ndarray], warmup: int, iterations: int) -> list[float]:
    """Per-call wall time in ms of net(*xs) waited to completion, after `warmup` calls."""
    from mxprof.timing.timer import measure

    data = _nd(xs)

    def call() -> None:
        for out in _forward_outputs(net, data):
            out.wait_to_read()

    m = measure(call, repeat=iterations, warmup=warmup, min_time=0.0)
    return (np.asarray(m.samples_ns, dtype=np.float64) / 1e6).tolist()


def environment() -> dict:
    """Where the figures were measured: host, MXNet, affinity and threads of this worker."""
    from mxprof.workers.environment import fingerprint

    return fingerprint().to_dict()


def run(spec: dict) -> dict:
    import mxnet as mx

    t0 = time.perf_counter()
    mx.random.seed(spec.get("seed", 0))
    np.random.seed(spec.get("seed", 0))
    block, info = load_model(spec["model"])
    if spec.get("save_params"):
        save_weights(block, spec["model"]["source"], spec["save_params"])
    from mxprof.mx.inputs import random_arrays
    from mxprof.mx.models import ModelSpec
    input_specs = ModelSpec.from_dict(spec["model"]).input_specs
    net = build_config(block, spec["config"], input_specs, spec["batch_size"],
                       _calibration_inputs(spec))
    outputs, labels = ([], None) if spec.get("timing_only") else run_inputs(net, spec)
    out_dir = Path(spec["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, o in enumerate(outputs):
        np.save(out_dir / f"output_{i}.npy", o)
    if labels is not None:
        np.save(out_dir / "labels.npy", labels)
    timing = spec["timing"]
    samples: list[float] = []
    if timing["iterations"] > 0:
        xs = random_arrays(input_specs, timing["batch"], seed=1)
        samples = time_forward(net, xs, timing["warmup"], timing["iterations"])
    features = mx.runtime.Features()
    return {
        "config": spec["config"]["name"], "outputs": len(outputs),
        "count": len(outputs[0]) if outputs else 0,
        "labels": labels is not None, **info,
        "mkldnn_build": features.is_enabled("MKLDNN"),
        "mkldnn_enabled_env": os.environ.get("MXNET_MKLDNN_ENABLED", "1"),
        "timing": {**timing, "samples_ms": samples},
        "environment": environment(), "elapsed_s": time.perf_counter() - t0,
    }


def run_bound(spec: dict) -> dict:
    """Bind to the spec's placement (before MXNet loads: its OpenMP threads inherit the
    affinity and memory policy), then run."""
    from mxprof.cpu.placement import bind_self
    binding = bind_self(spec.get("placement"))
    from mxprof.jobs.accuracy.execute import has_rnn_layers
    from mxprof.mx.models import RNN_REFERENCE_ENV, RNN_REFERENCE_NOTE
    # An RNN network's reference (zoo or exported symbol): switched here when asked for
    # MXNET_MKLDNN_ENABLED=0 (which fails on RNN layers), or already chosen by the parent.
    rnn_reference = has_rnn_layers(spec["model"]) and (
        os.environ.get("MXNET_MKLDNN_ENABLED") == "0"
        or os.environ.get("MXNET_USE_MKLDNN_RNN") == "0")
    if rnn_reference:
        os.environ.update(RNN_REFERENCE_ENV)  # before libmxnet loads, in run()
    result = run(spec)
    result["binding"] = binding
    if rnn_reference:
        result["reference_note"] = RNN_REFERENCE_NOTE
    return result


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main

    warnings.simplefilter("ignore")  # mxnet/gluon deprecation chatter on every import
    return worker_main(run_bound, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
