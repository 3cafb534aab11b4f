"""The one answer to "does this network run MXNet's RNN operator?", and the reference path such a
network needs, for every job (profile, accuracy, compare, fusion).

MXNet 1.9.1 with MXNET_MKLDNN_ENABLED=0 fails on every fused RNN call ("Check failed:
in_data.size() == num_inputs (4 vs. 3)" in rnn-inl.h, checked with one gluon.rnn.LSTM
imperative and hybridized): for RNN networks the reference path is MKL-DNN's own switch for RNN
layers, MXNET_USE_MKLDNN_RNN=0, with the other operators still on MKL-DNN.

`has_rnn(spec)` knows mxprof's own zoo (GNMT; the Gluon and GluonCV vision nets have none) and
reads an exported symbol's graph (`--symbol X-symbol.json`) for an RNN node, without MXNet. A
`FILE.py:FACTORY` model is only known once built: the pre-run check records it in `spec.rnn`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import msgspec

from mxprof.mx import zoo

if TYPE_CHECKING:
    from mxprof.mx.models import ModelSpec

RNN_REFERENCE_ENV = {"MXNET_MKLDNN_ENABLED": "1", "MXNET_USE_MKLDNN_RNN": "0"}
RNN_REFERENCE_NOTE = ("reference for RNN models: MXNET_USE_MKLDNN_RNN=0 (MXNet's own RNN "
                      "kernels; other operators stay on MKL-DNN), since MXNET_MKLDNN_ENABLED=0 "
                      "fails on the RNN operator in MXNet 1.9.1")
RNN_OPS = ("RNN",)


def has_rnn(spec: ModelSpec) -> bool:
    """Whether the network runs the fused RNN operator: a zoo entry of category RNN, or an
    exported symbol whose graph holds an RNN node, or what the pre-run check found in a factory's
    or symbol's graph (`spec.rnn`, set by mxprof.jobs.model_check). A symbol file that cannot be
    read answers False: the worker that loads it reports the error."""
    if spec.rnn is not msgspec.UNSET:
        return bool(spec.rnn)
    if spec.source == "mxprof":
        entry = zoo.lookup(spec.name)
        return entry is not None and entry.category == "RNN"
    if spec.source == "symbol" and spec.symbol_path:
        return symbol_has_rnn(spec.symbol_path)
    return False


def symbol_has_rnn(path: str) -> bool:
    """Whether the symbol JSON at `path` holds an RNN node (False when unreadable)."""
    try:
        with open(path) as f:
            graph = json.load(f)
    except (OSError, ValueError):
        return False
    nodes = graph.get("nodes", ()) if isinstance(graph, dict) else ()
    return any(isinstance(n, dict) and n.get("op") in RNN_OPS for n in nodes)
