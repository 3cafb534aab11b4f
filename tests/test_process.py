"""The shared worker runner and environment (mxprof.workers.process), with real child processes."""

from __future__ import annotations

import os
import sys
import time
import uuid

import pytest

from mxprof.workers import guard as process_guard
from mxprof.workers import process, pythonpath
from mxprof.workers.process import ProcessOutcome, python_command, run_process, worker_env


def _run(code: str, timeout: float = 30.0, **kw) -> ProcessOutcome:
    return run_process(python_command(["-c", code]), env=dict(os.environ), timeout=timeout, **kw)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (killed, waiting for its reaper).
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_ok_outcome_and_stdout_file(tmp_path):
    out = tmp_path / "out.txt"
    outcome = _run("print('hello')", stdout=out)
    assert outcome.ok and outcome.returncode == 0 and outcome.description == "exited normally"
    assert out.read_text() == "hello\n" and outcome.stderr_tail == ""
    assert ProcessOutcome.from_dict(outcome.to_dict()) == outcome


def test_abort_is_a_crash_named_by_its_signal():
    outcome = _run("import os, sys; print('before the abort', file=sys.stderr, flush=True); "
                   "os.abort()")
    assert outcome.status == "crashed" and outcome.returncode == -6
    assert outcome.description == "killed by signal SIGABRT"
    assert outcome.stderr_tail == "before the abort"


def test_exit_status_and_stderr_tail_keeps_the_last_lines(tmp_path):
    code = ("import sys\n"
            "for i in range(50): print(f'line {i}', file=sys.stderr)\n"
            "print('Storage type fallback detected', file=sys.stderr)\n"  # MXNet noise: dropped
            "sys.exit(3)\n")
    err = tmp_path / "err.txt"
    outcome = _run(code, stderr=err, tail_lines=5)
    assert outcome.status == "crashed" and outcome.returncode == 3
    assert outcome.description == "exited with status 3"
    assert outcome.stderr_tail.splitlines() == [f"line {i}" for i in range(45, 50)]
    assert "Storage type fallback" in err.read_text()  # the file keeps everything


def test_timeout_kills_the_child_and_its_grandchild(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time\n"
            "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(pid_file)!r}, 'w').write(str(g.pid))\n"
            "print('waiting', file=sys.stderr, flush=True)\n"
            "time.sleep(60)\n")
    started = time.monotonic()
    outcome = _run(code, timeout=2.0)
    assert outcome.status == "timeout" and outcome.returncode is None
    assert outcome.description == "timed out after 2 s" and outcome.stderr_tail == "waiting"
    assert 2.0 <= outcome.wall_s < 10 and time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)
    assert not process._running


def test_missing_program_is_an_error_outcome():
    outcome = run_process(["/nonexistent/python"], env=None, timeout=5)
    assert outcome.status == "error" and "could not start /nonexistent/python" in \
        outcome.description


def test_worker_env_drops_switches_and_finds_this_mxprof():
    base = {"DNNL_VERBOSE": "1", "MXNET_MKLDNN_ENABLED": "0", "MXNET_SUBGRAPH_BACKEND": "MKLDNN",
            "PYTHONPATH": "/elsewhere", "KEEP": "yes"}
    env = worker_env(base=base, drop=("MXNET_SUBGRAPH_BACKEND",), mkldnn=True, threads=2,
                            extra={"EXTRA": "1"})
    assert "DNNL_VERBOSE" not in env and "MXNET_SUBGRAPH_BACKEND" not in env
    assert env["MXNET_MKLDNN_ENABLED"] == "1" and env["KEEP"] == "yes" and env["EXTRA"] == "1"
    assert env["OMP_NUM_THREADS"] == "2"
    assert env["PYTHONPATH"].split(os.pathsep) == [pythonpath.package_parent(), "/elsewhere"]
    outcome = run_process(python_command(["-c", "import mxprof, sys; print(mxprof.__file__, "
                                          "file=sys.stderr)"]), env=env, timeout=30)
    assert outcome.ok and outcome.stderr_tail.startswith(pythonpath.package_parent())


def test_worker_env_for_another_interpreter_links_only_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path))
    other = str(tmp_path / "venv" / "bin" / "python")
    env = worker_env(base={"PYTHONPATH": "/elsewhere", "PYTHONHOME": "/x"}, python=other,
                     foreign=True)
    assert "PYTHONHOME" not in env
    (entry,) = env["PYTHONPATH"].split(os.pathsep)
    assert sorted(os.listdir(entry)) == ["msgspec", "mxprof"]  # the records need msgspec


@pytest.mark.parametrize("python", [None, sys.executable])
def test_this_interpreter_gets_the_package_parent(python):
    """Not foreign: even a path to this interpreter keeps the package parent (compare's
    `--python twin=<this python>` is foreign only because it says so)."""
    env = worker_env(base={}, python=python)
    assert env["PYTHONPATH"] == pythonpath.package_parent()


def test_processes_left_by_a_finished_command_are_ended(tmp_path):
    """A command that exits after starting a process in another session, which orphans its
    own child: the group kill reaches neither; the guard (mxprof.workers.guard) ends both."""
    from mxprof.workers.protocol import ESCAPEE_CODE
    marker = f"MXPROF_TEST_MARKER=escapee-{uuid.uuid4().hex}"
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {ESCAPEE_CODE!r}], "
            "start_new_session=True)\n"
            "time.sleep(1)\n")
    outcome = run_process(python_command(["-c", code]),
                          env={**os.environ, marker.split("=")[0]: marker.split("=")[1]},
                          timeout=30)
    assert outcome.ok, outcome
    deadline = time.monotonic() + 5
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _marked(marker)


def _marked(marker: str) -> list[int]:
    """Live processes whose environment holds `marker` (NAME=VALUE)."""
    out = []
    for pid in process_guard.descendants(1):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() in f.read().split(b"\0") and _alive(pid):
                    out.append(pid)
        except OSError:
            continue
    return out


def test_the_guard_ends_as_its_command_did():
    """Exit status and signal pass through the guard unchanged (ProcessOutcome names them)."""
    assert _run("import sys; sys.exit(7)").returncode == 7
    outcome = _run("import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert outcome.returncode == -15 and outcome.description == "killed by signal SIGTERM"
