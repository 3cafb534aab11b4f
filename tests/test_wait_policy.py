"""--wait-policy: one option for every measuring command, resolved once in the parent, carried
by every worker's environment to the OpenMP runtime that worker will load."""

from __future__ import annotations

import pytest

from mxprof.workers.process import worker_env

GNU = {"LD_PRELOAD": "libgomp.so.1"}  # an LD_PRELOADed runtime decides, without probing MXNet
INTEL = {"LD_PRELOAD": "libiomp5.so"}


@pytest.mark.parametrize("policy, gnu, intel", [("passive", "PASSIVE", "0"),
                                                ("active", "ACTIVE", "1")])
def test_the_resolved_policy_reaches_the_workers_runtime(policy, gnu, intel):
    env = worker_env(base=GNU, threads=2, wait_policy=policy)
    assert env["OMP_NUM_THREADS"] == "2" and env["OMP_WAIT_POLICY"] == gnu
    assert worker_env(base=INTEL, threads=2, wait_policy=policy)["KMP_BLOCKTIME"] == intel


def test_policy_without_a_thread_count_sets_only_the_wait_variables():
    """MXNet keeps choosing the thread count; before, no policy reached such a worker."""
    env = worker_env(base=GNU, wait_policy="passive")
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and "OMP_NUM_THREADS" not in env
    assert "OMP_WAIT_POLICY" not in worker_env(base=GNU)  # no policy, no threads: untouched


@pytest.mark.parametrize("command", ["profile", "fusion", "accuracy", "compare"])
def test_every_measuring_command_takes_the_option(command):
    from mxprof.cli import build_parser

    parser = build_parser()
    assert parser.parse_args([command, "m"]).wait_policy == "auto"
    assert parser.parse_args([command, "m", "--wait-policy", "passive"]).wait_policy == "passive"
    with pytest.raises(SystemExit):
        parser.parse_args([command, "m", "--wait-policy", "sometimes"])


def test_the_placement_decides_the_wait_once_and_the_command_says_it(capsys):
    """One path for the wait policy: the job's Placement (mxprof.cpu.placement.resolve),
    announced once by the command (commands/_job.announce)."""
    from mxprof.commands import _job
    from mxprof.cpu.placement import resolve

    chosen = resolve(threads=2, wait_policy="active")
    assert chosen.wait_policy == "active"
    _job.announce(chosen)
    assert capsys.readouterr().err == "mxprof: OpenMP wait policy active (chosen by the user)\n"
    assert resolve(threads=1, wait_policy="auto").wait_policy == "passive"  # one never waits
