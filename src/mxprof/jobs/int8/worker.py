"""One INT8 cell in its own process: `python -m mxprof.jobs.int8.worker SPEC RESULT`.

Tasks (spec `task`), each under the one worker protocol (mxprof.workers.protocol):
- reference: the FP32 model (MKL-DNN fused, as deployed): its outputs on the evaluation inputs,
  its latency, its layer names; random weights are saved to `weights_out` so every other cell
  quantizes exactly the same network.
- candidate: quantize_net with `quantize` {calib_mode, quantized_dtype, exclude}; outputs on
  the evaluation inputs, latency, which FP32 layers ended up in INT8 (read from the graph: the
  proof an exclusion took effect); with `analyse` {probe, batch} the per-layer errors
  (mxprof.jobs.int8.probe); with `export` the model as PREFIX-symbol.json / PREFIX.params.
  `save_model` PREFIX keeps the quantized model for the further timing processes of the same
  configuration, which `import` it instead of quantizing again (the same thresholds, and no
  second calibration: a ResNet-50's takes a minute here); `timing_only` skips the outputs.
- layers: per-node time of the fused FP32 graph and of the INT8 graph (mxprof.mx.layers hooks,
  under LAYER_ENV which the parent sets), each node mapped to its FP32 layers.

Spec keys: task, model (ModelSpec dict), inputs_npy, calib_npy, batch_size, quantize, timing
{batch, warmup, min_time, iterations}, placement (mxprof.cpu.placement.Placement as a dict,
None when not bound; `bind_self` applies it before MXNet loads), out_dir, and the task's own
keys above.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np


def _load(spec: dict):
    from mxprof.jobs.accuracy.worker import load_model, save_weights

    block, info = load_model(spec["model"])
    if spec.get("weights_out"):
        save_weights(block, spec["model"]["source"], spec["weights_out"])
    return block, info


def _nd(x: np.ndarray):
    import mxnet as mx
    return mx.nd.array(x, dtype=x.dtype)


def _outputs(net, xs: np.ndarray, batch: int) -> list[np.ndarray]:
    outs: list[list[np.ndarray]] = []
    for i in range(0, len(xs), batch):
        chunk = xs[i:i + batch]
        n = len(chunk)
        if n < batch:  # static shapes: pad the last batch, keep only its real rows
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        out = net(_nd(chunk))
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if not outs:
            outs = [[] for _ in out]
        for acc, o in zip(outs, out):
            acc.append(o.asnumpy()[:n])
    return [np.concatenate(parts) for parts in outs]


def _time(net, x: np.ndarray, timing: dict) -> list[float]:
    from mxprof.timing.timer import measure

    data = _nd(x)

    def call() -> None:
        out = net(data)
        for o in out if isinstance(out, (list, tuple)) else (out,):
            o.wait_to_read()

    m = measure(call, repeat=timing.get("iterations"), warmup=max(1, timing["warmup"]),
                min_time=timing["min_time"])
    return (np.asarray(m.samples_ns, dtype=np.float64) / 1e6).tolist()


def _fused(block, example: np.ndarray):
    block.optimize_for(_nd(example), backend="MKLDNN", static_alloc=True, static_shape=True)
    return block


def _unfused_graph(block, example: np.ndarray):
    block.hybridize()
    block(_nd(example))
    from mxprof.jobs.int8.probe import graph_of
    return graph_of(block)


def _save_outputs(outs: list[np.ndarray], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, o in enumerate(outs):
        np.save(out_dir / f"output_{i}.npy", o)


def reference(spec: dict) -> dict:
    xs = np.load(spec["inputs_npy"])
    block, info = _load(spec)
    timing = spec["timing"]
    example = xs[:spec["batch_size"]]
    sym = _unfused_graph(block, example)
    from mxprof.mx.int8graph import op_names
    names = op_names(json.loads(sym.tojson()))
    net = _fused(block, example)
    outs = [] if spec.get("timing_only") else _outputs(net, xs, spec["batch_size"])
    _save_outputs(outs, Path(spec["out_dir"]))
    samples = _time(net, xs[:timing["batch"]], timing)
    return {"outputs": len(outs), "layers": names, **info, "samples_ms": samples}


def _quantized(spec: dict, block, xs: np.ndarray):
    from mxprof.mx.quantize import quantize

    q = spec["quantize"]
    calib = np.load(spec["calib_npy"]) if q["calib_mode"] != "none" else None
    return quantize(block, xs.shape[1:], calib_mode=q["calib_mode"], calib_data=calib,
                    batch_size=spec["batch_size"], quantized_dtype=q["quantized_dtype"],
                    exclude_layers=list(q["exclude"]) or None)


def placement(fp32_names: list[str], qnet) -> dict:
    """Which FP32 layers run in INT8 in `qnet`'s graph, and the boundary nodes it has."""
    from mxprof.jobs.int8.probe import graph_of
    from mxprof.mx.int8graph import map_nodes

    nodes = map_nodes(json.loads(graph_of(qnet).tojson()), fp32_names)
    int8 = sorted({layer for n in nodes if n.role == "int8" for layer in n.layers})
    boundary = {role: sum(1 for n in nodes if n.role == role)
                for role in ("quantize", "dequantize", "requantize")}
    return {"int8_layers": int8, "boundary_nodes": boundary}


def _export(qnet, prefix: str) -> list[str]:
    """quantize_net's SymbolBlock as PREFIX-symbol.json and PREFIX.params."""
    qnet.export(prefix)
    params = Path(f"{prefix}-0000.params")
    params.replace(f"{prefix}.params")
    return [f"{prefix}-symbol.json", f"{prefix}.params"]


