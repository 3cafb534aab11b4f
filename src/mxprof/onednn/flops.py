"""Floating-point operations of one call of a oneDNN primitive: the one place that counts them
(pure functions; descriptors as the verbose log prints them, every generation, see
docs/onednn-verbose-formats.md, read by mxprof.onednn.descriptors).

- `flops(kind, problem, mds, aux)`: every kind. Convolution, inner product and matmul as
  2 x multiply-adds (`problem_flops`); deconvolution: every source pixel meets every kernel tap;
  pooling one operation per window element per output; eltwise, sum and binary one per output
  element (per input for sum); batch / layer normalisation 2 per element with global
  statistics (scale and shift), 5 when the statistics are computed (mean, variance,
  normalise); RNN 2 x gates x DHC x (SLC + SIC) per cell, cells = layers x directions x time x
  MB (gates: LSTM 4, GRU 3, RNN 1; the descriptor lacks them, the aux field's alg: gives
  them); reorder 0. None when the descriptor cannot be read.
- `problem_flops(kind, problem)`: the kinds whose FLOPs their shapes fix (`FLOP_KINDS`).
- `gflops_table(prims)` sets those against the times of a primitive table
  (mxprof.onednn.verbose.VerboseLog.primitives).
mxprof.onednn.work adds the bytes moved; mxprof.onednn.attribution the GFLOP/s per layer.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mxprof.onednn.descriptors import memory_dtypes, problem_dims, problem_elements

FLOP_KINDS = ("convolution", "inner_product", "matmul")
# The kinds whose GFLOP/s a layer table shows: FLOP_KINDS and RNN (its aux field completes it).
GFLOP_KINDS = (*FLOP_KINDS, "rnn")
RNN_GATES = {"vanilla_lstm": 4, "vanilla_gru": 3, "lbr_gru": 3, "vanilla_rnn": 1,
             "vanilla_augru": 3, "lbr_augru": 3}


def problem_flops(kind: str, problem: str) -> float | None:
    """Floating-point operations of one call from its problem descriptor; None if unknown.

    convolution 2*MB*OC*(IC/G)*OD*OH*OW*KD*KH*KW; inner product 2*MB*IC*OC*ID*IH*IW;
    matmul 2*prod(dst dims)*K (src:wei[:dst] dims, or m/n/k in v1.0-1.7).
    """
    try:
        if kind == "convolution":
            d = problem_dims(problem)
            g = d.get("g", 1)
            if g <= 0 or not {"mb", "ic", "oc"} <= d.keys():
                return None
            spatial = 1
            for axis in "dhw":
                spatial *= d.get("o" + axis, 1) * d.get("k" + axis, 1)
            return 2.0 * d["mb"] * d["oc"] * (d["ic"] / g) * spatial
        if kind == "inner_product":
            d = problem_dims(problem)
            if not {"mb", "ic", "oc"} <= d.keys():
                return None
            return 2.0 * d["mb"] * d["ic"] * d["oc"] * d.get("id", 1) * d.get("ih", 1) * d.get("iw", 1)
        if kind == "matmul":
            return _matmul_flops(problem)
    except (ValueError, OverflowError):
        return None
    return None


def _matmul_flops(problem: str) -> float | None:
    if ":" not in problem:  # v1.0-1.7: [b..]m..n..k..
        d = problem_dims(problem)
        if not {"m", "n", "k"} <= d.keys():
            return None
        return 2.0 * d.get("b", d.get("mb", 1)) * d["m"] * d["n"] * d["k"]
    shapes = [[int(x) for x in s.split("x")] for s in problem.split("_")[0].split(":")[:2]]
    src, wei = shapes
    if len(src) < 2 or len(wei) < 2 or src[-1] != wei[-2]:
        return None
    batch = [max(a, b) for a, b in zip(_pad(src[:-2], wei[:-2]), _pad(wei[:-2], src[:-2]))]
    return 2.0 * math.prod(batch) * src[-2] * wei[-1] * src[-1]


def _pad(dims: list[int], other: list[int]) -> list[int]:
    return [1] * (len(other) - len(dims)) + dims


def flops(kind: str, problem: str, mds: str = "", aux: str = "") -> float | None:
    """Floating-point operations of one call of any kind (see the module docstring); None
    when the descriptor cannot be read."""
    kind, problem = str(kind), str(problem)
    if kind.startswith("pooling"):
        kind = "pooling"
    try:
        if kind in FLOP_KINDS:
            return problem_flops(kind, problem)
        return _OTHER.get(kind, _elementwise)(kind, problem, str(mds), str(aux))
    except (ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None


def _deconvolution(kind: str, problem: str, mds: str, aux: str) -> float | None:
    if problem_flops("convolution", problem) is None:  # the same descriptor checks
        return None
    d = problem_dims(problem)
    return 2.0 * d["mb"] * d["ic"] * (d["oc"] / d.get("g", 1)) * math.prod(
        d.get("i" + a, 1) * d.get("k" + a, 1) for a in "dhw")


def _pooling(kind: str, problem: str, mds: str, aux: str) -> float | None:
    d = problem_dims(problem)
    if not {"mb", "ic"} <= d.keys():
        return None
    dst = d["mb"] * d["ic"] * math.prod(d.get("o" + a, 1) for a in "dhw")
    return float(dst * math.prod(d.get("k" + a, 1) for a in "dhw"))


def normalization_global_stats(aux: str) -> bool:
    """flags G (v1.1+) / bit 1 (v0.x-1.0 flags:3): global statistics given, not computed."""
    flags = aux.split("flags:")[1].split()[0] if "flags:" in aux else ""
    return "G" in flags or bool(flags.isdigit() and int(flags) & 1)


def _normalization(kind: str, problem: str, mds: str, aux: str) -> float | None:
    n = problem_elements(problem)
    if n is None:
        return None
    return (2.0 if normalization_global_stats(aux) else 5.0) * n


def _reorder(kind: str, problem: str, mds: str, aux: str) -> float | None:
    return None if problem_elements(problem) is None else 0.0


def _elementwise(kind: str, problem: str, mds: str, aux: str) -> float | None:
    """eltwise, sum, binary, softmax, lrn, concat...: one operation per element and input."""
    n = problem_elements(problem)
    if n is None:
        return None
    dt = memory_dtypes(mds)
    inputs = len(dt.get("src", [])) or len(dt.get("in", [])) or 1
    return n * max(inputs - (1 if kind == "sum" else 0), 1)


def rnn_shape(problem: str, aux: str) -> dict[str, int] | None:
    """An RNN descriptor's sizes (l, t, mb, slc, sic, dhc, dic) with its gate count and
    directions from the aux field (alg:, direction:); None without t, mb, slc, sic, dhc."""
    d = problem_dims(problem)
    if not {"t", "mb", "slc", "sic", "dhc"} <= d.keys():
        return None
    alg = aux.split("alg:")[1].split()[0] if "alg:" in aux else "vanilla_lstm"
    return {**d, "l": d.get("l", 1), "dic": d.get("dic", d["dhc"]),
            "gates": RNN_GATES.get(alg, 4), "dirs": 2 if "bidirectional" in aux else 1}


def _rnn(kind: str, problem: str, mds: str, aux: str) -> float | None:
    r = rnn_shape(problem, aux)
    if r is None:
        return None
    cells = r["l"] * r["dirs"] * r["t"] * r["mb"]
    return 2.0 * cells * r["gates"] * r["dhc"] * (r["slc"] + r["sic"])


_OTHER = {"deconvolution": _deconvolution, "pooling": _pooling,
          "batch_normalization": _normalization, "layer_normalization": _normalization,
          "reorder": _reorder, "rnn": _rnn}


def gflops_table(prims: pd.DataFrame, aggregate: bool = True) -> pd.DataFrame:
    """GFLOP/s of convolution, inner product and matmul exec rows.

    Per row: flops, gflops = flops / (time_ms * 1e6). Aggregated per (kind, impl, problem):
    calls, total_ms, flops per call, and GFLOP/s over the group's total time.
    """
    rows = prims[(prims["operation"] == "exec") & prims["kind"].isin(FLOP_KINDS)]
    cols = ["kind", "impl", "prop_kind", "problem", "time_ms"]
    rows = rows[cols].astype({"kind": str, "impl": str, "prop_kind": str, "problem": str})
    cache: dict[tuple[str, str], float | None] = {}
    flops = []
    for kind, problem in zip(rows["kind"], rows["problem"]):
        key = (kind, problem)
        if key not in cache:
            cache[key] = problem_flops(kind, problem)
        flops.append(cache[key])
    rows = rows.assign(flops=np.array([np.nan if f is None else f for f in flops], dtype=float))
    if not aggregate:
        return rows.assign(gflops=rows["flops"] / (rows["time_ms"] * 1e6))
    out = (rows.groupby(["kind", "impl", "problem"], sort=False)
           .agg(calls=("time_ms", "count"), total_ms=("time_ms", "sum"), flops=("flops", "first")))
    out["gflops"] = out["flops"] * out["calls"] / (out["total_ms"] * 1e6)
    return out.sort_values("total_ms", ascending=False)
