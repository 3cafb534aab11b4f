"""The compare job: the reference MKL-DNN table (latency, throughput, speedups) on this machine.

The contract (mxprof.jobs.contract): `Options`, `plan(options) -> ComparePlan`,
`run(plan, on_event, executor=...) -> CompareResult`; they live in mxprof.jobs.compare.job.
`merge(paths)` builds the same result from results files of several machines.
"""
from __future__ import annotations

from mxprof.jobs.lazy import exports

# Imported on first use (PEP 562), not here: a worker process that runs
# `python -m mxprof.jobs.compare.worker` imports this package first and must pay for none of it.
_EXPORTS = {
    "ComparePlan": "mxprof.jobs.compare.job",
    "CompareResult": "mxprof.jobs.compare.records",
    "ModelChoice": "mxprof.jobs.compare.job",
    "Options": "mxprof.jobs.compare.job",
    "merge": "mxprof.jobs.compare.rows",
    "plan": "mxprof.jobs.compare.job",
    "run": "mxprof.jobs.compare.job",
}

__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
