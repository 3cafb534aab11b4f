"""The accuracy job: are MKL-DNN, its fusion and INT8 still right on this machine?

The contract (mxprof.jobs.contract): `Options`, `plan(options) -> AccuracyPlan`,
`run(plan, on_event) -> AccuracyReport`; they live in mxprof.jobs.accuracy.job.
"""
from __future__ import annotations

from mxprof.jobs.lazy import exports

# Imported on first use (PEP 562), not here: a worker process that runs
# `python -m mxprof.jobs.accuracy.worker` imports this package first and must pay for none of it.
_EXPORTS = {
    "AccuracyPlan": "mxprof.jobs.accuracy.job",
    "AccuracyReport": "mxprof.jobs.accuracy.records",
    "Options": "mxprof.jobs.accuracy.job",
    "default": "mxprof.jobs.accuracy.job",
    "plan": "mxprof.jobs.accuracy.job",
    "run": "mxprof.jobs.accuracy.job",
}

__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
