"""Shared test helpers: the CLI is called the way a user calls it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# PYTHONPATH=src (how the suite is run) is relative: a subprocess started in another folder
# (cwd=tmp_path) would import an installed mxprof instead of this checkout's, test that other
# code, and leave its temporary folders behind when the test kills it. Absolute, once, here.
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(p) if p else p for p in os.environ["PYTHONPATH"].split(os.pathsep))

# The suite never writes into the user's ~/.cache/mxprof (ceilings, compare results, build
# venvs): one cache folder per test session, shared by every command the tests run, so the
# machine ceilings are measured once per session. Tests that check the cache rules set their own.
if "MXPROF_CACHE" not in os.environ:
    # Removed when the session ends: a run of the suite leaves no folder behind.
    os.environ["MXPROF_CACHE"] = tempfile.mkdtemp(prefix="mxprof-test-cache-")
    import atexit
    import shutil
    atexit.register(shutil.rmtree, os.environ["MXPROF_CACHE"], ignore_errors=True)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
            cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run `python -m mxprof ARGS` in a subprocess and return the completed process."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    # A relative PYTHONPATH (PYTHONPATH=src) would point elsewhere under another `cwd`.
    if full_env.get("PYTHONPATH"):
        full_env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(p) if p else p for p in full_env["PYTHONPATH"].split(os.pathsep))
    return subprocess.run(
        [sys.executable, "-m", "mxprof", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


def interrupt_after_first_record(cmd: list[str], results: Path, sig: int, *,
                                 env: dict[str, str] | None = None,
                                 timeout: float = 120) -> subprocess.CompletedProcess:
    """Start `cmd`, send it `sig` once its results file holds a whole line (the first finished
    run), and wait for it to end: the completed process (text stdout and stderr). Fails the
    test when the command ended, or wrote nothing within `timeout` s, before that."""
    import time
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().endswith("\n"):
            break
        time.sleep(0.1)
    assert proc.poll() is None, f"it ended before it could be interrupted: {proc.stderr.read()}"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
