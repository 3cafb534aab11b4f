"""Floating-point operations of a oneDNN primitive from its problem descriptor (pure functions).

`problem_flops(kind, problem)` reads the descriptor as the verbose log prints it (every
generation, see docs/onednn-verbose-formats.md) for the kinds whose FLOPs are fixed by their
shapes (`FLOP_KINDS`: convolution, inner product, matmul); `gflops_table(prims)` sets them
against the times of a primitive table (mxprof.onednn.verbose.VerboseLog.primitives).
mxprof.onednn.work counts the other kinds and the bytes moved.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

FLOP_KINDS = ("convolution", "inner_product", "matmul")
_TOKENS = re.compile(r"([a-z]+)(\d+)")


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


def problem_dims(problem: str) -> dict[str, int]:
    """The named sizes of a descriptor, first of each name: `mb1ic64ih56oc64oh56kh3` ->
    {mb: 1, ic: 64, ih: 56, oc: 64, oh: 56, kh: 3}."""
    d: dict[str, int] = {}
    for name, value in _TOKENS.findall(problem):
        d.setdefault(name, int(value))
    return d


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
