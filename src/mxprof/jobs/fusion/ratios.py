"""Fusion's comparisons as ratio records with a 95% interval (`mxprof.timing.stats.Ratio`).

Every ratio comes from the one pooling place, `mxprof.timing.pooled.ratio_of`: the
hierarchical bootstrap over processes, then calls (or iterations) within them.

- `latency_ratio(base_processes, new_processes)`: the latency of each side in its worker
  processes (one list of per-call times each); with one process on a side the interval is of
  calls only, and the method says run-to-run noise is not covered.
- `primitive_ratio(unfused_runs, fused_runs, unfused_nodes, fused_nodes)`: primitive time per
  iteration (oneDNN verbose) of some fused nodes against their original layers summed, each
  run one trace process (`node -> ms per iteration`, `mxprof.jobs.fusion.trace`). A fused
  group is one fused node and its members (`group_ratio`); a pattern is every group of that
  pattern. The verbose log prints times with three decimals in ms (`LOG_RESOLUTION_MS`): a
  median at or below that resolution cannot carry a ratio (a "0.001 -> 0.000 ms, +100%" gain
  is the log's rounding), so such rows get `gain_ratio: null` and an `implausible` reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mxprof.timing.pooled import ratio_of

# oneDNN's verbose lines give exec time in ms with 3 decimals (dnnl_verbose / mkldnn_verbose).
LOG_RESOLUTION_MS = 0.001

Series = Mapping[str, Sequence[float]]


def latency_ratio(base_processes, new_processes, kind: str) -> dict | None:
    """Ratio dict of median(base) / median(new) (durations, any positive unit); None when a
    side has no samples or a non-positive one."""
    r = ratio_of(base_processes, new_processes, kind)
    return r.to_dict() if r else None


def as_runs(series: Series | Sequence[Series]) -> list[Series]:
    """One trace's series, or a list of them (one per trace process), as a list."""
    return [series] if isinstance(series, Mapping) else list(series)


def summed(series: Series, nodes) -> np.ndarray:
    """Per-iteration sum of `nodes`' primitive ms in one trace (empty when none ran)."""
    rows = [series[n] for n in nodes if n in series]
    return np.sum(rows, axis=0) if rows else np.array([])


def primitive_ratio(unfused_runs, fused_runs, unfused_nodes, fused_nodes,
                    kind: str = "group gain") -> dict:
    """{"gain_ratio": Ratio dict or None, "implausible": reason or None}: unfused time of
    `unfused_nodes` over fused time of `fused_nodes`, per iteration, over the trace processes."""
    before = [b for b in (summed(s, unfused_nodes) for s in as_runs(unfused_runs)) if b.size]
    after = [a for a in (summed(s, fused_nodes) for s in as_runs(fused_runs)) if a.size]
    if not before or not after:
        return {"gain_ratio": None, "implausible": "no primitive of this group in the log"}
    small = [name for name, x in (("unfused", before), ("fused", after))
             if np.median(np.concatenate(x)) <= LOG_RESOLUTION_MS]
    if small:
        return {"gain_ratio": None,
                "implausible": f"{' and '.join(small)} time at the verbose log's resolution "
                               f"({LOG_RESOLUTION_MS} ms): the gain is rounding, not a figure"}
    # An iteration in which a node ran no primitive reads 0 ms: not a duration to bootstrap.
    ratio = ratio_of([b[b > 0] for b in before], [a[a > 0] for a in after], kind)
    return {"gain_ratio": ratio.to_dict() if ratio else None, "implausible": None}


def group_ratio(unfused_runs, fused_runs, members, fused_node) -> dict:
    """`primitive_ratio` of one fused group: its members unfused against its fused node."""
    return primitive_ratio(unfused_runs, fused_runs, members, [fused_node])
