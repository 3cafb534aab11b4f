"""`mxprof.int8(model, ...)`: the `mxprof int8` job as a notebook call (the same plan/run).

    result = mxprof.int8("resnet18_v1", target="agreement=0.99", progress=print)
    result.first_diverging, result.chosen_candidate.excluded, result.quantize_net_args

`model` is a zoo name or a Gluon HybridBlock (exported to a temporary symbol/params pair,
mxprof.api.model); `target` the command's METRIC=VALUE text or a Target; every other keyword is
a field of mxprof.jobs.int8.Options with the command's defaults. Returns the Int8Result the
command would write with --json; raises UsageError (a ValueError) for bad options.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mxprof.api.model import model_source


def int8(model: Any, inputs: Any = None, *, shape: Any = None, target: Any = None,
         progress: Callable[[str], None] | None = None, **options: Any):
    from mxprof.events import ignore, printer
    from mxprof.jobs import int8 as job

    if isinstance(target, str):
        target = job.parse_target(target)
    with model_source(model, inputs, shape) as src:
        plan = job.plan(job.Options(spec=src.spec.to_dict(), target=target, **options))
        return job.run(plan, printer(progress) if progress else ignore)
