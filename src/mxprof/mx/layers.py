"""Per-layer time of a hybridized Gluon block, by graph node name.

How it is measured (see bench/layer_overhead.py for what it costs):

* MXNet's CachedOp calls a monitor hook (C API `MXCachedOpRegisterOpHook`, monitor_all) with
  each input of a node just before invoking it, and with each output just after. The native
  recorder (`mxprof._core.hook_*`, csrc/mxhooks.cpp) stores one CLOCK_MONOTONIC timestamp and an
  interned name per call; no Python runs inside the graph.
* Under `MXNET_ENGINE_TYPE=NaiveEngine` an operator has finished when it returns, so a node's
  window (its first hook call to its last) is its execution time, including MXNet's own
  per-operator dispatch. The rest of an iteration (Python call, graph walk between nodes, hook
  calls) is framework overhead: `LayerProfile.coverage` says how much of the latency the layers
  explain.
* The hook only fires for nodes that CachedOp invokes one by one. With `static_shape=True` every
  node is pushed as a prebuilt engine segment and the hook never fires, so the block is
  hybridized with `LAYER_HYBRIDIZE` (static_alloc on, static_shape off).

The worker process must set `LAYER_ENV` before `import mxnet` (the engine is chosen at load).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mxprof._native import core
from mxprof.schema import Record

# Env the worker sets before libmxnet loads. NaiveEngine makes hook time = completion time;
# bulk off keeps the graph from being fused into engine segments in every hybridize mode.
LAYER_ENV: dict[str, str] = {
    "MXNET_ENGINE_TYPE": "NaiveEngine",
    "MXNET_EXEC_BULK_EXEC_INFERENCE": "0",
}
LAYER_HYBRIDIZE: dict[str, bool] = {"static_alloc": True, "static_shape": False}
METHOD = "cachedop-hook+NaiveEngine"
# With static_shape off, MXNet 1.9.1's CachedOp re-creates every stateful operator on each call
# (CachedOp::StaticRunOps: `if (!config_.static_shape) state.op_states[i] = createop(...)`), so
# the fused RNN operator re-copies and re-packs its weights per call in this mode only.
STATEFUL_NOTE = ("RNN layers in the per-layer and primitive tables include a per-call copy and "
                 "re-packing of their weights (oneDNN reorders to the packed rnn layout) that "
                 "the timing runs do not pay: the per-layer hook needs static_shape off, and "
                 "MXNet 1.9.1's CachedOp then re-creates every stateful operator on each call")


@dataclass(frozen=True)
class GraphNode:
    """One operator node of the graph, in execution order."""

    name: str
    op: str
    output_shape: tuple[int, ...] | None


class LayerTime(Record, frozen=True):
    """Time of one graph node: median and p90 over iterations, in ms per iteration;
    `samples_ms` is each timed iteration's ms (what `mxprof diff` resamples for intervals)."""

    name: str
    op: str
    output_shape: tuple[int, ...] | None
    ms: float
    ms_p90: float
    count_per_iter: int
    samples_ms: tuple[float, ...] = ()


class LayerProfile(Record, frozen=True):
    """Per-layer breakdown of `iterations` timed calls.

    `per_iteration_ms`: median over iterations of the summed layer time; `latency_ms`: median
    wall time of the same iterations (call to output ready); `overhead_ms`: median over
    iterations of wall time minus layer time (Python call, graph walk, dispatch between nodes;
    robust to a preemption that lands inside a layer). `coverage`: median over iterations of
    layer time / wall time (on a quiet machine this is the sum of the layers' medians over
    `latency_ms`; pairing by iteration keeps it right when other processes steal the CPU).
    `windows`: each layer execution as (iteration, layer index, start, end) in ms
    since the Unix epoch (CLOCK_REALTIME, the clock of oneDNN's verbose timestamps).
    """

    layers: tuple[LayerTime, ...]
    iterations: int
    method: str
    per_iteration_ms: float
    latency_ms: float
    overhead_ms: float = float("nan")
    coverage: float = float("nan")
    windows: tuple[tuple[int, int, float, float], ...] = ()

    @property
    def layers_ms(self) -> float:
        """Sum of the layers' per-iteration medians."""
        return sum(layer.ms for layer in self.layers)

    def to_dict(self) -> dict[str, Any]:
        d = {**super().to_dict(), "layers_ms": self.layers_ms}
        # The derived sum sits before coverage, where the files written before the Struct have it.
        keys = [k for k in d if k != "layers_ms"]
        keys.insert(keys.index("coverage"), "layers_ms")
        return {k: d[k] for k in keys}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerProfile:
        # Files are strict JSON, so a NaN overhead or coverage was written as null: read it back
        # as NaN, the record's "not measured".
        nan = {k: float("nan") for k in ("overhead_ms", "coverage") if d.get(k, 0) is None}
        return super().from_dict({**d, **nan})


