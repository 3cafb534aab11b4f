"""A killed command leaves no worker running (issue 9, "Workers and files").

Each command is started with a worker that hangs (the protocol's fault seam,
MXPROF_TEST_FAULT=hang) and a marker variable every process it starts inherits. Once a worker
is up, the command is signalled; afterwards no process may carry the marker. SIGTERM, SIGHUP and
SIGINT are handled (exit status 130); SIGKILL is not catchable, so the workers' parent-death
signal must end them.

A worker's own children must go too (mxprof.workers.guard): with the fault `spawn-hang` each
worker starts a process in its own session whose child starts another session and is orphaned
(mxprof.workers.protocol.ESCAPEE_CODE), and a foreign build's interpreter may be a shim that
runs the real one as its child. The scan of /proc covers every process carrying the marker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TINY = str(Path(__file__).parent / "fixtures" / "fusion_tinynet.py") + ":build"


def _with_marker(marker: str, worker: bool = False) -> list[int]:
    """Live processes whose environment holds `marker` (with `worker`: only protocol workers,
    not the probes a command runs first)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in env and state != "Z" and (
                not worker or b"\0MXPROF_WORKER_NAME=" in env):
            pids.append(int(entry))
    return pids


def _describe(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                out.append(f"{pid}: " + f.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            out.append(f"{pid}: gone")
    return out


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _start(args: list[str], tmp_path: Path, marker: str, fault: str = "hang"):
    env = {**os.environ, "MXPROF_TEST_FAULT": fault, "MXPROF_TEST_MARKER": marker}
    with open(tmp_path / "stderr.txt", "wb") as err:
        return subprocess.Popen([sys.executable, "-m", "mxprof", *args], env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=err)


def _worker_started(parent: subprocess.Popen, marker: str) -> bool:
    return any(pid != parent.pid for pid in _with_marker(marker, worker=True))


def _escapees_started(parent: subprocess.Popen, marker: str) -> bool:
    """Both processes of ESCAPEE_CODE run: the session leader and its orphaned grandchild."""
    return sum("mxprof-escapee" in line
               for line in _describe(_with_marker(marker, worker=True))) >= 2


COMMANDS = {
    "fusion": ["fusion", TINY, "--shape", "1,3,8,8", "--switches", "none", "--rounds", "1"],
    "profile": ["profile", "mobilenet0.25", "--shape", "3,32,32", "--checks", "none",
                "--passes", "timing", "--no-reference"],
    "accuracy": ["accuracy", "mobilenet0.25", "--shape", "3,32,32", "--num-inputs", "2",
                 "--configs", "mkldnn"],
    "compare": ["compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1",
                "--configs", "mkldnn", "--fresh", "--results", "r.jsonl"],
}


def _kill_and_check(command: str | list[str], sig: signal.Signals, tmp_path: Path,
                    fault: str = "hang", started=_worker_started) -> None:
    marker = f"mxprof-test-{uuid.uuid4().hex}"
    parent = _start(COMMANDS.get(command) if isinstance(command, str) else command, tmp_path,
                    marker, fault)
    try:
        stderr = tmp_path / "stderr.txt"
        assert _wait_for(lambda: started(parent, marker), 120), \
            stderr.read_text() if parent.poll() is not None else "no worker started"
        parent.send_signal(sig)
        code = parent.wait(timeout=30)
        if sig != signal.SIGKILL:
            assert code == 130, stderr.read_text()
        assert _wait_for(lambda: not _with_marker(marker), 5), \
            f"workers left after {sig.name}: {_describe(_with_marker(marker))}"
    finally:
        for pid in _with_marker(marker):
            os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
        parent.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL],
                         ids=lambda s: s.name)
def test_signal_to_the_command_ends_its_worker(sig, tmp_path):
    _kill_and_check("fusion", sig, tmp_path)


@pytest.mark.parametrize("command", ["profile", "accuracy", "compare"])
def test_every_command_ends_its_worker_on_sigterm(command, tmp_path):
    _kill_and_check(command, signal.SIGTERM, tmp_path)


@pytest.mark.parametrize("command", ["profile", "compare"])
def test_every_command_leaves_no_worker_on_sigkill(command, tmp_path):
    _kill_and_check(command, signal.SIGKILL, tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_processes_a_worker_started_end_with_the_command(sig, tmp_path):
    """Before the guard, SIGKILL left both escapees running (the parent-death signal reached
    the worker only) and SIGTERM the orphan (the group kill missed the other sessions)."""
    _kill_and_check("fusion", sig, tmp_path, fault="spawn-hang", started=_escapees_started)


def test_a_foreign_interpreter_shim_ends_with_the_command(tmp_path):
    """`compare --python` with a shim that runs the interpreter as its child (not exec), as
    wrapper scripts do: the interpreter is mxprof's grandchild, and must not outlive it."""
    shim = tmp_path / "python-shim"
    shim.write_text(f"#!/bin/sh\n{sys.executable} \"$@\"\n")
    shim.chmod(0o755)
    command = [*COMMANDS["compare"], "--no-current", "--python", f"shim={shim}"]

    def shim_worker_started(parent, marker):
        return any("mxprof.jobs.profile.worker" in line and "/bin/sh" not in line
                   and "guard.py" not in line
                   for line in _describe(_with_marker(marker, worker=True)))
    # The hang goes to the benchmark worker only: the pre-run model check ("model-check") and
    # the oneDNN probe run under this interpreter, not the shim, and must finish first.
    _kill_and_check(command, signal.SIGKILL, tmp_path, fault="hang@[!mo]*",
                    started=shim_worker_started)
