"""--wait-policy: one option for every measuring command, resolved once in the parent, carried
by every worker's environment to the OpenMP runtime that worker will load."""

from __future__ import annotations

import argparse

import pytest

from mxprof.commands import _options
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


def test_resolve_wait_says_its_choice_once(capsys):
    args = argparse.Namespace(wait_policy="active")
    assert _options.resolve_wait(args, 2, 2) == "active"
    assert capsys.readouterr().err == "mxprof: OpenMP wait policy active (chosen by the user)\n"
    assert _options.resolve_wait(argparse.Namespace(wait_policy="auto"), 1, 2,
                                 announce=False) == "passive"  # one thread never waits
    assert capsys.readouterr().err == ""