def _imported(prefix: str):
    import mxnet as mx

    net = mx.gluon.SymbolBlock.imports(f"{prefix}-symbol.json", ["data"], f"{prefix}.params")
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def candidate(spec: dict) -> dict:
    xs = np.load(spec["inputs_npy"])
    if spec.get("import"):  # a further timing process: the first one's quantized model
        qnet = _imported(spec["import"])
        return {"outputs": 0, "samples_ms": _time(qnet, xs[:spec["timing"]["batch"]],
                                                  spec["timing"])}
    block, info = _load(spec)
    batch = spec["batch_size"]
    analyse = spec.get("analyse")
    fp32_graph = _unfused_graph(block, xs[:batch])
    from mxprof.mx.int8graph import op_names
    names = op_names(json.loads(fp32_graph.tojson()))
    began = time.perf_counter()
    qnet = _quantized(spec, block, xs)
    quantize_s = time.perf_counter() - began
    out: dict = {**info, "quantize_s": quantize_s}
    outs = [] if spec.get("timing_only") else _outputs(qnet, xs, batch)
    _save_outputs(outs, Path(spec["out_dir"]))
    out.update(placement(names, qnet), outputs=len(outs))
    if analyse:
        from mxprof.jobs.int8.probe import layer_errors
        probe = xs[:analyse["probe"]]
        out["layer_errors"] = layer_errors(block, qnet, probe, min(batch, len(probe)))
    if spec.get("export"):
        out["exported"] = _export(qnet, spec["export"])
    if spec.get("save_model"):
        _export(qnet, spec["save_model"])
    out["samples_ms"] = _time(qnet, xs[:spec["timing"]["batch"]], spec["timing"])
    return out


def layers(spec: dict) -> dict:
    """Per-node times (median ms per call) of the fused FP32 and the INT8 graph."""
    from mxprof.jobs.int8.probe import graph_of
    from mxprof.mx.int8graph import map_nodes, op_names
    from mxprof.mx.layers import collect_layer_times

    xs = np.load(spec["inputs_npy"])
    block, _ = _load(spec)
    x = xs[:spec["timing"]["batch"]]
    names = op_names(json.loads(_unfused_graph(block, x).tojson()))
    qnet = _quantized(spec, block, xs)
    iterations = spec["timing"].get("iterations") or 20
    result = {}
    for label, net in (("int8", qnet), ("fp32", _fused(block, x))):
        prof = collect_layer_times(net, _nd(x), iterations=iterations, warmup=3)
        nodes = {n.name: n for n in map_nodes(json.loads(graph_of(net).tojson()), names)}
        result[label] = [{"node": t.name, "op": t.op, "ms": t.ms,
                          "role": nodes[t.name].role if t.name in nodes else "other",
                          "layers": list(nodes[t.name].layers) if t.name in nodes else [],
                          "output_layer": nodes[t.name].output_layer if t.name in nodes
                          else None} for t in prof.layers]
        result[f"{label}_latency_ms"] = prof.latency_ms
    return result


def primitives(spec: dict) -> dict:
    """The INT8 graph's oneDNN primitives per node: 3 calls with DNNL_VERBOSE (the parent set
    it and points this process's stdout at the log) inside per-layer windows
    (mxprof.onednn.attribution): per node, the reorders (count and ms per call) and the
    implementation of its longest primitive (brgconv:avx512_core_vnni...)."""
    import ctypes

    import mxnet as mx

    from mxprof.mx.layers import collect_layer_times
    from mxprof.onednn import attribution, verbose

    xs = np.load(spec["inputs_npy"])
    block, _ = _load(spec)
    x = xs[:spec["timing"]["batch"]]
    _unfused_graph(block, x)
    qnet = _quantized(spec, block, xs)
    iterations = 3
    prof = collect_layer_times(qnet, _nd(x), iterations=iterations, warmup=1)
    mx.nd.waitall()
    sys.stdout.flush()
    ctypes.CDLL(None).fflush(None)  # oneDNN prints with C stdio
    log = Path(spec["_workdir"]) / f"{spec['name']}.stdout"
    attributed = attribution.attribute_primitives(prof, verbose.parse(str(log)).to_pandas())
    table = attribution.summarize_by_layer(attributed, iterations)
    nodes: dict[str, dict] = {}
    for _, r in table[table["layer"].notna()].iterrows():
        node = nodes.setdefault(str(r["layer"]), {"reorders": 0.0, "reorder_ms": 0.0,
                                                  "impl": None, "impl_ms": 0.0})
        if r["kind"] == "reorder":
            node["reorders"] += float(r["count_per_iter"])
            node["reorder_ms"] += float(r["ms_per_iter"])
        elif float(r["ms_per_iter"]) > node["impl_ms"]:
            node.update(impl=f"{r['kind']}:{r['impl']}", impl_ms=float(r["ms_per_iter"]))
    return {"nodes": nodes, "iterations": iterations}


TASKS = {"reference": reference, "candidate": candidate, "layers": layers,
         "primitives": primitives}


def run(spec: dict) -> dict:
    from mxprof.cpu.placement import bind_self

    # Before MXNet loads: its OpenMP threads inherit the affinity.
    binding = bind_self(spec.get("placement"))
    import mxnet as mx

    from mxprof.jobs.accuracy.worker import environment
    mx.random.seed(spec.get("seed", 0))
    np.random.seed(spec.get("seed", 0))
    began = time.perf_counter()
    result = TASKS[spec["task"]](spec)
    result.update(task=spec["task"], environment=environment(), binding=binding,
                  elapsed_s=time.perf_counter() - began)
    return result


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main

    warnings.simplefilter("ignore")  # mxnet/gluon deprecation chatter on every import
    return worker_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
