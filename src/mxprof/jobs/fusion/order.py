"""The fusion job's workers, in the order they run (pure): `worker_plan(opts)`.

`opts.processes` processes of each timed configuration (unfused, fused, each fusion switch
off), interleaved A B C ... C B A (`mxprof.workers.schedule`), then as many of each traced
graph (unfused, fused), interleaved A B A B. `mxprof fusion --dry-run` prints this plan and its
progress display counts it; `mxprof.jobs.fusion.assemble` runs it. `opts` is a
`mxprof.jobs.fusion.assemble.FusionOptions` (its `processes` and `switches` are read).
"""

from __future__ import annotations

from mxprof.workers import schedule


def timing_configs(opts) -> list[str]:
    """The timed configurations, in the order of a round: unfused, fused, each switch off."""
    return ["unfused", "fused", *opts.switches]


def worker_label(config: str, rnd: int) -> str:
    """A worker's name: `unfused`, `fused-1`, `off-MXNET_DISABLE_MKLDNN_FUSE_CONV_BN-2`..."""
    name = config if config in ("unfused", "fused", "unfused-trace", "fused-trace") \
        else f"off-{config}"
    return f"{name}-{rnd}" if rnd else name


def worker_plan(opts) -> list[tuple[str, str]]:
    """(label, configuration) of every worker in the order the job runs them."""
    timed = schedule.interleave(timing_configs(opts), opts.processes, order=TIMING_ORDER)
    traced = schedule.interleave(["unfused-trace", "fused-trace"], opts.processes)
    return [(worker_label(c, r), c) for r, c in [*timed, *traced]]


# A B C ... C B A: with several switches a round is long, and reversing every other round
# gives every configuration the same mean position, so a linear drift in machine load
# cannot pose as a switch's cost (mxprof.workers.schedule).
TIMING_ORDER = "abba"
