"""The timing runs of one configuration, several processes, as one statistics record (pure).

`pooled_latency(stats_dicts)` takes the `latency` (or `throughput.batch_ms`) dicts of the timing
workers of one configuration (each one process: `Stats.to_dict("ms")` plus `samples_ms`,
`first_call_ms`, `protocol`) and returns the report's latency dict: the schema-1 keys (median,
mean, p90, p99, min, max, stdev, n, ci95_low, ci95_high, first_call_ms, protocol, warnings)
computed over all the calls, plus q1, q3, processes, n_per_process, within_stdev,
between_stdev, ci_method, notes and samples_ms_per_process (so ratios, pyperf files and
re-renders can resample them later). `ratio(base, new, kind)` is the speedup record between
two such dicts. Dicts without samples (files written before this) pass through unchanged and
give ratios without an interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxprof.timing.stats import Ratio, speedup, summarize_processes

POOLED_KEYS = ("median", "mean", "p90", "p99", "min", "max", "stdev", "n", "ci95_low",
               "ci95_high", "q1", "q3", "processes", "n_per_process", "within_stdev",
               "between_stdev", "ci_method", "notes", "warnings")


def samples_of(stats: dict[str, Any] | None) -> list[np.ndarray] | None:
    """Per-process samples in ns, from a pooled dict or a one-process worker dict; None when
    the dict carries no samples (an older file)."""
    if not stats:
        return None
    if stats.get("samples_ms_per_process"):
        return [np.asarray(s, dtype=np.float64) * 1e6 for s in stats["samples_ms_per_process"]]
    if stats.get("samples_ms"):
        return [np.asarray(stats["samples_ms"], dtype=np.float64) * 1e6]
    return None


def pooled_latency(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One latency dict over the processes in `runs` (see the module docstring)."""
    runs = [r for r in runs if r]
    if not runs:
        return None
    groups = [samples_of(r) for r in runs]
    if any(g is None for g in groups):  # no samples to pool: keep the first as it was
        return {**runs[0], "processes": 1}
    per_process = [g[0] for g in groups]
    s = summarize_processes(per_process).to_dict("ms")
    out = {k: s[k] for k in POOLED_KEYS}
    out["first_call_ms"] = runs[0].get("first_call_ms")
    out["protocol"] = runs[0].get("protocol")
    out["per_process_median_ms"] = [float(np.median(g)) / 1e6 for g in per_process]
    out["samples_ms_per_process"] = [(g / 1e6).tolist() for g in per_process]
    return out


def ratio(base: dict[str, Any] | None, new: dict[str, Any] | None, kind: str) -> Ratio | None:
    """How many times faster `new` is than `base` (durations), with its interval; None when
    either side has no samples."""
    b, n = samples_of(base), samples_of(new)
    if not b or not n:
        return None
    return speedup(b, n, kind=kind)