def _symbol_of(block, inputs):
    """The block's output symbol (builds Gluon's cached graph; runs no operator)."""
    _, out = block._get_graph(*inputs)
    return out


def nodes_of_symbol(sym, input_shapes: dict[str, tuple[int, ...]]) -> list[GraphNode]:
    """Operator nodes of `sym` in execution order (nnvm's topological order), with the shape of
    each node's first output, inferred from `input_shapes` (None where inference fails)."""
    internals = sym.get_internals()
    out_names = internals.list_outputs()
    try:
        _, out_shapes, _ = internals.infer_shape(**input_shapes)
    except RuntimeError:  # MXNetError: shapes that depend on data; keep names and ops
        out_shapes = None
    nodes, cursor = [], 0
    for node in json.loads(sym.tojson())["nodes"]:
        if node["op"] == "null":
            cursor += 1
            continue
        first = cursor
        prefix = node["name"] + "_"
        while cursor < len(out_names) and out_names[cursor].startswith(prefix):
            cursor += 1
        shape = None
        if out_shapes is not None and cursor > first and out_shapes[first] is not None:
            shape = tuple(int(d) for d in out_shapes[first])
        nodes.append(GraphNode(node["name"], node["op"], shape))
    return nodes


def graph_nodes(block, *input_shapes: tuple[int, ...]) -> list[GraphNode]:
    """Operator nodes of a Gluon HybridBlock in execution order, for inputs of these shapes."""
    import mxnet as mx

    inputs = [mx.nd.zeros(shape) for shape in input_shapes]
    sym = _symbol_of(block, inputs)
    names = [s.name for s in block._cached_graph[0]]
    return nodes_of_symbol(sym, dict(zip(names, input_shapes)))


def _hook_calls_per_iteration(sym) -> int:
    """Upper bound of monitor_all hook calls in one call of the graph: every input of every
    operator node, every visible output, and two hidden outputs per operator (BatchNorm's
    mean and variance are allocated and reported too)."""
    ops = [node for node in json.loads(sym.tojson())["nodes"] if node["op"] != "null"]
    inputs = sum(len(node["inputs"]) for node in ops)
    return inputs + len(sym.get_internals().list_outputs()) + 2 * len(ops)


def check_layer_env(environ=os.environ) -> None:
    """Raise RuntimeError if the process was not started with LAYER_ENV."""
    wrong = {k: environ.get(k) for k, v in LAYER_ENV.items() if environ.get(k) != v}
    if wrong:
        raise RuntimeError(
            "per-layer timing needs these variables set before mxnet is imported: "
            + ", ".join(f"{k}={v}" for k, v in LAYER_ENV.items())
            + f" (found {wrong})")


def _clock_offset_ns(recorder) -> int:
    """CLOCK_REALTIME - CLOCK_MONOTONIC, from the tightest of a few paired readings."""
    best = None
    for _ in range(5):
        a = recorder.monotonic_ns()
        r = recorder.realtime_ns()
        b = recorder.monotonic_ns()
        if best is None or b - a < best[0]:
            best = (b - a, r - (a + b) // 2)
    return best[1]


def node_index_of_names(names: list[str], nodes: list[GraphNode]) -> np.ndarray:
    """Map hook names ("<node>_<input or output name>") to node indices (-1 if unknown), by the
    longest node name that prefixes them."""
    by_name = {n.name: i for i, n in enumerate(nodes)}
    index = np.full(len(names), -1, dtype=np.int64)
    for j, hook_name in enumerate(names):
        cut = hook_name.rfind("_")
        while cut > 0:
            i = by_name.get(hook_name[:cut])
            if i is not None:
                index[j] = i
                break
            cut = hook_name.rfind("_", 0, cut)
    return index


def layer_spans(t_ns: np.ndarray, node_idx: np.ndarray, marks_ns: np.ndarray):
    """Cut hook events into layer executions.

    `marks_ns[k]`, `marks_ns[k+1]` bound iteration k. A layer execution is a run of consecutive
    events of one node; it lasts from its first event to its last. Returns arrays (iteration,
    node index, start_ns, end_ns), one row per execution, events of unknown nodes dropped.
    """
    keep = node_idx >= 0
    t, idx = t_ns[keep], node_idx[keep]
    if t.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    it = np.searchsorted(marks_ns, t, side="right") - 1
    new_run = np.ones(t.size, dtype=bool)
    new_run[1:] = (idx[1:] != idx[:-1]) | (it[1:] != it[:-1])
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], t.size) - 1
    inside = (it[starts] >= 0) & (it[starts] < len(marks_ns) - 1)
    starts, ends = starts[inside], ends[inside]
    return it[starts], idx[starts], t[starts], t[ends]


