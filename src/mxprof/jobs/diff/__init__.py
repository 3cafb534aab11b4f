"""`mxprof diff A.json B.json`: what changed between two profiles, layer by layer and primitive
by primitive, each difference with its interval (the job contract, mxprof.jobs.contract, with
an empty step list: diff reads files only).

    from mxprof.jobs import diff
    result = diff.run(diff.plan(diff.Options(a="before.json", b="after.json")), print)
"""

from mxprof.jobs.diff.plan import DiffPlan, Options, plan
from mxprof.jobs.diff.records import DiffResult
from mxprof.jobs.diff.run import run

__all__ = ["DiffPlan", "DiffResult", "Options", "plan", "run"]
