"""Why fusion won or lost, read from the primitive log: rules that yield findings with a fix.

Input: `fusion_trace.Trace` of the fused and of the unfused run (primitives assigned to graph
nodes, steady iterations only). The primitive tests (layouts, weight reorders, reference
kernels) are shared with `profile` in `mxprof.onednn.findings`. Rules:

- `weights_reordered_every_call`: a reorder into a blocked weight layout (`Acdb64a`, `ABcd16b16a`:
  the outermost, output-channel dimension blocked) runs in every iteration. The weights never
  change, so they should be reordered once; in MXNet 1.9.1 this is what `optimize_for` without
  `static_alloc=True, static_shape=True` does to every fused convolution.
- `reference_kernels`: compute primitives on `ref:*` or `gemm:blas` implementations (a slow path).
- `plain_layouts`: convolutions on plain `abcd` (NCHW/OIHW) tensors where oneDNN picks blocked or
  channels-last layouts when it is free to.
- `fusion_added_reorders`: the fused graph runs more data reorders per call than the unfused one.

`group_reason` explains one fused group at primitive level (post-ops merged, primitives removed,
reorders added or removed).
"""

from __future__ import annotations

from collections import Counter

from mxprof.jobs.fusion.trace import Primitive, Trace
from mxprof.onednn import findings as shared
from mxprof.onednn.findings import memory_tags

__all__ = ["Finding", "diagnose", "finding", "group_reason", "is_weight_reorder",
           "memory_tags", "static_fix"]

Finding = shared.Finding  # the one findings record, with profile's diagnosis


def finding(rule: str, severity: str, graph: str, title: str, evidence: str, fix: str,
            nodes, ms_per_iteration: float) -> Finding:
    """A fusion finding in the one record: `nodes` are its layers, its effect the primitive
    ms per iteration at stake; severity "high" (costs time now), "medium" (likely a slow
    path) or "info"; graph "fused", "unfused" or "machine"."""
    return Finding(rule, title, tuple(nodes), evidence, fix,
                   {"ms_per_iter": ms_per_iteration}, severity=severity, graph=graph)


def is_weight_reorder(p: Primitive) -> bool:
    return shared.is_weight_reorder(p.kind, p.mds)


def _per_iter(prims, trace: Trace) -> float:
    return len(prims) / max(trace.iterations, 1)


def _ms_per_iter(prims, trace: Trace) -> float:
    return sum(p.ms for p in prims) / max(trace.iterations, 1)


def _top_nodes(prims, limit: int = 5) -> tuple[str, ...]:
    return tuple(n for n, _ in Counter(p.node for p in prims).most_common(limit))


def weights_reordered_every_call(trace: Trace, graph: str, fix: str) -> list[Finding]:
    steady = trace.steady()
    weights = [p for p in steady if is_weight_reorder(p)]
    iters_with = {p.iteration for p in weights}
    if not weights or len(iters_with) < trace.iterations:
        return []  # a one-off reorder (first call, cache refill) is fine
    total = _ms_per_iter(steady, trace) or 1.0
    ms = _ms_per_iter(weights, trace)
    return [finding(
        "weights_reordered_every_call", "high", graph,
        "weights are reordered on every call",
        f"{_per_iter(weights, trace):.0f} weight reorders per iteration into blocked layouts "
        f"({', '.join(sorted({memory_tags(p.mds)['dst'] for p in weights})[:4])}), "
        f"{ms:.3f} ms per iteration = {ms / total * 100:.1f}% of primitive time, "
        f"in all {trace.iterations} measured iterations",
        fix, _top_nodes(weights), ms)]


def reference_kernels(trace: Trace, graph: str) -> list[Finding]:
    slow = [p for p in trace.steady() if p.kind != "reorder"
            and (shared.is_reference_impl(p.kind, p.impl) or "gemm:blas" in p.impl)]
    if not slow:
        return []
    kinds = Counter(f"{p.kind} {p.impl}" for p in slow)
    mixed = [p for p in slow if p.kind == "sum"
             and len({t for t in memory_tags(p.mds).values()}) > 1]
    fix = ("these inputs arrive in different layouts, so oneDNN falls back to a reference sum: "
           "fuse the sum into the convolution (optimize_for with MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM "
           "unset) or keep both branches in one layout" if mixed else
           "reference kernels mean oneDNN found no optimised implementation for this shape, "
           "layout or data type: check the layouts in the log and the oneDNN ISA")
    return [finding(
        "reference_kernels", "medium", graph, "reference (unoptimised) oneDNN kernels run",
        "; ".join(f"{n / max(trace.iterations, 1):.0f}x {k} per iteration"
                  for k, n in kinds.most_common()),
        fix, _top_nodes(slow), _ms_per_iter(slow, trace))]


