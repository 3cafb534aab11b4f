"""The fusion report of a job that stopped early: what its workers returned before a worker the
job cannot go on without failed (the unfused or fused timing, a trace), or before an interrupt.

`Done` collects the workers' results as they come (mxprof.jobs.fusion.run fills it);
`partial_report(opts, done, why, protocol)` is a schema-1 fusion report with `complete` false:
the medians measured so far, every failed worker as a row, no groups or patterns. It loads and
renders like a full one (`fusion --load`).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

import numpy as np

from mxprof.jobs.fusion import gains as fusion
from mxprof.schema import SCHEMA


@dataclass
class Done:
    """What the workers returned so far, for a partial report."""

    samples: dict = field(default_factory=dict)  # config -> per process: per-call ns
    failed: list = field(default_factory=list)
    first: dict = field(default_factory=dict)  # config -> its first process's result
    current: str | None = None  # the worker running now


def partial_report(opts, done: Done, why: str, protocol: dict) -> dict:
    """A report of what finished before the job stopped (`why`): the medians measured, every
    failed worker as a row, no groups or patterns; `complete` false."""
    medians = {config: float(np.median(np.concatenate(p))) / 1e6
               for config, p in done.samples.items() if p}
    unfused, fused = medians.get("unfused"), medians.get("fused")
    first = done.first.get("fused") or done.first.get("unfused") or {}
    return {
        "schema": SCHEMA, "kind": "fusion", "model": opts.model, "complete": False,
        "input_shape": list(opts.shape), "path": opts.path, "static": opts.static,
        "environment": {"mxnet": first.get("mxnet_version"), "onednn": None, "isa": None,
                        "cpu": (first.get("fingerprint") or {}).get("cpu_model")
                        or platform.processor() or "unknown",
                        "logical_cpus": os.cpu_count(), "threads": None,
                        "threads_requested": opts.threads, "python": platform.python_version(),
                        "weights": (done.first.get("unfused") or {}).get("weights")},
        "protocol": protocol,
        "unfused_ms": unfused, "fused_ms": fused,
        "gain_ms": unfused - fused if unfused and fused else None,
        "gain_percent": fusion.gain_percent(unfused, fused) if unfused and fused else None,
        "round_medians_ms": {config: [float(np.median(x)) / 1e6 for x in p]
                             for config, p in done.samples.items()},
        "unfused_latency": None, "fused_latency": None, "gain_ratio": None,
        "groups": [], "pattern_groups": [], "patterns": [], "pattern_ratios": {},
        "coverage": None, "output_sum": {}, "primitive_ms": {},
        "findings": [], "failed_workers": done.failed,
        "summary": f"fusion: partial report ({why}); {len(done.failed)} worker(s) failed",
    }
