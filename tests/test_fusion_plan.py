"""The fusion job's worker plan: N processes of every configuration, interleaved (pure)."""

from __future__ import annotations

import pytest

from mxprof.jobs import fusion as fusion_job
from mxprof.jobs.fusion.assemble import FusionOptions
from mxprof.jobs.fusion.order import worker_plan

SWITCHES = ("MXNET_DISABLE_MKLDNN_FUSE_CONV_BN", "MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM")


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_every_configuration_runs_in_n_processes(processes):
    opts = FusionOptions(model="m", shape=(1, 3, 8, 8), switches=SWITCHES, processes=processes)
    plan = worker_plan(opts)
    job_plan = fusion_job.plan(fusion_job.Options(model="m", shape=(1, 3, 8, 8),
                                                  switches=SWITCHES, processes=processes))
    assert len(plan) == len(job_plan.steps) == processes * (4 + len(SWITCHES))
    assert [s.label for s in job_plan.steps] == [label for label, _ in plan]
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


@pytest.mark.parametrize(("args", "workers"), [
    (["fusion", "resnet18_v1", "--switches", "conv_bn", "--fast"], 2 * 5),
    (["fusion", "resnet18_v1", "--switches", "conv_bn", "--rounds", "3"], 3 * 5),  # old flag
    (["fusion", "resnet18_v1", "--switches", "conv_bn,conv_sum", "--rigorous"], 6 * 6),
    (["fusion", "resnet18_v1", "--switches", "none"], 3 * 4),  # the default: 3 processes
    (["accuracy", "resnet18_v1", "--rigorous"], 3 * 6),
    (["accuracy", "resnet18_v1", "--processes", "2", "--int8"], 4 * 2),
    (["accuracy", "resnet18_v1", "--processes", "2", "--no-timing"], 3),  # not timed
])
def test_dry_run_counts_the_processes(args, workers):
    from tests.conftest import run_cli

    proc = run_cli(*args, "--shape", "3,32,32", "--dry-run", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"dry run: {workers} worker(s) planned" in proc.stdout


def test_fast_and_rigorous_exclude_each_other():
    from tests.conftest import run_cli

    proc = run_cli("fusion", "resnet18_v1", "--fast", "--rigorous", "--dry-run", timeout=120)
    assert proc.returncode == 2 and "--fast and --rigorous exclude each other" in proc.stderr
