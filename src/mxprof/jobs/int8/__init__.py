"""`mxprof int8 MODEL`: INT8 layer by layer, what each FP32 fallback costs, and the fastest
exclusion set that meets an accuracy target (the job contract: mxprof.jobs.contract).

    from mxprof.jobs import int8
    result = int8.run(int8.plan(int8.Options(model="resnet18_v1")), on_event)
"""

from __future__ import annotations

from mxprof.jobs.int8.plan import Int8Plan, Options, parse_target, plan
from mxprof.jobs.int8.records import Int8Result
from mxprof.jobs.int8.run import run

__all__ = ["Int8Plan", "Int8Result", "Options", "parse_target", "plan", "run"]
