"""A failed worker is a failed row and an interrupt keeps the partial --json, in every command
(issue 20): fusion and accuracy as profile does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
from tests.conftest import run_cli
from tests.test_interrupt import TINY, _wait_for, _with_marker

FAST = ["--shape", "1,3,16,16", "--iterations", "5", "--warmup", "2", "--min-time", "0.05",
        "--trace-iterations", "3", "--processes", "1"]


def test_fusion_switch_crash_exits_1_with_its_row(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("fusion", TINY, *FAST, "--switches", "conv_sum", "--json", str(out),
                   env={"MXPROF_TEST_FAULT": "crash-before@off-*"})
    assert proc.returncode == 1, proc.stderr  # README: a crashed worker is exit status 1
    report = json.loads(out.read_text())
    assert [f["label"] for f in report["failed_workers"]] == \
        ["off-MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM"]
    assert report["groups"]  # the rest of the report is all there


def test_fusion_unfused_crash_is_a_failed_row_not_an_abort(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("fusion", TINY, *FAST, "--switches", "none", "--json", str(out),
                   env={"MXPROF_TEST_FAULT": "crash-before@unfused"})
    assert proc.returncode == 1, proc.stderr
    assert "unfused worker killed by signal SIGABRT" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "partial report" in proc.stdout
    report = json.loads(out.read_text())
    assert report["complete"] is False
    assert report["failed_workers"][0]["label"] == "unfused"
    again = run_cli("fusion", "--load", str(out))  # the partial file loads and renders
    assert again.returncode == 0, again.stderr
    assert "failed worker unfused" in again.stdout


def _interrupt_when(args, tmp_path, worker: str, fault: str):
    """Start `mxprof ARGS`, SIGINT it once the worker named `worker` runs (it hangs)."""
    marker = f"mxprof-test-{uuid.uuid4().hex}"
    env = {**os.environ, "MXPROF_TEST_FAULT": fault, "MXPROF_TEST_MARKER": marker}
    if env.get("PYTHONPATH"):  # PYTHONPATH=src must still point here from tmp_path
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) if p else p
                                            for p in env["PYTHONPATH"].split(os.pathsep))
    parent = subprocess.Popen([sys.executable, "-m", "mxprof", *args], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def running() -> bool:
        for pid in _with_marker(marker, worker=True):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if f"\0MXPROF_WORKER_NAME={worker}\0".encode() in f.read():
                        return True
            except OSError:
                pass
        return False

    try:
        assert _wait_for(running, 240), "the hanging worker never started"
        parent.send_signal(signal.SIGINT)
        _, stderr = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    return parent.returncode, stderr


@pytest.mark.parametrize("command, worker, check", [
    (["fusion", TINY, *FAST, "--switches", "none"], "fused",
     lambda r: r["complete"] is False and r["round_medians_ms"]["unfused"]),
    (["accuracy", "mobilenet0.25", "--shape", "3,32,32", "--num-inputs", "2",
      "--configs", "mkldnn"], "mkldnn",
     lambda r: [c["ok"] for c in r["configs"]] == [True, False]
     and r["configs"][1]["error"] == "interrupted"),
])
def test_sigint_keeps_a_partial_json(tmp_path, command, worker, check):
    out = tmp_path / "partial.json"
    code, stderr = _interrupt_when([*command, "--json", str(out)], tmp_path, worker,
                                   f"hang@{worker}")
    assert code == 130, stderr
    assert "partial result written" in stderr
    report = json.loads(out.read_text())
    assert check(report), report


def test_a_killed_runs_temporary_folder_goes_with_the_next_command(tmp_path):
    import glob
    import tempfile
    marker = f"mxprof-test-{uuid.uuid4().hex}"
    env = {**os.environ, "MXPROF_TEST_FAULT": "hang@unfused", "MXPROF_TEST_MARKER": marker}
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) if p else p
                                            for p in env["PYTHONPATH"].split(os.pathsep))
    parent = subprocess.Popen([sys.executable, "-m", "mxprof", "fusion", TINY, *FAST,
                               "--switches", "none"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pattern = os.path.join(tempfile.gettempdir(), f"mxprof-fusion-p{parent.pid}-*")
    try:
        assert _wait_for(lambda: glob.glob(pattern) and _with_marker(marker, worker=True),
                         240), "the fusion run never started its worker"
        parent.kill()  # SIGKILL: no handler runs, its folder stays
        parent.wait()
        assert _wait_for(lambda: not _with_marker(marker), 10)
        assert glob.glob(pattern)
        assert run_cli("topology", "--json", "-").returncode == 0
        assert not glob.glob(pattern)
    finally:
        for pid in _with_marker(marker):
            os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
