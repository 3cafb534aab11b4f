"""The accuracy job: are MKL-DNN, its fusion and INT8 still right on this machine?

The contract (mxprof.jobs.contract): `Options`, `plan(options) -> AccuracyPlan`,
`run(plan, on_event) -> AccuracyReport`; see mxprof.jobs.accuracy.job.
"""

from mxprof.jobs.accuracy.job import AccuracyPlan, Options, default, plan, run
from mxprof.jobs.accuracy.records import AccuracyReport

__all__ = ["AccuracyPlan", "AccuracyReport", "Options", "default", "plan", "run"]
