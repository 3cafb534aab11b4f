"""Fusion's comparisons as ratio records with a 95% interval (`mxprof.timing.stats.Ratio`).

- `latency_ratio(unfused_rounds, fused_rounds)`: each round is one worker process, so the
  interval is the hierarchical bootstrap's over rounds and calls (one round: calls only, and
  the method says run-to-run noise is not covered).
- `group_ratio(...)`: a fused group's primitive time per iteration (oneDNN verbose, one trace
  worker per graph) against its members' sum unfused. The verbose log prints times with three
  decimals in ms (`LOG_RESOLUTION_MS`): a median at or below that resolution cannot carry a
  ratio (a "0.001 -> 0.000 ms, +100%" gain is the log's rounding), so such groups get
  `gain_ratio: null` and an `implausible` reason instead.
"""

from __future__ import annotations

import numpy as np

from mxprof.timing.stats import speedup

# oneDNN's verbose lines give exec time in ms with 3 decimals (dnnl_verbose / mkldnn_verbose).
LOG_RESOLUTION_MS = 0.001


def latency_ratio(base_rounds, new_rounds, kind: str) -> dict | None:
    """Ratio dict of median(base) / median(new) (durations, any positive unit); None when a
    side has no samples."""
    base = [np.asarray(r, dtype=float) for r in base_rounds if len(r)]
    new = [np.asarray(r, dtype=float) for r in new_rounds if len(r)]
    if not base or not new or min(a.min() for a in base + new) <= 0:
        return None
    return speedup(base, new, kind=kind).to_dict()


def group_ratio(unfused_series: dict, fused_series: dict, members, fused_node) -> dict:
    """{"gain_ratio": Ratio dict or None, "implausible": reason or None} for one group."""
    rows = [unfused_series[m] for m in members if m in unfused_series]
    before = np.sum(rows, axis=0) if rows else np.array([])
    after = np.asarray(fused_series.get(fused_node, []), dtype=float)
    if before.size == 0 or after.size == 0:
        return {"gain_ratio": None, "implausible": "no primitive of this group in the log"}
    small = [name for name, x in (("unfused", before), ("fused", after))
             if np.median(x) <= LOG_RESOLUTION_MS]
    if small:
        return {"gain_ratio": None,
                "implausible": f"{' and '.join(small)} time at the verbose log's resolution "
                               f"({LOG_RESOLUTION_MS} ms): the gain is rounding, not a figure"}
    if min(before.min(), after.min()) <= 0:
        before, after = before[before > 0], after[after > 0]
    return {"gain_ratio": speedup([before], [after], kind="group gain").to_dict(),
            "implausible": None}
