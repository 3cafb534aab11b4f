"""What one call of a oneDNN primitive computes and moves: FLOPs and bytes (pure functions).

Inputs: a primitive's kind, problem descriptor, memory descriptors and auxiliary field as the
verbose log prints them (any generation, see docs/onednn-verbose-formats.md). The roofline that
sets this work against the machine's ceilings is mxprof.onednn.roofline.

Work of one call (`work(kind, problem, mds, aux)`):
- FLOPs: convolution, inner product and matmul from `mxprof.onednn.flops.problem_flops`
  (2 x multiply-adds); pooling one operation per window element per output; eltwise, sum and
  binary one per output element (per input for sum); batch / layer normalisation 2 per element
  with global statistics (scale and shift), 5 when the statistics are computed (mean, variance,
  normalise); RNN 2 x gates x DHC x (SLC + SIC) per cell, cells = layers x directions x time x MB
  (gates: LSTM 4, GRU 3, RNN 1); reorder 0.
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

from mxprof.onednn.flops import problem_dims, problem_flops
from mxprof.schema import Record

DTYPE_BYTES = {"f32": 4, "s32": 4, "f64": 8, "bf16": 2, "f16": 2, "s8": 1, "u8": 1, "s4": 0.5,
               "u4": 0.5, "f8_e5m2": 1, "f8_e4m3": 1}
INT8_TYPES = ("s8", "u8")
_RNN_GATES = {"vanilla_lstm": 4, "vanilla_gru": 3, "lbr_gru": 3, "vanilla_rnn": 1,
              "vanilla_augru": 3, "lbr_augru": 3}


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


# ---- descriptors ----------------------------------------------------------------------------

def memory_dtypes(mds: str) -> dict[str, list[str]]:
    """Dtypes by argument from the memory descriptors, every generation:
    `src_f32::blocked:abcd:f0` (v1.0-3.5), `src:f32:a:blocked:...` (v3.6+), `in:f32_nchw`
    (v0.x reorder/sum), `fsrc:nChw16c` (v0.x, f32). Repeated args (sum inputs) list each one;
    `undef` tensors (no bias, no workspace) are left out."""
    out: dict[str, list[str]] = {}
    for md in (mds or "").split():
        fields = md.split(":")
        head = fields[0]
        if "_" in head and not head.startswith("f"):
            arg, _, dtype = head.partition("_")
        elif head in ("in", "out") and len(fields) > 1:  # v0.x: in:f32_nchw
            arg, dtype = head, fields[1].split("_")[0]
        elif head.startswith("f") and len(fields) > 1:  # v0.x: fsrc:nchw, fwei:..., fdata:...
            arg, dtype = head[1:], "undef" if fields[1] == "undef" else "f32"
        elif len(fields) > 1:  # v3.6+: src:f32:...
            arg, dtype = head, fields[1]
        else:
            continue
        if dtype != "undef":
            out.setdefault(arg, []).append(dtype)
    return out


def _shapes(problem: str) -> list[list[int]]:
    """Plain dims `1x64x56x56` or `a:b:c` (binary, matmul); [] when the descriptor is named."""
    head = problem.split("_")[0] if "x" in problem else problem
    out = []
    for part in head.split(":"):
        try:
            out.append([int(x) for x in part.split("x")])
        except ValueError:
            return []
    return out


def _elements(problem: str) -> float | None:
    """Element count of a data tensor: plain dims, or mb/ic/id/ih/iw (v0.x-1.x names)."""
    shapes = _shapes(problem)
    if shapes:
        return float(math.prod(shapes[0]))
    d = problem_dims(problem)
    if "mb" in d and ("ic" in d or "c" in d):
        return float(d["mb"] * d.get("ic", d.get("c", 1)) * d.get("id", 1) * d.get("ih", 1)
                     * d.get("iw", 1))
    return None


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
    kind = str(kind)
    if kind.startswith("pooling"):
        kind = "pooling"
    handler = _HANDLERS.get(kind, _elementwise)
    try:
        return handler(kind, str(problem), memory_dtypes(str(mds)), str(aux))
    except (ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None


def _convolution(kind, problem, dt, aux):
    d = problem_dims(problem)
    flops = problem_flops("convolution", problem)
    if flops is None or not {"mb", "ic", "oc"} <= d.keys():
        return None
    g = d.get("g", 1)
    if kind == "deconvolution":  # every source pixel meets every kernel tap
        flops = 2.0 * d["mb"] * d["ic"] * (d["oc"] / g) * math.prod(
            d.get("i" + a, 1) * d.get("k" + a, 1) for a in "dhw")
    src = d["mb"] * d["ic"] * math.prod(d.get("i" + a, 1) for a in "dhw")
    dst = d["mb"] * d["oc"] * math.prod(d.get("o" + a, 1) for a in "dhw")
    wei = d["oc"] * (d["ic"] // g) * math.prod(d.get("k" + a, 1) for a in "dhw")
    bias = d["oc"] * _size(dt, "bia", "")
    return Work(flops, src * _size(dt, "src"), wei * _size(dt, "wei") + bias,
                dst * _size(dt, "dst"), _compute_type(dt))


def _inner_product(kind, problem, dt, aux):
    d = problem_dims(problem)
    flops = problem_flops("inner_product", problem)
    if flops is None:
        return None
    spatial = d.get("id", 1) * d.get("ih", 1) * d.get("iw", 1)
    return Work(flops, d["mb"] * d["ic"] * spatial * _size(dt, "src"),
                d["oc"] * d["ic"] * spatial * _size(dt, "wei") + d["oc"] * _size(dt, "bia", ""),
                d["mb"] * d["oc"] * _size(dt, "dst"), _compute_type(dt))


def _matmul(kind, problem, dt, aux):
    flops = problem_flops("matmul", problem)
    if flops is None:
        return None
    if ":" not in problem:
        d = problem_dims(problem)
        b = d.get("b", d.get("mb", 1))
        src, wei, dst = b * d["m"] * d["k"], b * d["k"] * d["n"], b * d["m"] * d["n"]
    else:
        shapes = _shapes(problem)
        src, wei = math.prod(shapes[0]), math.prod(shapes[1])
        dst = flops / (2 * shapes[0][-1])
    return Work(flops, src * _size(dt, "src"), wei * _size(dt, "wei"), dst * _size(dt, "dst"),
                _compute_type(dt))


def _pooling(kind, problem, dt, aux):
    d = problem_dims(problem)
    if not {"mb", "ic"} <= d.keys():
        return None
    src = d["mb"] * d["ic"] * math.prod(d.get("i" + a, 1) for a in "dhw")
    dst = d["mb"] * d["ic"] * math.prod(d.get("o" + a, 1) for a in "dhw")
    window = math.prod(d.get("k" + a, 1) for a in "dhw")
    return Work(float(dst * window), src * _size(dt, "src"), 0.0, dst * _size(dt, "dst"),
                _compute_type(dt))


def _normalization(kind, problem, dt, aux):
    n = _elements(problem)
    if n is None:
        return None
    # flags G (v1.1+) / bit 1 (v0.x-1.0 flags:3): global statistics given, not computed.
    flags = aux.split("flags:")[1].split()[0] if "flags:" in aux else ""
    global_stats = "G" in flags or (flags.isdigit() and int(flags) & 1)
    size = _size(dt, "src") if "src" in dt else _size(dt, "data")
    channels = _shapes(problem)[0][1] if _shapes(problem) and len(_shapes(problem)[0]) > 1 \
        else problem_dims(problem).get("ic", 1)
    stats = 4 * channels * 4.0  # mean, variance, scale, shift in f32
    return Work((2.0 if global_stats else 5.0) * n, n * size, stats,
                n * (_size(dt, "dst") if "dst" in dt else size), _compute_type(dt))


def _reorder(kind, problem, dt, aux):
    n = _elements(problem)
    if n is None:
        return None
    src = _size(dt, "src") if "src" in dt else _size(dt, "in")
    dst = _size(dt, "dst") if "dst" in dt else _size(dt, "out")
    return Work(0.0, n * src, 0.0, n * dst, _compute_type(dt))


def _elementwise(kind, problem, dt, aux):
    """eltwise, sum, binary, softmax, lrn, concat...: one operation per element and input."""
    shapes = _shapes(problem)
    n = _elements(problem)
    if n is None:
        return None
    inputs = len(dt.get("src", [])) or len(dt.get("in", [])) or 1
    in_sizes = [DTYPE_BYTES.get(t, 4) for t in (dt.get("src") or dt.get("in") or
                                                dt.get("data") or ["f32"])]
    in_elems = [float(math.prod(s)) for s in shapes] if len(shapes) > 1 else [n] * inputs
    src = sum(e * s for e, s in zip(in_elems, in_sizes + in_sizes[-1:] * len(in_elems)))
    dst_size = _size(dt, "dst") if "dst" in dt else (_size(dt, "out") if "out" in dt
                                                      else in_sizes[0])
    return Work(n * max(inputs - (1 if kind == "sum" else 0), 1), src, 0.0, n * dst_size,
                _compute_type(dt))


def _rnn(kind, problem, dt, aux):
    d = problem_dims(problem)
    if not {"t", "mb", "slc", "sic", "dhc"} <= d.keys():
        return None
    alg = aux.split("alg:")[1].split()[0] if "alg:" in aux else "vanilla_lstm"
    gates = _RNN_GATES.get(alg, 4)
    dirs = 2 if "bidirectional" in aux else 1
    layers, t, mb, dhc = d.get("l", 1), d["t"], d["mb"], d["dhc"]
    dic = d.get("dic", dhc)
    cells = layers * dirs * t * mb
    flops = 2.0 * cells * gates * dhc * (d["slc"] + d["sic"])
    weights = layers * dirs * gates * dhc * (d["slc"] + d["sic"])
    concat = 2 if "bidirectional_concat" in aux else 1
    return Work(flops, t * mb * d["slc"] * _size(dt, "src"), weights * _size(dt, "wei"),
                t * mb * dic * concat * _size(dt, "dst"), _compute_type(dt))


_HANDLERS = {"convolution": _convolution, "deconvolution": _convolution,
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
