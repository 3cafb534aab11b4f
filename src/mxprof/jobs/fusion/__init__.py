"""The fusion job: which layers MKL-DNN fused into what, and what each fusion bought.

The contract (mxprof.jobs.contract): `Options`, `plan(options) -> FusionPlan`,
`run(plan, on_event) -> FusionResult`; see mxprof.jobs.fusion.job.
"""

from mxprof.jobs.fusion.job import FusionPlan, Options, parse_switches, plan, run
from mxprof.jobs.fusion.records import FusionResult

__all__ = ["FusionPlan", "FusionResult", "Options", "parse_switches", "plan", "run"]
