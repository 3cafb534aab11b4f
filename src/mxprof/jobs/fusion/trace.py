"""oneDNN primitives of one worker run, split by iteration and assigned to graph nodes.

Input: the stdout of a tracing fusion worker (`DNNL_VERBOSE=1` lines framed by `mxprof_iter,N`
markers) and the graph JSON that worker ran. Output: a `Trace` whose primitives carry the
iteration and the graph node (original layer or fused node) they ran for.

Assignment walks the graph's nodes in their serialised (execution) order and each compute
primitive to the first following node whose operator can emit that primitive kind; a reorder is
charged to the compute primitive that follows it (it prepares that primitive's input or weights).
Nodes that emit no primitive (Flatten, reshape) are skipped. Lines are parsed by the shared
scanner (`mxprof.onednn.verbose`). Order-based assignment needs no timestamps, hooks or NaiveEngine, so
the traced run executes exactly as the timed one; `mxprof.onednn.attribution` (timestamps inside
per-layer windows) is the general tool when per-layer wall times are wanted as well.
"""

from __future__ import annotations

import bisect

from mxprof.schema import Record

# Operator -> the oneDNN primitive kinds it can run (1.9.1, FP32 inference).
PRIMITIVE_KINDS: dict[str, frozenset[str]] = {
    "Convolution": frozenset({"convolution"}),
    "_sg_mkldnn_conv": frozenset({"convolution"}),
    "Deconvolution": frozenset({"deconvolution"}),
    "FullyConnected": frozenset({"inner_product"}),
    "_sg_mkldnn_fully_connected": frozenset({"inner_product"}),
    "BatchNorm": frozenset({"batch_normalization"}),
    "_contrib_BatchNormWithReLU": frozenset({"batch_normalization"}),
    "Activation": frozenset({"eltwise"}),
    "LeakyReLU": frozenset({"eltwise"}),
    "elemwise_add": frozenset({"sum", "binary"}),
    "_Plus": frozenset({"sum", "binary"}),
    "_plus": frozenset({"sum", "binary"}),
    "add_n": frozenset({"sum"}),
    "ElementWiseSum": frozenset({"sum"}),
    "broadcast_add": frozenset({"binary"}),
    "broadcast_mul": frozenset({"binary"}),
    "elemwise_mul": frozenset({"binary"}),
    "Pooling": frozenset({"pooling", "pooling_v2"}),
    "Concat": frozenset({"concat"}),
    "concat": frozenset({"concat"}),
    "LRN": frozenset({"lrn"}),
    "softmax": frozenset({"softmax", "softmax_v2"}),
    "SoftmaxOutput": frozenset({"softmax", "softmax_v2"}),
    "log_softmax": frozenset({"logsoftmax", "softmax_v2"}),
    "transpose": frozenset({"reorder"}),
}


class Primitive(Record, frozen=True):
    """One executed oneDNN primitive (a `dnnl_verbose,exec,...` line)."""

    iteration: int  # -1 for warm-up calls
    kind: str
    impl: str
    mds: str
    attrs: str
    problem: str
    ms: float
    node: str = ""  # graph node it ran for ("" when it could not be assigned)


class Trace(Record, frozen=True):
    primitives: tuple[Primitive, ...]
    iterations: int
    onednn_version: str
    isa: str

    def steady(self) -> tuple[Primitive, ...]:
        return tuple(p for p in self.primitives if p.iteration >= 0)


def iteration_of_lines(text: str) -> tuple[list[int], list[int]]:
    """Marker positions: 1-based line numbers where a call starts, and its iteration (-1 for
    warm-up calls, -2 after the last call)."""
    starts, iterations = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("mxprof_"):
            tag, _, value = line.partition(",")
            starts.append(number)
            iterations.append(int(value) if tag == "mxprof_iter" else
                              -1 if tag == "mxprof_warmup" else -2)
    return starts, iterations


def parse_worker_stdout(text: str) -> tuple[list[Primitive], int, str, str]:
    """Exec lines with their iteration; the oneDNN version and ISA from the header lines.

    The lines are parsed by the shared scanner (`mxprof.onednn.verbose.parse`); the worker's marker
    lines place each primitive in its call.
    """
    from mxprof.onednn import verbose
    log = verbose.parse(text.encode("utf-8", "surrogateescape"))
    starts, iterations = iteration_of_lines(text)
    prims: list[Primitive] = []
    rows = log.exec()[["kind", "impl", "mds", "attrs", "problem", "time_ms", "line_no"]]
    for kind, impl, mds, attrs, problem, ms, line_no in rows.itertuples(index=False):
        at = bisect.bisect_right(starts, int(line_no)) - 1
        if at < 0 or iterations[at] == -2:
            continue  # before the first call (model build) or after the last
        prims.append(Primitive(iterations[at], str(kind), str(impl), str(mds),
                               str(attrs).strip(), str(problem), float(ms)))
    seen = max((i + 1 for i in iterations), default=0)
    header = log.header
    version = f"{header['library']} v{header['version']}" if header.get("version") else ""
    return prims, seen, version, header.get("isa") or ""


def node_order(graph: dict) -> list[tuple[str, str]]:
    """(name, op) of the graph's operator nodes in execution order."""
    return [(n["name"], n["op"]) for n in graph["nodes"] if n["op"] != "null"]


def assign_nodes(prims: list[Primitive], graph: dict) -> list[Primitive]:
    """Charge every primitive of each iteration to a graph node (see the module docstring)."""
    nodes = [(name, PRIMITIVE_KINDS.get(op, frozenset())) for name, op in node_order(graph)]
    out: list[Primitive] = []
    by_iter: dict[int, list[Primitive]] = {}
    for p in prims:
        by_iter.setdefault(p.iteration, []).append(p)
    for _, run in sorted(by_iter.items()):
        cursor, pending = 0, []
        for p in run:
            if p.kind == "reorder":
                pending.append(p)
                continue
            hit = next((i for i in range(cursor, len(nodes)) if p.kind in nodes[i][1]), None)
            if hit is None:
                # Node order and primitives disagree (e.g. an operator we do not know):
                # keep the primitive, unassigned, rather than guess.
                out.extend(pending)
                out.append(p)
                pending = []
                continue
            name = nodes[hit][0]
            out.extend(_with_node(q, name) for q in pending)
            out.append(_with_node(p, name))
            pending, cursor = [], hit + 1
        # Trailing reorders (output back to a plain layout) belong to the last node.
        last = out[-1].node if out else ""
        out.extend(_with_node(q, last) for q in pending)
    return out


def _with_node(p: Primitive, node: str) -> Primitive:
    return Primitive(p.iteration, p.kind, p.impl, p.mds, p.attrs, p.problem, p.ms, node)


def build_trace(stdout_text: str, graph: dict) -> Trace:
    prims, iterations, version, isa = parse_worker_stdout(stdout_text)
    return Trace(tuple(assign_nodes(prims, graph)), iterations, version, isa)


def node_ms_per_iteration(trace: Trace) -> dict[str, list[float]]:
    """node -> primitive ms in each steady iteration (0.0 where a node ran none that time)."""
    series: dict[str, list[float]] = {}
    for p in trace.steady():
        row = series.setdefault(p.node, [0.0] * trace.iterations)
        row[p.iteration] += p.ms
    return series
