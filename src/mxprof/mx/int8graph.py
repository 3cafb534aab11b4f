"""An INT8 graph read against the FP32 graph it came from (MXNet 1.9.1, MKLDNN_QUANTIZE backend).

`quantize_net` fuses and quantizes in one go, so the INT8 graph's node names are not the FP32
layers' names: `quantized_sg_mkldnn_conv_bn_act_0` stands for conv0_fwd + batchnorm0_fwd +
relu0_fwd (its `subgraphs` keep their FP32 names), `quantized_plus0` for `plus0`, and
`_contrib_quantize_v2` / `_contrib_dequantize` / `_contrib_requantize` nodes are the boundary
work between FP32 and INT8 regions. This module maps each node to the FP32 layers it stands for
and builds, from a symbol, what the per-layer comparison feeds:

- `map_nodes(symbol_json, fp32_names) -> [GraphNode8]`: role, absorbed FP32 layers, the FP32
  layer whose output the node's first output is, and whether that output is quantized.
- `taps(symbol, nodes) -> {fp32 layer: float Symbol}`: each layer's output as float32 (a
  quantized output is dequantized with its own min/max outputs).
- `local_graph(symbol_json, nodes, name) -> (json, [(input var, fp32 layer)])`: the one INT8
  node fed FP32 values (quantized with the producer's calibrated range, as the INT8 model would),
  or LocalUnavailable saying why the graph does not allow it.

Pure JSON work except `taps` and `fp32_outputs`, which build MXNet symbols (mxnet imported on
call).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

QUANTIZE_OPS = ("_contrib_quantize_v2", "_contrib_quantize")
DEQUANTIZE_OPS = ("_contrib_dequantize",)
REQUANTIZE_OPS = ("_contrib_requantize",)
QUANTIZED_PREFIX = "quantized_"


class LocalUnavailable(ValueError):
    """The node cannot be run alone on FP32 inputs; the message says why."""


@dataclass(frozen=True)
class GraphNode8:
    """One operator node of an INT8 (or fused FP32) graph.

    role: "int8" (a quantized compute node), "fp32" (a float compute node), "quantize",
    "dequantize", "requantize" (boundary work), or "other" (not traced to an FP32 layer).
    `layers`: the FP32 layers it absorbed, in graph order; `output_layer`: the FP32 layer whose
    output its first output is (None for boundary nodes); `quantized_output`: that output is
    int8/uint8 with min/max as outputs 1 and 2.
    """

    index: int
    name: str
    op: str
    role: str
    layers: tuple[str, ...]
    output_layer: str | None
    quantized_output: bool
    inputs: tuple[tuple[int, int], ...]


def op_names(symbol_json: dict) -> list[str]:
    """Names of the operator (non-variable) nodes, in graph order."""
    return [n["name"] for n in symbol_json["nodes"] if n["op"] != "null"]


def _absorbed(node: dict, fp32: set[str]) -> tuple[str, ...]:
    inner = [n["name"] for sg in node.get("subgraphs", ()) for n in sg["nodes"]
             if n["op"] != "null" and n["name"] in fp32]
    return tuple(inner)


def _quantized_out(node: dict) -> bool:
    """Whether output 0 is quantized: quantize/requantize always; a quantized compute node
    unless it was told to emit float (the last layer often is: `enable_float_output`)."""
    attrs = node.get("attrs", {})
    if node["op"] in QUANTIZE_OPS + REQUANTIZE_OPS:
        return True
    if node["op"].startswith("_sg_mkldnn"):
        return attrs.get("enable_float_output", "False") not in ("True", "true", "1")
    return node["op"].startswith("_contrib_quantized")


def _role(node: dict, fp32: set[str]) -> tuple[str, tuple[str, ...]]:
    op, name = node["op"], node["name"]
    if op in QUANTIZE_OPS:
        return "quantize", ()
    if op in DEQUANTIZE_OPS:
        return "dequantize", ()
    if op in REQUANTIZE_OPS:
        return "requantize", ()
    quantized = name.startswith(QUANTIZED_PREFIX)
    layers = _absorbed(node, fp32)
    if not layers:
        base = name[len(QUANTIZED_PREFIX):] if quantized else name
        layers = (base,) if base in fp32 else ()
    if not layers:
        return "other", ()
    return ("int8" if quantized else "fp32"), layers


def map_nodes(symbol_json: dict, fp32_names: list[str] | set[str]) -> list[GraphNode8]:
    """Every operator node of `symbol_json` (a graph's parsed JSON) with its FP32 layers."""
    fp32 = set(fp32_names)
    nodes = symbol_json["nodes"]
    out: dict[int, GraphNode8] = {}
    for i, node in enumerate(nodes):
        if node["op"] == "null":
            continue
        role, layers = _role(node, fp32)
        inputs = tuple((int(e[0]), int(e[1])) for e in node["inputs"])
        output_layer = layers[-1] if layers else None
        if role in ("dequantize", "requantize") and inputs and inputs[0][0] in out:
            output_layer = out[inputs[0][0]].output_layer  # the same tensor, another dtype
        quantized = (role == "int8" and _quantized_out(node)) or role in ("quantize", "requantize")
        out[i] = GraphNode8(i, node["name"], node["op"], role, layers, output_layer,
                            quantized, inputs)
    return list(out.values())


def tensor_layer(symbol_json: dict, by_index: dict[int, GraphNode8], entry: tuple[int, int]) \
        -> str | None:
    """The FP32 layer (or graph input name) whose value flows on edge `entry` (float view)."""
    src = symbol_json["nodes"][entry[0]]
    if src["op"] == "null":
        return src["name"]
    node = by_index[entry[0]]
    if node.role == "quantize":
        return tensor_layer(symbol_json, by_index, node.inputs[0])
    return node.output_layer


def _first_output(internals, name: str) -> int:
    names = internals.list_outputs()
    for candidate in (f"{name}_output", f"{name}_output0"):
        if candidate in names:
            return names.index(candidate)
    raise KeyError(f"no output of node {name!r} in the graph")


def taps(symbol, nodes: list[GraphNode8]):
    """{fp32 layer: float32 Symbol of its value in this graph} for every compute node that
    stands for a layer; the last node standing for a layer wins (a dequantize after it)."""
    import mxnet as mx

    internals = symbol.get_internals()
    out = {}
    for node in nodes:
        if node.role not in ("int8", "fp32") or node.output_layer is None:
            continue
        i = _first_output(internals, node.name)
        if node.quantized_output:
            out[node.output_layer] = mx.sym.contrib.dequantize(
                internals[i], internals[i + 1], internals[i + 2], out_type="float32")
        else:
            out[node.output_layer] = internals[i]
    return out


def fp32_outputs(symbol, names: list[str]):
    """{layer: Symbol} of the named FP32 layers' first outputs."""
    internals = symbol.get_internals()
    return {name: internals[_first_output(internals, name)] for name in names}


# Quantized operators that pass their input's range through unchanged (no requantization).
RANGE_KEEPING = ("_contrib_quantized_pooling", "_contrib_quantized_flatten")


def _calibrated_range(graph: dict, node: dict) -> tuple[float, float] | None:
    attrs = node.get("attrs", {})
    if "min_calib_range" in attrs and "max_calib_range" in attrs:
        return float(attrs["min_calib_range"]), float(attrs["max_calib_range"])
    if node["op"] in RANGE_KEEPING and node["inputs"]:
        return _calibrated_range(graph, graph["nodes"][node["inputs"][0][0]])
    return None


class _Builder:
    """Collects the nodes of a small graph in JSON form."""

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.feeds: list[tuple[str, str]] = []  # (variable name, fp32 layer it takes)

    def add(self, node: dict) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def variable(self, name: str) -> int:
        return self.add({"op": "null", "name": name, "inputs": []})

    def feed(self, layer: str) -> int:
        var = f"mxprof_in{len(self.feeds)}"
        self.feeds.append((var, layer))
        return self.variable(var)


def _input_entry(b: _Builder, graph: dict, by_index: dict[int, GraphNode8],
                 entry: tuple[int, int], done: dict[int, int]) -> list[int]:
    src_i, out_i = entry
    src = graph["nodes"][src_i]
    if src["op"] == "null":
        if src_i not in done:
            done[src_i] = b.add(copy.deepcopy(src))
        return [done[src_i], out_i, 0]
    producer = by_index[src_i]
    layer = tensor_layer(graph, by_index, entry)
    if layer is None:
        raise LocalUnavailable(f"its input from {src['name']} is not an FP32 layer's output")
    if not producer.quantized_output:
        return [b.feed(layer), out_i, 0]
    if src_i not in done:
        if producer.role == "quantize":
            node = copy.deepcopy(src)
            node["inputs"] = [[b.feed(layer), 0, 0]]
        else:
            rng = _calibrated_range(graph, src)
            if rng is None:
                raise LocalUnavailable(f"{src['name']} has no calibrated range (its INT8 range "
                                       "is computed at run time)")
            node = {"op": "_contrib_quantize_v2", "name": f"mxprof_quantize_{src_i}",
                    "attrs": {"min_calib_range": repr(rng[0]), "max_calib_range": repr(rng[1]),
                              "out_type": "uint8" if rng[0] >= 0 else "int8"},
                    "inputs": [[b.feed(layer), 0, 0]]}
        done[src_i] = b.add(node)
    return [done[src_i], out_i, 0]


def local_graph(symbol_json: dict, nodes: list[GraphNode8], name: str) \
        -> tuple[str, list[tuple[str, str]]]:
    """The INT8 node `name` alone, fed FP32 layer values: -> (symbol JSON, [(input variable,
    FP32 layer or graph input it takes)]); its output is float32 (dequantized when quantized).
    Raises LocalUnavailable when an input is not traceable to an FP32 value or its INT8 range
    is not fixed (calib-mode none)."""
    by_index = {n.index: n for n in nodes}
    target = next(n for n in nodes if n.name == name)
    b = _Builder()
    done: dict[int, int] = {}
    inputs = [_input_entry(b, symbol_json, by_index, e, done) for e in target.inputs]
    node = copy.deepcopy(symbol_json["nodes"][target.index])
    node["inputs"] = inputs
    head = b.add(node)
    if target.quantized_output:
        head = b.add({"op": "_contrib_dequantize", "name": f"{name}_mxprof_dequantize",
                      "attrs": {"out_type": "float32"},
                      "inputs": [[head, 0, 0], [head, 1, 0], [head, 2, 0]]})
    graph = {"nodes": b.nodes, "heads": [[head, 0, 0]],
             "arg_nodes": [i for i, n in enumerate(b.nodes) if n["op"] == "null"],
             "attrs": symbol_json.get("attrs", {})}
    return json.dumps(graph), b.feeds