def summarize_spans(nodes: list[GraphNode], iterations: int, it: np.ndarray, idx: np.ndarray,
                    start_ns: np.ndarray, end_ns: np.ndarray) -> tuple[list[LayerTime], np.ndarray]:
    """Median/p90 ms per iteration of each node (executions in one iteration are summed), with
    every iteration's ms, and the summed layer time of each iteration."""
    ms = np.zeros((iterations, len(nodes)))
    counts = np.zeros((iterations, len(nodes)), dtype=np.int64)
    np.add.at(ms, (it, idx), (end_ns - start_ns) / 1e6)
    np.add.at(counts, (it, idx), 1)
    layers = [
        LayerTime(node.name, node.op, node.output_shape, float(np.median(ms[:, i])),
                  float(np.percentile(ms[:, i], 90)), int(np.median(counts[:, i])),
                  tuple(float(v) for v in ms[:, i]))
        for i, node in enumerate(nodes)
    ]
    return layers, ms.sum(axis=1)


def collect_layer_times(block, x, *, iterations: int = 20, warmup: int = 3,
                        check_env: bool = True, recorder=None) -> LayerProfile:
    """Time each layer of an initialized Gluon HybridBlock over `iterations` calls on `x` (an
    NDArray, or a tuple of them for several inputs; nested outputs are not waited on).

    The block is (re)hybridized with LAYER_HYBRIDIZE; the process must run with LAYER_ENV
    (checked unless check_env=False). `warmup` calls run first, untimed. `recorder` is the
    native core (default) or its pure-Python twin `mxprof.mx._hooks_py`. One block at a time:
    the recorder is process-global, and installing it on a new block re-arms it.
    """
    recorder = core if recorder is None else recorder
    inputs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if iterations < 1 or warmup < 1:
        raise ValueError("iterations and warmup must be >= 1 (warm-up builds the cached op)")
    if check_env:
        check_layer_env()
    from mxnet.base import _LIB

    block.hybridize(**LAYER_HYBRIDIZE)
    nodes = graph_nodes(block, *(a.shape for a in inputs))

    def call():
        out = block(*inputs)
        for array in out if isinstance(out, (tuple, list)) else (out,):
            array.wait_to_read()

    call()  # builds block._cached_op, the handle the hook attaches to
    capacity = (iterations + 1) * _hook_calls_per_iteration(block._cached_graph[1]) + 4096
    recorder.hook_install(_LIB._name, block._cached_op.handle.value, capacity, True)
    for _ in range(warmup - 1):
        call()

    marks = np.zeros(iterations + 1, dtype=np.int64)
    recorder.hook_clear()
    recorder.hook_enable(True)
    try:
        for k in range(iterations):
            marks[k] = recorder.monotonic_ns()
            call()
        marks[iterations] = recorder.monotonic_ns()
    finally:
        recorder.hook_enable(False)
    if recorder.hook_dropped():
        raise RuntimeError(f"layer hook buffer overflowed ({recorder.hook_dropped()} events lost)")
    return profile_from_events(nodes, marks, *recorder.hook_events(), recorder.hook_names(),
                               _clock_offset_ns(recorder))


def profile_from_events(nodes: list[GraphNode], marks_ns: np.ndarray, t_ns: np.ndarray,
                        name_ids: np.ndarray, names: list[str],
                        realtime_offset_ns: int) -> LayerProfile:
    """Build a LayerProfile from raw hook events (pure; the collector and tests share it)."""
    iterations = len(marks_ns) - 1
    node_idx = node_index_of_names(names, nodes)[name_ids] if len(names) else name_ids
    it, idx, start, end = layer_spans(t_ns, node_idx, marks_ns)
    layers, layer_sums = summarize_spans(nodes, iterations, it, idx, start, end)
    wall_ms = np.diff(marks_ns) / 1e6
    latency = float(np.median(wall_ms))
    overhead = float(np.median(wall_ms - layer_sums))
    coverage = float(np.median(layer_sums / wall_ms)) if iterations else float("nan")
    windows = tuple(
        (int(i), int(n), (s + realtime_offset_ns) / 1e6, (e + realtime_offset_ns) / 1e6)
        for i, n, s, e in zip(it, idx, start, end))
    return LayerProfile(tuple(layers), iterations, METHOD, float(np.median(layer_sums)),
                        latency, overhead, coverage, windows)
