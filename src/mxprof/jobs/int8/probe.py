"""The per-layer error pass, inside a worker: FP32 and INT8 activations of every layer, compared.

Contract: `layer_errors(fp32_block, qnet, probe, batch) -> list[dict]`, one dict per INT8-graph
node that stands for FP32 layers (mxprof.mx.int8graph.map_nodes), in graph order:
{node, op, role, layers, layer, accumulated {sqnr_db, cosine, norm_l2, max_abs},
local {...} | None, local_note}. `probe` is (N, ...) float32 inputs, run `batch` at a time;
each metric is summed over all N (mxprof.jobs.int8.numerics), so activations of one batch are
held at a time. The FP32 activations of a batch are computed once and feed both the
accumulated comparison and every local one.

- accumulated: each model on its own input; the INT8 value of a quantized output is
  dequantized with the node's own min/max.
- local: the INT8 node alone, fed the FP32 values of its inputs (quantized with the producer's
  calibrated range where the INT8 model passes int8 between layers); `local_note` says why a
  node has none (mxprof.mx.int8graph.LocalUnavailable).
"""

from __future__ import annotations

import json

import numpy as np

from mxprof.jobs.int8.numerics import ErrorSums
from mxprof.mx import int8graph


def graph_of(block):
    """The symbol a hybridized, called block runs."""
    return block._cached_graph[1]


def params_of(block) -> dict:
    return {name: p.data() for name, p in block.collect_params().items()}


def symbol_block(symbol, inputs: list[str], params: dict):
    """A SymbolBlock over `symbol` holding the named weights of another block."""
    import mxnet as mx

    net = mx.gluon.SymbolBlock(symbol, [mx.sym.var(n) for n in inputs])
    for name, param in net.collect_params().items():
        param._load_init(params[name], mx.cpu(), cast_dtype=True, dtype_source="saved")
    net.hybridize(static_alloc=True)
    return net


def _grouped(taps: dict, params: dict, data_name: str):
    import mxnet as mx

    names = list(taps)
    return names, symbol_block(mx.sym.Group([taps[n] for n in names]), [data_name], params)


def _local_blocks(qjson: dict, nodes, params: dict) -> tuple[dict, dict]:
    import mxnet as mx

    blocks, notes = {}, {}
    for node in nodes:
        if node.role != "int8":
            continue
        try:
            text, feeds = int8graph.local_graph(qjson, nodes, node.name)
            blocks[node.name] = (symbol_block(mx.sym.load_json(text), [v for v, _ in feeds],
                                              params), [layer for _, layer in feeds])
        except (int8graph.LocalUnavailable, KeyError, mx.base.MXNetError) as exc:
            notes[node.name] = str(exc).splitlines()[0][:200]
    return blocks, notes


def layer_errors(fp32_block, qnet, probe: np.ndarray, batch: int,
                 data_name: str = "data") -> list[dict]:
    """See the module docstring."""
    import mxnet as mx

    fsym, qsym = graph_of(fp32_block), graph_of(qnet)
    fjson, qjson = json.loads(fsym.tojson()), json.loads(qsym.tojson())
    fp32_names = int8graph.op_names(fjson)
    nodes = int8graph.map_nodes(qjson, fp32_names)
    qparams = params_of(qnet)
    local, notes = _local_blocks(qjson, nodes, qparams)
    qnames, qtaps = _grouped(int8graph.taps(qsym, nodes), qparams, data_name)
    wanted = set(qnames) | {layer for _, feeds in local.values() for layer in feeds}
    wanted &= set(fp32_names)
    fnames, ftaps = _grouped(int8graph.fp32_outputs(fsym, sorted(wanted)),
                             params_of(fp32_block), data_name)
    acc = {n: ErrorSums() for n in qnames}
    loc = {n: ErrorSums() for n in local}
    for i in range(0, len(probe), batch):
        x = mx.nd.array(probe[i:i + batch])
        fvals = dict(zip(fnames, (o.asnumpy() for o in ftaps(x))))
        fvals[data_name] = probe[i:i + batch]
        for name, out in zip(qnames, qtaps(x)):
            if name in fvals:
                acc[name].add(fvals[name], out.asnumpy())
        for name, (block, feeds) in local.items():
            node = next(n for n in nodes if n.name == name)
            out = block(*[mx.nd.array(fvals[f]) for f in feeds])
            loc[name].add(fvals[node.output_layer], out.asnumpy())
    return [_row(node, acc, loc, notes) for node in nodes
            if node.role in ("int8", "fp32") and node.output_layer in acc]


def _row(node, acc: dict, loc: dict, notes: dict) -> dict:
    local = loc[node.name].result() if node.name in loc else None
    note = notes.get(node.name)
    if node.role == "fp32":
        note = "runs in FP32"
    return {"node": node.name, "op": node.op, "role": node.role, "layers": list(node.layers),
            "layer": node.output_layer, "accumulated": acc[node.output_layer].result(),
            "local": local, "local_note": note}
