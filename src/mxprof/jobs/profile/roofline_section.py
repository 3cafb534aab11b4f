"""The roofline section of a profile report (pure functions): every timed oneDNN primitive and
every layer placed under the machine's roofs.

Inputs, from one profile report (`mxprof.jobs.profile.report.build_report`):
`primitives.work` (per-primitive calls, ms, flops, bytes per layer, from the verbose pass) and
`latency_ms`; and the machine ceilings (`mxprof.jobs.ceilings.machine_ceilings`).

`roofline_section(report, ceilings)` -> {warnings, roof_refuted, ceilings, layers, primitives,
headroom, overhead_efficiency, method}, None without work or ceilings. A compute roof that a
timed primitive beats is refuted (`above_roof`) and raised to that primitive's rate
(`raised_roofs`), so no efficiency exceeds 100%. `primitive_frame(report, ceilings)` is the
per-primitive table the findings rules (mxprof.jobs.profile.diagnose) read.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mxprof.jobs.ceilings import roof
from mxprof.onednn.roofline import (
    OVERHEAD_EFFICIENCY,
    Ceilings,
    add_roofline,
    headroom,
    layer_roofline,
)

_LAYER_COLUMNS = ("layer", "layer_op", "ms", "primitives", "flops", "bytes", "attained_gflops",
                  "attained_gbs", "intensity", "roof_ms", "efficiency", "bound")


def _records(frame: pd.DataFrame, columns) -> list[dict[str, Any]]:
    out = []
    for row in frame[[c for c in columns if c in frame.columns]].to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in row.items()})
    return out


def primitive_frame(report: dict[str, Any], ceilings) -> pd.DataFrame | None:
    work = (report.get("primitives") or {}).get("work")
    if not work or ceilings is None:
        return None
    frame = pd.DataFrame(work).drop(columns=["index"], errors="ignore")
    return add_roofline(frame, ceilings, calls="calls")


def roofline_section(report: dict[str, Any], ceilings_result: dict[str, Any] | None
                     ) -> dict[str, Any] | None:
    """Per-layer and per-primitive roofline plus headroom; None without work or ceilings."""
    ceilings = roof(ceilings_result) if ceilings_result else None
    prims = primitive_frame(report, ceilings)
    if prims is None:
        return None
    refuted = above_roof(prims, ceilings)
    if refuted:
        ceilings = raised_roofs(prims, ceilings)
        prims = primitive_frame(report, ceilings)
    layers = layer_roofline(prims, ceilings)
    latency = (report.get("latency_ms") or {}).get("median")
    t = ceilings_result.get("theoretical") or {}
    warnings = [w for w in (ceilings_result.get("warning"), refuted) if w]
    return {
        "warnings": warnings,
        "roof_refuted": bool(refuted),
        "ceilings": {**ceilings.to_dict(), "theoretical_gflops": t.get("peak_gflops"),
                     "measured": ceilings_result.get("measured"),
                     "cache": ceilings_result.get("cache")},
        "layers": _records(layers, _LAYER_COLUMNS),
        "primitives": _records(prims, ("layer", "layer_op", "kind", "impl", "problem", "mds",
                                       "calls", "ms", "flops", "bytes", "compute",
                                       "attained_gflops", "attained_gbs", "intensity",
                                       "bound_gflops", "roof_ms", "efficiency", "bound")),
        "headroom": headroom(layers, latency),
        "overhead_efficiency": OVERHEAD_EFFICIENCY,
        "method": "primitive times from the verbose pass (NaiveEngine, verbose on); bound = "
                  "min(peak, intensity x bandwidth) with the measured ceilings; efficiency = "
                  "time at the roof / measured time; latency from the timing pass",
    }


# A compute roof is the most a primitive can attain, so one measurably above it means the roof
# is wrong, not the primitive fast. 1.2x leaves room for the spread of the best repetition;
# primitives under 0.05 ms per call are left out: at the log's 0.001 ms resolution their rate
# is not known to better than 2%, and tiny ones run from cache.
ABOVE_ROOF = 1.2
ABOVE_ROOF_MARK = "the ceilings understate this machine"
_MIN_CALL_MS = 0.05


def _best_timed(prims: pd.DataFrame) -> dict[str, pd.Series]:
    """The primitive with the highest attained rate per compute type, among the timed ones."""
    per_call = prims["ms"] / prims["calls"].clip(lower=1)
    timed = prims[(per_call >= _MIN_CALL_MS) & prims["attained_gflops"].notna()]
    return {str(c): rows.loc[rows["attained_gflops"].idxmax()]
            for c, rows in timed.groupby("compute")}


def above_roof(prims: pd.DataFrame, ceilings) -> str | None:
    """Why the compute roofs cannot be right, or None: primitives attain more than
    ABOVE_ROOF x the measured peak of their compute type (f32, int8)."""
    worst = None
    for compute, best in _best_timed(prims).items():
        peak = ceilings.peak(compute)
        if best["attained_gflops"] > ABOVE_ROOF * peak and (
                worst is None or best["attained_gflops"] / peak > worst[0]):
            worst = (best["attained_gflops"] / peak, compute, best, peak)
    if worst is None:
        return None
    ratio, compute, row, peak = worst
    unit = "GOP/s" if compute == "int8" else "GFLOP/s"
    return (f"{row['layer'] or row['kind']} attains {row['attained_gflops']:.1f} {unit}, "
            f"{ratio:.1f}x the measured {compute} roof of {peak:.1f}: {ABOVE_ROOF_MARK} "
            f"(measured under load, with fewer threads, or its benchmark GEMM stays below the "
            f"peak this layer reaches); the roof is raised to the best timed primitive's rate, "
            f"so no efficiency exceeds 100%; --refresh-ceilings measures again")


def raised_roofs(prims: pd.DataFrame, ceilings: Ceilings) -> Ceilings | None:
    """`ceilings` with each compute peak that a timed primitive beats by more than ABOVE_ROOF
    raised to that primitive's rate (no primitive can beat a true roof); None when none is."""
    peaks = dict(ceilings.peak_gflops)
    raised = {c: float(best["attained_gflops"]) for c, best in _best_timed(prims).items()
              if best["attained_gflops"] > ABOVE_ROOF * ceilings.peak(c)}
    if not raised:
        return None
    peaks.update(raised)
    return Ceilings(peaks, ceilings.bandwidth_gbs,
                    f"{ceilings.source}; {', '.join(sorted(raised))} raised to the best timed "
                    f"primitive")
