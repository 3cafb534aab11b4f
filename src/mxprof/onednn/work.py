"""What one call of a oneDNN primitive computes and moves: FLOPs and bytes (pure functions).

Inputs: a primitive's kind, problem descriptor, memory descriptors and auxiliary field as the
verbose log prints them (any generation, see docs/onednn-verbose-formats.md). The roofline that
sets this work against the machine's ceilings is mxprof.onednn.roofline.

Work of one call (`work(kind, problem, mds, aux)`):
- FLOPs: `mxprof.onednn.flops.flops`, the one place that counts them (every kind);
- bytes moved: the source, weights (and bias) and destination tensor sizes x their dtype size,
  each tensor read or written once (a lower bound: caches hide re-reads, the roofline model's
  "compulsory traffic"). Dtypes come from the memory descriptors; MKL-DNN v0.x prints layouts
  only (`fsrc:nChw16c`): f32 there, as that generation ran FP32 alone.

`with_work(frame)` adds the work columns to a primitive table; `primitive_work` groups a
worker's attributed primitives per layer and descriptor (it needs no ceilings).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mxprof.onednn.descriptors import (
    memory_dtypes,
    problem_dims,
    problem_elements,
    problem_shapes,
)
from mxprof.onednn.flops import flops as flops_of
from mxprof.onednn.flops import rnn_shape
from mxprof.schema import Record

DTYPE_BYTES = {"f32": 4, "s32": 4, "f64": 8, "bf16": 2, "f16": 2, "s8": 1, "u8": 1, "s4": 0.5,
               "u4": 0.5, "f8_e5m2": 1, "f8_e4m3": 1}
INT8_TYPES = ("s8", "u8")


class Work(Record, frozen=True):
    """What one call of a primitive computes and moves: FLOPs, bytes per tensor role, and the
    compute type ("f32", "int8", "bf16") whose peak applies."""

    flops: float
    src_bytes: float
    wei_bytes: float
    dst_bytes: float
    compute: str = "f32"

    @property
    def bytes(self) -> float:
        return self.src_bytes + self.wei_bytes + self.dst_bytes

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved (0 when nothing is moved)."""
        return self.flops / self.bytes if self.bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        # The derived figures go into the dict too, as readers of the roofline expect them.
        return {**super().to_dict(), "bytes": self.bytes, "intensity": self.intensity}


# ---- bytes -----------------------------------------------------------------------------------

def _size(dtypes: dict[str, list[str]], arg: str, default: str = "f32") -> float:
    kinds = dtypes.get(arg) or ([default] if default else [])
    return float(DTYPE_BYTES.get(kinds[0], 4)) if kinds else 0.0


def _compute_type(dtypes: dict[str, list[str]]) -> str:
    first = [v[0] for k, v in dtypes.items() if k in ("src", "wei", "data", "in") and v]
    if any(t in INT8_TYPES for t in first):
        return "int8"
    if any(t == "bf16" for t in first):
        return "bf16"
    return "f32"


# ---- work per kind ---------------------------------------------------------------------------