def plain_layouts(trace: Trace, graph: str) -> list[Finding]:
    plain = [p for p in trace.steady() if p.kind in ("convolution", "deconvolution")
             and any(shared.is_plain(t) for a, t in memory_tags(p.mds).items() if a in ("src", "wei"))]
    if not plain:
        return []
    return [finding(
        "plain_layouts", "medium", graph, "convolutions run on plain NCHW/OIHW layouts",
        f"{_per_iter(plain, trace):.0f} convolutions per iteration with plain src or weights "
        f"({', '.join(sorted({p.impl for p in plain}))})",
        "oneDNN runs fastest on blocked or channels-last layouts it chooses itself; plain tensors "
        "here usually mean MKL-DNN is off for the operator (MXNET_MKLDNN_ENABLED) or an "
        "unsupported shape/dtype forces the generic path",
        _top_nodes(plain), _ms_per_iter(plain, trace))]


def fusion_added_reorders(fused: Trace, unfused: Trace) -> list[Finding]:
    def data_reorders(t: Trace):
        return [p for p in t.steady() if p.kind == "reorder" and not is_weight_reorder(p)]

    f, u = data_reorders(fused), data_reorders(unfused)
    extra = _per_iter(f, fused) - _per_iter(u, unfused)
    if extra < 1:
        return []
    ms = _ms_per_iter(f, fused) - _ms_per_iter(u, unfused)
    return [finding(
        "fusion_added_reorders", "info", "fused", "fusion added data reorders",
        f"{_per_iter(f, fused):.0f} data reorders per iteration fused vs "
        f"{_per_iter(u, unfused):.0f} unfused ({ms:+.3f} ms per iteration)",
        "a fused primitive picked another layout than its neighbours; usually small, but "
        "check the listed nodes if the group table shows a loss there",
        _top_nodes(f), ms)]


def static_fix(path: str) -> str:
    if path == "symbolic":
        return ("bind the executor once and reuse it; in Gluon use "
                "net.optimize_for(x, backend='MKLDNN', static_alloc=True, static_shape=True)")
    return ("call net.optimize_for(x, backend='MKLDNN', static_alloc=True, static_shape=True) "
            "(and hybridize(static_alloc=True, static_shape=True)), so fused convolutions keep "
            "their reordered weights between calls")


def diagnose(fused: Trace, unfused: Trace, path: str = "gluon") -> tuple[Finding, ...]:
    findings: list[Finding] = []
    for graph, trace in (("fused", fused), ("unfused", unfused)):
        findings += weights_reordered_every_call(trace, graph, static_fix(path))
        findings += reference_kernels(trace, graph)
        findings += plain_layouts(trace, graph)
    findings += fusion_added_reorders(fused, unfused)
    order = {"high": 0, "medium": 1, "info": 2}
    return tuple(sorted(findings, key=lambda f: (order[f.severity], -f.ms_per_iteration)))


def group_reason(members: tuple[str, ...], fused_node: str, unfused: Trace,
                 fused: Trace) -> str:
    """One line: primitives before -> after, post-ops merged, reorders added or removed."""
    member_set = set(members)
    before = [p for p in unfused.steady() if p.node in member_set]
    after = [p for p in fused.steady() if p.node == fused_node]
    if not after:
        return "no oneDNN primitive seen for the fused node"

    def compute(ps):
        return [p for p in ps if p.kind != "reorder"]

    parts = [f"{_per_iter(compute(before), unfused):.0f} primitives -> "
             f"{_per_iter(compute(after), fused):.0f}"]
    post_ops = sorted({a.split(":")[1] for p in compute(after) for a in p.attrs.split()
                       if a.startswith("attr-post-ops:")})
    if post_ops:
        parts.append("post-ops " + ", ".join(post_ops))
    if any(p.kind == "batch_normalization" for p in before):
        parts.append("bn folded into weights")
    for label, pick in (("weight reorders", is_weight_reorder),
                        ("data reorders",
                         lambda p: p.kind == "reorder" and not is_weight_reorder(p))):
        b, a = _per_iter([p for p in before if pick(p)], unfused), \
            _per_iter([p for p in after if pick(p)], fused)
        if a != b:
            parts.append(f"{label}/call {b:.0f} -> {a:.0f}")
    impls = sorted({p.impl for p in compute(after)})
    parts.append("impl " + ", ".join(impls))
    return "; ".join(parts)
