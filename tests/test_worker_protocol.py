"""The one worker protocol (mxprof.workers.protocol) with real child processes.

Faults come from the protocol's own seam (MXPROF_TEST_FAULT), so no MXNet is loaded here except
in the profile test, which checks that a stale result cannot stand in for a crashed worker.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from mxprof.workers import protocol
from mxprof.workers.protocol import WorkerSpec, run_worker
from mxprof.workers.pythonpath import package_parent

FIXTURES = Path(__file__).parent / "fixtures"


def _no_constants(name):
    raise ValueError(f"not strict JSON: {name}")


def strict_load(path) -> object:
    """What jq and JSON.parse accept: NaN, Infinity and -Infinity are errors."""
    return json.loads(Path(path).read_text(), parse_constant=_no_constants)


def _spec(tmp_path, fault: str | None = None, timeout: float = 60.0, name="echo") -> WorkerSpec:
    env = {k: v for k, v in os.environ.items() if k != protocol.FAULT_VARIABLE}
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES), package_parent()])
    if fault:
        env[protocol.FAULT_VARIABLE] = fault
    return WorkerSpec(module="echo_worker", name=name, spec={"value": [1, 2]},
                      workdir=tmp_path, env=env, timeout=timeout)


def test_ok_result_is_strict_json(tmp_path):
    res = run_worker(_spec(tmp_path))
    assert res.ok and res.error is None
    assert res.data == {"echo": [1, 2], "not_a_number": None}
    assert strict_load(res.spec.result_path) == res.data
    assert strict_load(res.spec.spec_path)["value"] == [1, 2]


def test_stale_result_never_stands_in_for_a_crash(tmp_path):
    ws = _spec(tmp_path, fault="crash-before")
    ws.result_path.write_text(json.dumps({"echo": "from an earlier run"}))
    res = run_worker(ws)
    assert res.status == "crashed" and res.data is None
    assert "SIGABRT" in res.error
    assert not ws.result_path.exists()


def test_crash_after_the_result_is_recorded(tmp_path):
    res = run_worker(_spec(tmp_path, fault="crash-after"))
    assert res.status == "crashed" and not res.ok
    assert res.error == "worker killed by signal SIGABRT after writing its result"
    assert res.data == {"echo": [1, 2], "not_a_number": None}  # kept, but not trusted
    with pytest.raises(protocol.WorkerError, match="after writing its result"):
        res.raise_for_status()


@pytest.mark.parametrize(("fault", "status", "error"), [
    ("raise", "failed",
     "worker exited with status 1: RuntimeError: MXPROF_TEST_FAULT: deliberate failure"),
    ("exit:7", "crashed", "worker exited with status 7: no error output"),
    ("hang", "timeout", "no result after the 1.5 s timeout: worker killed"),
])
def test_faults_become_statuses(tmp_path, fault, status, error):
    res = run_worker(_spec(tmp_path, fault=fault, timeout=1.5))
    assert (res.status, res.error) == (status, error)
    assert res.data is None


def test_fault_pattern_selects_workers_by_name(tmp_path):
    assert run_worker(_spec(tmp_path, fault="crash-before@other-*")).ok
    assert run_worker(_spec(tmp_path, fault="crash-before@ech?")).status == "crashed"


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="faults are"):
        protocol.active_fault("w", {protocol.FAULT_VARIABLE: "explode"})


def test_profile_stale_result_and_crashing_worker_is_a_failed_row(tmp_path):
    """Before: run_one accepted any result file already in --workdir after a crash."""
    from mxprof.jobs.profile.runner import run_one
    from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec
    from mxprof.mx import models

    spec = RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), config="mkldnn",
                   mkldnn=True, pass_name="timing", batch_size=1,
                   protocol=Protocol(min_time=0.05), test_hook="abort")
    stale = RunResult(spec=spec, status="ok", wall_s=1.0, latency={"median": 1.0})
    (tmp_path / "00-mkldnn-timing.result.json").write_text(json.dumps(stale.to_dict()))
    result = run_one(spec, tmp_path, timeout=120)
    assert result.status == "failed" and result.latency is None
    assert "SIGABRT" in result.error


def test_worker_env_picks_openmp_for_a_preloaded_runtime():
    from mxprof.workers.process import worker_env

    env = worker_env(base={"LD_PRELOAD": "/opt/intel/lib/libiomp5.so"}, threads=2)
    assert env["KMP_AFFINITY"] and "OMP_WAIT_POLICY" not in env
    env = worker_env(base={"LD_PRELOAD": "/usr/lib/libgomp.so.1"}, threads=2,
                     wait_policy="passive")  # auto is decided per worker from a window now
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and "KMP_AFFINITY" not in env


def test_worker_env_for_a_foreign_interpreter_asks_that_interpreter(tmp_path):
    """The OpenMP family comes from the interpreter that runs the worker, not this one."""
    from mxprof.workers.process import openmp_runtime_for

    fake = tmp_path / "venv" / "lib" / "mxnet"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "libiomp5.so").write_bytes(b"")
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={fake.parent}${{PYTHONPATH:+:$PYTHONPATH}} "
                      f"exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    assert openmp_runtime_for(str(python), {}) == "intel"