def work(kind: str, problem: str, mds: str = "", aux: str = "") -> Work | None:
    """FLOPs and bytes of one call; None when the descriptor cannot be read."""
    kind, problem, mds, aux = str(kind), str(problem), str(mds), str(aux)
    if kind.startswith("pooling"):
        kind = "pooling"
    flops = flops_of(kind, problem, mds, aux)
    if flops is None:
        return None
    dtypes = memory_dtypes(mds)
    try:
        moved = _BYTES.get(kind, _elementwise)(kind, problem, dtypes, aux, flops)
    except (ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None
    return Work(flops, *moved, _compute_type(dtypes))


# Each: (src, weight, dst) bytes of one call, given its FLOPs (checked readable by flops_of).

def _convolution(kind, problem, dt, aux, flops):
    d = problem_dims(problem)
    src = d["mb"] * d["ic"] * math.prod(d.get("i" + a, 1) for a in "dhw")
    dst = d["mb"] * d["oc"] * math.prod(d.get("o" + a, 1) for a in "dhw")
    wei = d["oc"] * (d["ic"] // d.get("g", 1)) * math.prod(d.get("k" + a, 1) for a in "dhw")
    bias = d["oc"] * _size(dt, "bia", "")
    return src * _size(dt, "src"), wei * _size(dt, "wei") + bias, dst * _size(dt, "dst")


def _inner_product(kind, problem, dt, aux, flops):
    d = problem_dims(problem)
    spatial = d.get("id", 1) * d.get("ih", 1) * d.get("iw", 1)
    return (d["mb"] * d["ic"] * spatial * _size(dt, "src"),
            d["oc"] * d["ic"] * spatial * _size(dt, "wei") + d["oc"] * _size(dt, "bia", ""),
            d["mb"] * d["oc"] * _size(dt, "dst"))


def _matmul(kind, problem, dt, aux, flops):
    if ":" not in problem:
        d = problem_dims(problem)
        b = d.get("b", d.get("mb", 1))
        src, wei, dst = b * d["m"] * d["k"], b * d["k"] * d["n"], b * d["m"] * d["n"]
    else:
        shapes = problem_shapes(problem)
        src, wei = math.prod(shapes[0]), math.prod(shapes[1])
        dst = flops / (2 * shapes[0][-1])
    return src * _size(dt, "src"), wei * _size(dt, "wei"), dst * _size(dt, "dst")


def _pooling(kind, problem, dt, aux, flops):
    d = problem_dims(problem)
    src = d["mb"] * d["ic"] * math.prod(d.get("i" + a, 1) for a in "dhw")
    dst = d["mb"] * d["ic"] * math.prod(d.get("o" + a, 1) for a in "dhw")
    return src * _size(dt, "src"), 0.0, dst * _size(dt, "dst")


def _normalization(kind, problem, dt, aux, flops):
    n = problem_elements(problem)
    size = _size(dt, "src") if "src" in dt else _size(dt, "data")
    shapes = problem_shapes(problem)
    channels = shapes[0][1] if shapes and len(shapes[0]) > 1 \
        else problem_dims(problem).get("ic", 1)
    stats = 4 * channels * 4.0  # mean, variance, scale, shift in f32
    return n * size, stats, n * (_size(dt, "dst") if "dst" in dt else size)


def _reorder(kind, problem, dt, aux, flops):
    n = problem_elements(problem)
    src = _size(dt, "src") if "src" in dt else _size(dt, "in")
    dst = _size(dt, "dst") if "dst" in dt else _size(dt, "out")
    return n * src, 0.0, n * dst


def _elementwise(kind, problem, dt, aux, flops):
    """eltwise, sum, binary, softmax, lrn, concat...: every input read, the output written."""
    shapes = problem_shapes(problem)
    n = problem_elements(problem)
    inputs = len(dt.get("src", [])) or len(dt.get("in", [])) or 1
    in_sizes = [DTYPE_BYTES.get(t, 4) for t in (dt.get("src") or dt.get("in") or
                                                dt.get("data") or ["f32"])]
    in_elems = [float(math.prod(s)) for s in shapes] if len(shapes) > 1 else [n] * inputs
    src = sum(e * s for e, s in zip(in_elems, in_sizes + in_sizes[-1:] * len(in_elems)))
    dst_size = _size(dt, "dst") if "dst" in dt else (_size(dt, "out") if "out" in dt
                                                      else in_sizes[0])
    return src, 0.0, n * dst_size


def _rnn(kind, problem, dt, aux, flops):
    r = rnn_shape(problem, aux)
    weights = r["l"] * r["dirs"] * r["gates"] * r["dhc"] * (r["slc"] + r["sic"])
    concat = 2 if "bidirectional_concat" in aux else 1
    return (r["t"] * r["mb"] * r["slc"] * _size(dt, "src"), weights * _size(dt, "wei"),
            r["t"] * r["mb"] * r["dic"] * concat * _size(dt, "dst"))


_BYTES = {"convolution": _convolution, "deconvolution": _convolution,
          "inner_product": _inner_product, "matmul": _matmul, "pooling": _pooling,
          "batch_normalization": _normalization, "layer_normalization": _normalization,
          "reorder": _reorder, "rnn": _rnn}


WORK_COLUMNS = ("flops", "bytes", "compute")


def with_work(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (kind, problem, mds[, aux] per row) plus flops, bytes per call and compute type;
    NaN where the descriptor cannot be read. One `work` call per distinct descriptor."""
    cache: dict[tuple, Work | None] = {}
    cols = {c: [] for c in WORK_COLUMNS}
    aux = frame["aux"] if "aux" in frame.columns else [""] * len(frame)
    mds = frame["mds"] if "mds" in frame.columns else [""] * len(frame)
    for key in zip(frame["kind"].astype(str), frame["problem"].astype(str),
                   pd.Series(mds).astype(str), pd.Series(aux).astype(str)):
        if key not in cache:
            cache[key] = work(*key)
        w = cache[key]
        cols["flops"].append(w.flops if w else math.nan)
        cols["bytes"].append(w.bytes if w else math.nan)
        cols["compute"].append(w.compute if w else "f32")
    return frame.assign(**cols)


def primitive_work(attributed: pd.DataFrame, iterations: int) -> pd.DataFrame:
    """Per (layer, layer_op, kind, impl, problem, mds, aux) over the timed executions
    (iteration >= 0, exec lines): calls and ms per iteration, the median and minimum ms of one
    execution (robust to a preempted call on a shared machine), and per-call flops, bytes and
    compute type (`with_work`), slowest first. Needs no ceilings: a worker can compute it."""
    rows = attributed
    if "iteration" in rows.columns:
        rows = rows[rows["iteration"] >= 0]
    if "operation" in rows.columns:
        rows = rows[(rows["operation"] == "exec").to_numpy()]
    keys = [k for k in ("layer", "layer_op", "kind", "impl", "problem", "mds", "aux")
            if k in rows.columns]
    grouped = (rows.astype({k: object for k in keys})
               .groupby(keys, sort=False, dropna=False)["time_ms"]
               .agg(calls="size", ms="sum", median_exec_ms="median", min_exec_ms="min")
               .reset_index())
    grouped["calls"] = grouped["calls"] / max(iterations, 1)
    grouped["ms"] = grouped["ms"] / max(iterations, 1)
    return with_work(grouped).sort_values("ms", ascending=False, kind="stable") \
        .reset_index(drop=True)
