"""The fusion job's worker plan: N processes of every configuration, interleaved (pure)."""

from __future__ import annotations

import pytest

from mxprof.commands.fusion import worker_count
from mxprof.jobs.fusion.run import FusionOptions, worker_plan

SWITCHES = ("MXNET_DISABLE_MKLDNN_FUSE_CONV_BN", "MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM")


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_every_configuration_runs_in_n_processes(processes):
    opts = FusionOptions(model="m", shape=(1, 3, 8, 8), switches=SWITCHES, processes=processes)
    plan = worker_plan(opts)
    assert len(plan) == worker_count(opts) == processes * (4 + len(SWITCHES))
    configs = [c for _, c in plan]
    for config in ("unfused", "fused", "unfused-trace", "fused-trace", *SWITCHES):
        assert configs.count(config) == processes
    assert len({label for label, _ in plan}) == len(plan)  # every worker has its own name
    # The first worker writes the shared weights: the unfused one.
    assert plan[0] == ("unfused", "unfused")


def test_switch_pairs_are_interleaved_not_run_side_by_side():
    """Before: each switch ran one process, right after one fused reference run."""
    opts = FusionOptions(model="m", shape=(1, 3, 8, 8), switches=SWITCHES, processes=2)
    timed = [c for _, c in worker_plan(opts) if not c.endswith("-trace")]
    # A B C D, then D C B A: every configuration has the same mean position.
    assert timed == ["unfused", "fused", *SWITCHES, *SWITCHES[::-1], "fused", "unfused"]
