"""The compare job: the reference MKL-DNN table (latency, throughput, speedups) on this machine.

The contract (mxprof.jobs.contract): `Options`, `plan(options) -> ComparePlan`,
`run(plan, on_event, executor=...) -> CompareResult`; see mxprof.jobs.compare.job.
`merge(paths)` builds the same result from results files of several machines.
"""

from mxprof.jobs.compare.job import ComparePlan, ModelChoice, Options, plan, run
from mxprof.jobs.compare.records import CompareResult
from mxprof.jobs.compare.rows import merge

__all__ = ["ComparePlan", "CompareResult", "ModelChoice", "Options", "merge", "plan", "run"]
