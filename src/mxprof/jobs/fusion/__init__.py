"""The fusion job: which layers MKL-DNN fused into what, and what each fusion bought.

The contract (mxprof.jobs.contract): `Options`, `plan(options) -> FusionPlan`,
`run(plan, on_event) -> FusionResult`; they live in mxprof.jobs.fusion.job.
"""
from __future__ import annotations

from mxprof.jobs.lazy import exports

# Imported on first use (PEP 562), not here: a worker process that runs
# `python -m mxprof.jobs.fusion.worker` imports this package first and must pay for none of it.
_EXPORTS = {
    "FusionPlan": "mxprof.jobs.fusion.job",
    "FusionResult": "mxprof.jobs.fusion.records",
    "Options": "mxprof.jobs.fusion.job",
    "parse_switches": "mxprof.jobs.fusion.job",
    "plan": "mxprof.jobs.fusion.job",
    "run": "mxprof.jobs.fusion.job",
}

__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
