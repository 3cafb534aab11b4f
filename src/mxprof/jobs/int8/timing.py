"""Per-layer times merged into the per-layer error rows (pure).

`merge_times(rows, times) -> rows`: `times` is the layers task's data (mxprof.jobs.int8.worker):
for the INT8 and the fused FP32 graph, each node's median ms per call with its role and FP32
layers (mxprof.mx.int8graph). For each row (an INT8-graph node):
- int8_ms: that node's time (an FP32 row: the same node, which runs in FP32 in both graphs);
- fp32_ms: the fused FP32 nodes that cover any of the row's layers (fusion differs a little
  between the FP32 and the INT8 backends, so a fused FP32 node may count toward two rows);
- reorder_ms / impl: from the primitive pass (`times["primitives"]`: per INT8-graph node,
  reorder ms per call and the longest primitive's implementation), over the node and its
  boundary nodes;
- boundary_ms: the dequantize/requantize nodes that convert this node's output (traced through
  the graph), plus the quantize nodes that run right before it (in execution order: they
  quantize its FP32 inputs); `boundary` names them.
"""

from __future__ import annotations

import msgspec

from mxprof.jobs.int8.records import LayerRow


def _boundary(int8_nodes: list[dict]) -> dict[str, list[dict]]:
    """Row node name -> its boundary nodes."""
    out: dict[str, list[dict]] = {}
    pending: list[dict] = []
    by_layer: dict[str, str] = {}
    for node in int8_nodes:
        role = node["role"]
        if role == "quantize":
            pending.append(node)
        elif role in ("dequantize", "requantize") and node.get("output_layer") in by_layer:
            out.setdefault(by_layer[node["output_layer"]], []).append(node)
        elif role in ("int8", "fp32"):
            by_layer[node.get("output_layer")] = node["node"]
            if pending:
                out.setdefault(node["node"], []).extend(pending)
                pending = []
    return out


def _reorders(prims: dict, nodes: list[str]) -> float | None:
    found = [prims[n]["reorder_ms"] for n in nodes if n in prims]
    return sum(found) if found else None


def merge_times(rows: list[LayerRow], times: dict) -> list[LayerRow]:
    int8 = {n["node"]: n for n in times.get("int8", [])}
    fp32 = times.get("fp32", [])
    boundary = _boundary(times.get("int8", []))
    prims = times.get("primitives") or {}
    out = []
    for row in rows:
        layers = set(row.layers)
        covering = [n["ms"] for n in fp32 if layers & set(n["layers"])]
        extra = boundary.get(row.node, [])
        out.append(msgspec.structs.replace(
            row, int8_ms=int8[row.node]["ms"] if row.node in int8 else None,
            fp32_ms=sum(covering) if covering else None,
            boundary_ms=sum(n["ms"] for n in extra) if extra else None,
            boundary=tuple(n["node"] for n in extra),
            reorder_ms=_reorders(prims, [row.node, *(n["node"] for n in extra)]),
            impl=(prims.get(row.node) or {}).get("impl")))
    return out
