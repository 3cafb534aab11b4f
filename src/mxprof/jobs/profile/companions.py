"""The companion checks' measurements, taken inside the timing processes (worker side).

MKL-DNN on, MKL-DNN off, the per-layer hooks and the verbose pass need processes of their own
(mxprof.jobs.profile.runner says why); the fused graph and the outputs of the equivalence check
do not: MXNet reads nothing at load that they change. So in the "shared" layout the timing
process of a configuration, after its timed calls, also
- "outputs": runs fixed inputs (EQUIVALENCE_INPUTS random inputs, seed 0, one batch) and saves
  every output as .npy: the reference's (MKL-DNN off) and MKL-DNN's, and the fused graph's when
  it is built here; the parent compares them (mxprof.jobs.profile.checks.shared_checks);
- "fused": builds the fused graph beside the unfused one (a SymbolBlock over the same symbol
  and the same parameters, partitioned with optimize_for: the block just timed is left as it
  is, so a pass that joins the process later sees the unfused graph) and times it at batch 1
  with the same warm-up and FUSED_SHARE of the minimum time, right after the unfused timing:
  fused and unfused are timed in the same processes, so the summary's ratio pairs them by
  process, as the A/B interleaving of the configurations does.
The weights are the same in every worker (the first one saves them, the others load that file:
mxprof.jobs.profile.runner), so outputs of different processes are comparable.

`RunSpec.companions` names what a timing spec runs; the result goes to `RunResult.companions`:
{"outputs": {config: [npy path per model output]}, "fused": {"latency": stats dict in ms,
"groups": [fused node names], "seconds": s}}.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

# Inputs of the equivalence check, as `mxprof accuracy --inputs random:4` ran them before.
EQUIVALENCE_INPUTS = 4
# The summary's fused timing per process: this share of --min-time, so the three processes
# together time about as long as the one fused worker of the old layout did.
FUSED_SHARE = 1 / 3


def _outputs(mx, net, spec, scratch: Path, name: str) -> list[str]:
    """Every output of `net` on the fixed inputs, saved as <scratch>/<name>.out<i>.npy."""
    import numpy as np

    from mxprof.mx.inputs import random_arrays
    xs = [mx.nd.array(a, dtype=a.dtype)
          for a in random_arrays(spec.model.input_specs, EQUIVALENCE_INPUTS, seed=0)]
    out = net(*xs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    paths = []
    for i, o in enumerate(outs):
        path = scratch / f"{name}.out{i}.npy"
        np.save(path, o.asnumpy())
        paths.append(str(path))
    return paths


def _symbol_block(mx, net, spec):
    """`net`'s graph as a SymbolBlock over the same parameters (no hooks, no cached graph)."""
    inputs = [mx.sym.var(i.name) for i in spec.model.input_specs]
    out = net(*inputs)
    sym = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
    return mx.gluon.SymbolBlock(sym, inputs, params=net.collect_params())


def fused_block(mx, net, spec, x):
    """A fused copy of `net`: its symbol partitioned by oneDNN's subgraph backend (optimize_for,
    static_alloc and static_shape as deployed), over the same parameters; `x` the batch-1
    input (tuple or one array)."""
    block = _symbol_block(mx, net, spec)
    args = x if isinstance(x, tuple) else (x,)
    block.optimize_for(*args, backend="MKLDNN", static_alloc=True, static_shape=True)
    return block


def fused_groups(block) -> list[str]:
    """The fused nodes of a partitioned block's graph (mxprof.jobs.fusion.gains)."""
    from mxprof.jobs.fusion import gains
    graph = json.loads(block._cached_graph[1].tojson())
    return [g.fused_node for g in gains.fusion_groups(graph)]


