"""fd-level capture sees C stdio output and always gives the descriptor back."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mxprof
from mxprof.mx.fdcapture import capture_fd

# The mxprof under test (installed, or src/ in a development build), never the bare source tree.
SRC = Path(mxprof.__file__).resolve().parents[1]

# A child process, so that fd 1 is a pipe we read, not pytest's own capture.
CHILD = r"""
import ctypes, sys
from mxprof.mx.fdcapture import capture_fd
libc = ctypes.CDLL(None)
libc.printf(b"before\n")
try:
    with capture_fd(1, sys.argv[1]):
        libc.printf(b"from C inside\n")
        print("from Python inside")
        raise KeyError("boom")
except KeyError:
    pass
libc.printf(b"after\n")
print("python after", flush=True)
"""


def test_capture_gets_c_and_python_output_and_restores_after_exception(tmp_path):
    log = tmp_path / "captured.log"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(log)], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert log.read_text().splitlines() == ["from C inside", "from Python inside"]
    assert proc.stdout.splitlines() == ["before", "after", "python after"]


def test_capture_of_stderr_descriptor_in_process(tmp_path):
    log = tmp_path / "err.log"
    before = os.fstat(2)
    libc = ctypes.CDLL(None)
    with pytest.raises(RuntimeError), capture_fd(2, log):
        os.write(2, b"raw write\n")
        libc.fflush(None)
        raise RuntimeError("inside")
    assert log.read_text() == "raw write\n"
    after = os.fstat(2)
    assert (before.st_ino, before.st_dev) == (after.st_ino, after.st_dev)


def test_path_is_required():
    with pytest.raises(ValueError), capture_fd(1):
        pass
