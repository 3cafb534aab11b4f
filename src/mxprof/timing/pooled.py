"""Timing processes of one configuration pooled into one record, and ratios between two such
sets: the one place every job (profile, compare, fusion, accuracy) pools per-process samples.

Sample level (per-process lists of durations in ns, any positive unit for ratios):

- `pooled_stats(groups_ns) -> Stats | None`: `mxprof.timing.stats.summarize_processes` of the
  non-empty processes; None when there is no sample at all. A non-positive sample (the clock
  went backwards) cannot be bootstrapped on a log scale, so the calls are then summarised as
  one pool and the record's warning says why.
- `ratio_of(base_groups, new_groups, kind) -> Ratio | None`: `mxprof.timing.stats.speedup`,
  median(base) / median(new) with the hierarchical bootstrap's 95% interval; None when a side
  has no samples or a non-positive one (no interval can be computed: the caller shows a dash).

Dict level (what profile's and compare's timing workers write):
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

from mxprof.timing.stats import Ratio, Stats, speedup, summarize, summarize_processes

POOLED_KEYS = ("median", "mean", "p90", "p99", "min", "max", "stdev", "n", "ci95_low",
               "ci95_high", "q1", "q3", "processes", "n_per_process", "within_stdev",
               "between_stdev", "ci_method", "notes", "warnings")


def _groups(groups) -> list[np.ndarray]:
    return [a for a in (np.asarray(g, dtype=np.float64).ravel() for g in groups) if a.size]


def pooled_stats(groups_ns) -> Stats | None:
    """The one statistics record of one configuration's processes (see the module docstring)."""
    groups = _groups(groups_ns)
    if not groups:
        return None
    try:
        return summarize_processes(groups)
    except ValueError:  # a non-positive sample: no bootstrap on a log scale
        return summarize(np.concatenate(groups))


def ratio_of(base_groups, new_groups, kind: str = "latency") -> Ratio | None:
    """median(base) / median(new) with its 95% interval, each side a list of per-process
    durations; None when a side is empty or holds a non-positive sample."""
    base, new = _groups(base_groups), _groups(new_groups)
    if not base or not new or min(float(g.min()) for g in base + new) <= 0:
        return None
    return speedup(base, new, kind=kind)


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
    s = pooled_stats(per_process).to_dict("ms")
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
    return ratio_of(b, n, kind)
