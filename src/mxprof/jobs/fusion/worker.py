"""One fusion configuration, run in its own process: `python -m mxprof.jobs.fusion.worker SPEC OUT`.

MKL-DNN reads its fusion switches (`MXNET_DISABLE_MKLDNN_FUSE_*`), `MXNET_SUBGRAPH_BACKEND` and
`DNNL_VERBOSE` once, when libmxnet loads, so every configuration needs a fresh process. The parent
(`mxprof.jobs.fusion.assemble`) sets the environment; this module reads a JSON spec, builds the network,
times it, and writes a JSON result. With `trace` set, oneDNN verbose lines go to this process's
stdout (the parent redirects it to a file) framed by `mxprof_iter,N` marker lines, so each
primitive can be assigned to one iteration.

Spec keys: model, shape (list: the first input's, batch first), model_spec (the checked
ModelSpec dict, every input; null: `model` is resolved at `shape`), path ("gluon" | "symbolic"), fused (bool), static (bool:
static_alloc/static_shape), placement (mxprof.cpu.placement.Placement as a dict: what the
worker binds itself to before MXNet loads, or null), params_in / params_out (a .params file:
same weights in every worker), seed, warmup, iterations, min_time_s, trace (bool), output (bool: save the output
as `<name>.output.npy` beside the result, `output_npy`, for the parent's element-wise check, and
its checksum `output_sum`). The spec and result files follow the one worker protocol
(`mxprof.workers.protocol`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _emit_marker(text: str) -> None:
    # Python's own buffer must be flushed so the marker lands between oneDNN's C-level writes.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def build_network(model: str, shape, seed: int, params_in: str | None,
                  model_spec: dict | None = None):
    """(block, inputs, weights) for MODEL: the checked ModelSpec dict `model_spec`, else
    `model` (a zoo name or FILE.py:FACTORY, mxprof.mx.models) resolved at `shape` (batch
    first). `inputs` is a tuple of NDArrays, one per model input, drawn by mxprof.mx.inputs
    at batch `shape[0]`. `weights` says where they came from (random, pretrained, user);
    `params_in` (the first worker's weights) makes every worker alike."""
    import msgspec
    import mxnet as mx

    from mxprof.mx import models
    from mxprof.mx.inputs import random_arrays

    mx.random.seed(seed)
    if model_spec is not None:
        spec = models.ModelSpec.from_dict(model_spec)
    else:
        spec = models.resolve(model, shape=tuple(shape[1:]))
    if params_in:
        spec = msgspec.structs.replace(spec, params_path=params_in)
    loaded = models.load(spec, ctx=mx.cpu(), hybridize=False)
    # A seeded generator of its own: the input must not depend on how many random numbers the
    # weight initialisation (done in the first worker only) consumed.
    data = tuple(mx.nd.array(a, ctx=mx.cpu(), dtype=a.dtype)
                 for a in random_arrays(spec.input_specs, int(shape[0]), seed=seed))
    return loaded.block, data, loaded.weights


def is_factory(model: str) -> bool:
    from mxprof.mx.models import is_factory as factory
    return factory(model)


def _first(out):
    """The first output of a call (detection and multi-head nets return several): waited on
    with all the others, and the one the fused/unfused output check compares."""
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    for o in outs:
        o.wait_to_read()
    return outs[0]


def _gluon_forward(net, xs, fused: bool, static: bool):
    import mxnet as mx

    flags = {"static_alloc": True, "static_shape": True} if static else {}
    if fused:
        net.optimize_for(*xs, backend="MKLDNN", **flags)
    else:
        net.hybridize(**flags)
    _first(net(*xs))  # builds the cached graph

    def forward():
        return _first(net(*xs))

    graph = net._cached_graph[1]
    mx.nd.waitall()
    return forward, graph


def _symbolic_forward(net, xs):
    """The Module/Executor path: fusion comes from MXNET_SUBGRAPH_BACKEND set by the parent."""
    import mxnet as mx

    net.hybridize()
    _first(net(*xs))
    data_vars, sym = net._cached_graph
    params = {p.var().name: p.data() for p in net.collect_params().values()}
    fed = dict(zip((v.name for v in data_vars), xs))
    args = {name: fed[name] if name in fed else params[name] for name in sym.list_arguments()}
    aux = {name: params[name] for name in sym.list_auxiliary_states()}
    exe = sym.bind(mx.cpu(), args, aux_states=aux, grad_req="null")

    def forward():
        return _first(exe.forward(is_train=False))

    forward()
    return forward, exe.get_optimized_symbol()


def _time_calls(forward, warmup: int, iterations: int, min_time_s: float, trace: bool):
    """Per-call wall time in ns from the shared native timing loop (`mxprof.timing.timer.measure`).

    Tracing runs frame every call with a marker line so each primitive maps to one iteration;
    their timings are not used for latency (verbose output slows every primitive).
    """
    from mxprof.timing.timer import measure

    if not trace:
        # At least `iterations` calls and at least `min_time_s` seconds, whichever is longer.
        m = measure(forward, warmup=warmup, repeat=iterations)
        samples = [int(v) for v in m.samples_ns]
        left_s = min_time_s - m.wall_ns / 1e9
        if left_s > 0:
            samples += [int(v) for v in measure(forward, warmup=0, min_time=left_s).samples_ns]
        return samples
    calls = iter(range(-warmup, iterations))

    def framed():
        i = next(calls)
        _emit_marker(f"mxprof_warmup,{i + warmup}" if i < 0 else f"mxprof_iter,{i}")
        forward()

    m = measure(framed, warmup=warmup, repeat=iterations)
    _emit_marker("mxprof_end")
    return [int(v) for v in m.samples_ns]


def run(spec: dict) -> dict:
    # Bound before MXNet loads, so its OpenMP and engine threads inherit CPUs and memory.
    from mxprof.cpu.placement import bind_self
    binding = bind_self(spec.get("placement"))
    import mxnet as mx

    net, xs, weights = build_network(spec["model"], spec["shape"], spec.get("seed", 0),
                                     spec.get("params_in"), spec.get("model_spec"))
    if spec.get("params_out"):
        net(*xs)  # materialise deferred shapes before saving
        if isinstance(net, mx.gluon.SymbolBlock):
            net.collect_params().save(spec["params_out"])  # the names SymbolBlock.imports reads
        else:
            net.save_parameters(spec["params_out"])
    if spec.get("path", "gluon") == "symbolic":
        forward, graph = _symbolic_forward(net, xs)
    else:
        forward, graph = _gluon_forward(net, xs, spec["fused"], spec.get("static", True))
    checksum, output_npy = None, None
    if spec.get("output"):
        # The output itself: the parent compares fused and unfused element by element, with
        # the accuracy check's function and tolerances (mxprof.jobs.accuracy.metrics).
        import numpy as np

        out = forward()
        checksum = float(out.abs().sum().asscalar())
        output_npy = str(Path(spec["_workdir"]) / f"{spec.get('name', 'worker')}.output.npy")
        np.save(output_npy, out.asnumpy())
    samples = _time_calls(forward, spec.get("warmup", 5), spec.get("iterations", 20),
                          spec.get("min_time_s", 0.0), spec.get("trace", False))
    return {
        "spec": {k: v for k, v in spec.items() if not k.startswith("_")},
        "graph": json.loads(graph.tojson()),
        "samples_ns": samples,
        "output_sum": checksum,
        "output_npy": output_npy,
        "mxnet_version": mx.__version__,
        "weights": weights,
        "binding": binding,
        "fingerprint": _fingerprint(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "disabled_patterns": sorted(k for k in os.environ
                                    if k.startswith("MXNET_DISABLE_MKLDNN_FUSE_")
                                    and os.environ[k] not in ("", "0")),
    }


def _fingerprint() -> dict | None:
    """The shared environment fingerprint (CPU, ISA, affinity, packages, MXNet build)."""
    try:
        from mxprof.workers.environment import fingerprint

        return fingerprint().to_dict()
    except Exception as exc:  # noqa: BLE001 - a fingerprint must never cost the measurement
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main

    return worker_main(run, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