def run_companions(mx, net, spec, scratch: Path, *, timed, caller, make_input
                   ) -> dict[str, Any]:
    """What `spec.companions` asks of this timing process (see the module docstring).

    `timed`, `caller`, `make_input`: the worker's own timing loop, call wrapper and input
    maker (mxprof.jobs.profile.passes), so the fused timing is the unfused one's protocol.
    """
    out: dict[str, Any] = {}
    wanted = set(spec.companions)
    tag = f"{spec.config}-{os.getpid()}"
    if "outputs" in wanted:
        name = "mkldnn" if spec.mkldnn else "mkldnn-off"
        out["outputs"] = {name: _outputs(mx, net, spec, scratch, f"{tag}-{name}")}
    if "fused" in wanted and spec.mkldnn:
        t0 = time.perf_counter()
        x = make_input(mx, spec, 1)
        block = fused_block(mx, net, spec, x)
        p = spec.protocol
        latency = timed(caller(block, x), warmup=p.warmup, iterations=p.iterations,
                        min_time=p.min_time * FUSED_SHARE, min_iterations=p.min_iterations,
                        max_iterations=p.max_iterations)
        out["fused"] = {"latency": latency, "groups": fused_groups(block)}
        if "outputs" in wanted:
            out["outputs"]["mkldnn-fused"] = _outputs(mx, block, spec, scratch,
                                                      f"{tag}-mkldnn-fused")
        out["fused"]["seconds"] = time.perf_counter() - t0
    return out


def load_model(spec, weights: dict[str, Any]):
    """`mxprof.mx.models.load` of `spec.model`, through the weights file the runner shares
    ("shared" layout): {"load": path, "weights": label, "weights_path": path} loads it (same
    values in every process, the first worker's label kept), {"save": path} writes the
    weights built here for the workers after this one, {} neither."""
    import dataclasses

    import msgspec
    import mxnet as mx

    from mxprof.mx import models
    # A spec with weights of its own (--params, or try_fixes' fixed copy) keeps them.
    shared = weights.get("load") if spec.model.params_path is None else None
    if shared and Path(shared).exists():
        loaded = models.load(msgspec.structs.replace(spec.model, params_path=shared))
        return dataclasses.replace(loaded, weights=weights.get("weights") or loaded.weights,
                                   weights_path=weights.get("weights_path"))
    loaded = models.load(spec.model)
    if weights.get("save"):
        if isinstance(loaded.block, mx.gluon.SymbolBlock):
            loaded.block.collect_params().save(weights["save"])  # the names imports() reads
        else:
            loaded.block.save_parameters(weights["save"])
    return loaded


# Verbose iterations per graph for the fusion findings, after 2 warm-up calls, as the summary's
# trace workers ran them in the legacy layout (mxprof.jobs.profile.checks.fusion_summary).
TRACE_ITERATIONS = 2


def _framed(call, log: Path, flush) -> str:
    """The verbose lines of 2 warm-up and TRACE_ITERATIONS calls, framed by the fusion job's
    marker lines (mxprof.jobs.fusion.trace), read back from the log `log` (this process's
    stdout, where oneDNN prints)."""
    import sys
    flush()
    start = log.stat().st_size
    for tag, n in (("mxprof_warmup", 2), ("mxprof_iter", TRACE_ITERATIONS)):
        for i in range(n):
            sys.stdout.write(f"{tag},{i}\n")
            flush()
            call()
    sys.stdout.write("mxprof_end\n")
    flush()
    with open(log, "rb") as f:
        f.seek(start)
        return f.read().decode(errors="surrogateescape")


def fusion_trace(mx, net, spec, log: Path, *, caller, make_input, flush) -> dict[str, Any]:
    """The fusion findings (mxprof.jobs.fusion.diagnose) from the verbose process: the unfused
    and the fused graph, each a fresh block over the same parameters hybridized as deployed
    (static_alloc, static_shape), traced a few calls each. {"findings": [Finding dicts],
    "groups": [fused node names]}."""
    from mxprof.jobs.fusion import diagnose
    from mxprof.jobs.fusion import trace as fusion_trace_module
    x = make_input(mx, spec, 1)
    unfused = _symbol_block(mx, net, spec)
    unfused.hybridize(static_alloc=True, static_shape=True)
    fused = fused_block(mx, net, spec, x)
    traces = {}
    for name, block in (("unfused", unfused), ("fused", fused)):
        call = caller(block, x)
        call()  # builds the cached graph (its primitives are created before the markers)
        text = _framed(call, log, flush)
        graph = json.loads(block._cached_graph[1].tojson())
        traces[name] = fusion_trace_module.build_trace(text, graph)
    found = diagnose.diagnose(traces["fused"], traces["unfused"], "gluon")
    return {"findings": [f.to_dict() for f in found], "groups": fused_groups(fused),
            "iterations": TRACE_ITERATIONS}
