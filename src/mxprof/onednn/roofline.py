"""Every oneDNN primitive on the machine's roofline (pure functions).

Inputs: each primitive's work per call (mxprof.onednn.work: FLOPs, bytes, compute type), its
time, and the machine ceilings (`Ceilings`: peak GFLOP/s per compute type, memory bandwidth GB/s).

Efficiencies above 100% happen: the memory roof is DRAM bandwidth, and a tensor that stays in
the caches between layers moves faster than that; a ceiling measured under more load than the
layer also puts the layer above it.

Roofline of one call (Williams, Waterman, Patterson, CACM 52(4), 2009): time at the roof =
max(flops / peak, bytes / bandwidth), i.e. bound GFLOP/s = min(peak, intensity x bandwidth);
efficiency = time at the roof / measured time (= attained / bound when flops > 0; defined the
same way for reorders, which have no FLOPs). Class: "compute-bound" when flops / peak is the
larger term, "memory-bound" otherwise, and "overhead-bound" when the efficiency is below
`OVERHEAD_EFFICIENCY` (a tenth of the roof: dispatch cost, tiny shapes, or something wrong).

`add_roofline(frame, ceilings)` adds these columns to a primitive table; `layer_roofline`
sums them per layer; `headroom` sets the time at the roof beside the measured time.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mxprof.onednn.work import Work, primitive_work
from mxprof.schema import Record

# Below a tenth of the roof a primitive is not limited by compute nor by memory: the roofline
# model's own cut-off for "something other than the kernel" (dispatch, small shapes, slow paths).
OVERHEAD_EFFICIENCY = 0.10


class Ceilings(Record, frozen=True):
    """The roofs: peak GFLOP/s per compute type ("f32", "int8"), memory bandwidth in GB/s
    (1e9 bytes/s), and where they come from ("measured" or "theoretical")."""

    peak_gflops: dict[str, float]
    bandwidth_gbs: float
    source: str = "measured"

    def peak(self, compute: str) -> float:
        """The peak of `compute`; bf16 and unknown types fall back to f32."""
        return self.peak_gflops.get(compute) or self.peak_gflops["f32"]


# ---- the roofline ----------------------------------------------------------------------------

def roof_ms(w: Work, ceilings: Ceilings) -> tuple[float, float]:
    """(compute ms, memory ms) of one call at the roofs: flops / peak and bytes / bandwidth."""
    return (w.flops / (ceilings.peak(w.compute) * 1e6),
            w.bytes / (ceilings.bandwidth_gbs * 1e6))


def classify(efficiency: float | None, compute_ms: float, memory_ms: float) -> str:
    """compute-bound | memory-bound | overhead-bound (efficiency < OVERHEAD_EFFICIENCY)."""
    if efficiency is not None and efficiency < OVERHEAD_EFFICIENCY:
        return "overhead-bound"
    return "compute-bound" if compute_ms >= memory_ms else "memory-bound"


def add_roofline(frame: pd.DataFrame, ceilings: Ceilings, *, ms: str = "ms",
                 calls: str | None = None) -> pd.DataFrame:
    """Roofline columns for rows holding per-call `flops`, `bytes`, `compute` and a time `ms`
    covering `calls` calls (column name; 1 call when None): attained_gflops, attained_gbs,
    intensity, bound_gflops, roof_ms, efficiency, bound (class)."""
    n = frame[calls].astype(float) if calls else 1.0
    flops, nbytes, t = frame["flops"] * n, frame["bytes"] * n, frame[ms].astype(float)
    peak = frame["compute"].map(lambda c: ceilings.peak(str(c))).astype(float)
    compute_ms = flops / (peak * 1e6)
    memory_ms = nbytes / (ceilings.bandwidth_gbs * 1e6)
    roof = pd.concat([compute_ms, memory_ms], axis=1).max(axis=1, skipna=False)
    intensity = (flops / nbytes).where(nbytes > 0, 0.0)
    eff = (roof / t).where(t > 0)
    out = frame.assign(
        attained_gflops=(flops / (t * 1e6)).where(t > 0),
        attained_gbs=(nbytes / (t * 1e6)).where(t > 0),
        intensity=intensity,
        bound_gflops=pd.concat([peak, intensity * ceilings.bandwidth_gbs], axis=1).min(axis=1),
        roof_ms=roof, efficiency=eff)
    out["bound"] = [classify(None if pd.isna(e) else float(e), float(c), float(m))
                    if not (pd.isna(c) or pd.isna(m)) else "unknown"
                    for e, c, m in zip(eff, compute_ms, memory_ms)]
    return out


def primitive_roofline(attributed: pd.DataFrame, ceilings: Ceilings,
                       iterations: int) -> pd.DataFrame:
    """`primitive_work` plus the roofline columns (`add_roofline`)."""
    return add_roofline(primitive_work(attributed, iterations), ceilings, calls="calls")


def layer_roofline(prims: pd.DataFrame, ceilings: Ceilings) -> pd.DataFrame:
    """Per layer: the primitives' calls x work summed (flops, bytes per iteration), ms and roof ms
    summed, efficiency = roof ms / ms, class from the summed compute and memory times."""
    p = prims.assign(total_flops=prims["flops"] * prims["calls"],
                     total_bytes=prims["bytes"] * prims["calls"])
    peak = p["compute"].map(lambda c: ceilings.peak(str(c))).astype(float)
    p = p.assign(compute_ms=p["total_flops"] / (peak * 1e6),
                 memory_ms=p["total_bytes"] / (ceilings.bandwidth_gbs * 1e6))
    keys = ["layer", "layer_op"] if "layer_op" in p.columns else ["layer"]
    g = (p.groupby(keys, sort=False, dropna=False)
         .agg(primitives=("calls", "sum"), ms=("ms", "sum"), flops=("total_flops", "sum"),
              bytes=("total_bytes", "sum"), roof_ms=("roof_ms", "sum"),
              compute_ms=("compute_ms", "sum"), memory_ms=("memory_ms", "sum"))
         .reset_index())
    t = g["ms"]
    g["attained_gflops"] = (g["flops"] / (t * 1e6)).where(t > 0)
    g["attained_gbs"] = (g["bytes"] / (t * 1e6)).where(t > 0)
    g["intensity"] = (g["flops"] / g["bytes"]).where(g["bytes"] > 0, 0.0)
    g["efficiency"] = (g["roof_ms"] / t).where(t > 0)
    g["bound"] = [classify(None if pd.isna(e) else float(e), float(c), float(m))
                  for e, c, m in zip(g["efficiency"], g["compute_ms"], g["memory_ms"])]
    return g.sort_values("ms", ascending=False, kind="stable").reset_index(drop=True)


def headroom(layers: pd.DataFrame, latency_ms: float | None) -> dict[str, Any]:
    """The model's time if every oneDNN primitive ran at its roof, beside the measured time.

    primitives_ms: the primitives' measured ms per iteration; roof_ms: each layer at
    min(its roof time, its measured time) - a layer already above its DRAM roof (data in cache)
    cannot gain, and one whose work is unknown counts as measured; model_at_roof_ms = latency -
    primitives_ms + roof_ms (what is not a primitive - MXNet's own kernels, framework overhead -
    stays as measured: it has no roof here); speedup_bound = latency / model_at_roof_ms.
    """
    ms = layers["ms"].astype(float)
    at_roof = layers["roof_ms"].astype(float).where(layers["roof_ms"].notna(), ms)
    prim_ms = float(ms.sum())
    roof = float(pd.concat([at_roof, ms], axis=1).min(axis=1).sum())
    out: dict[str, Any] = {"primitives_ms": prim_ms, "roof_ms": roof,
                           "latency_ms": latency_ms, "model_at_roof_ms": None,
                           "speedup_bound": None}
    if latency_ms:
        total = max(latency_ms - prim_ms, 0.0) + roof
        out.update(model_at_roof_ms=total, speedup_bound=latency_ms / total if total else None)
    return out
