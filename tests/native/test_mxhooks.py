"""The native hook recorder and its pure-Python twin behave alike without MXNet running a
graph (the real-graph checks are in tests/test_layers.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mxprof
from mxprof._native import core
from mxprof.mx import _hooks_py as hooks_python

IMPLEMENTATIONS = [pytest.param(core, id="native"), pytest.param(hooks_python, id="python")]


@pytest.mark.parametrize("rec", IMPLEMENTATIONS)
def test_bad_arguments_are_rejected(rec):
    with pytest.raises(ValueError, match="null"):
        rec.hook_install("libmxnet.so", 0, 16, True)
    with pytest.raises(ValueError, match="capacity"):
        rec.hook_install("libmxnet.so", 1234, 0, True)


@pytest.mark.parametrize("rec", IMPLEMENTATIONS)
def test_missing_library_is_a_clear_error(rec):
    with pytest.raises(RuntimeError, match=r"/nonexistent/libmxnet\.so is not loaded"):
        rec.hook_install("/nonexistent/libmxnet.so", 1234, 16, True)


NOT_LOADED_CHILD = r"""
import importlib.util, sys
from pathlib import Path
from mxprof._native import core
from mxprof.mx import _hooks_py

rec = core if sys.argv[1] == "native" else _hooks_py
lib = Path(importlib.util.find_spec("mxnet").origin).parent / "libmxnet.so"
assert lib.exists(), lib
try:
    rec.hook_install(str(lib), 1234, 16, True)  # 1234: MXNet would crash on this handle
except RuntimeError as exc:
    print("error:", exc)
maps = Path("/proc/self/maps").read_text()
print("loaded:", "libmxnet" in maps, "mxnet module:", "mxnet" in sys.modules)
"""


@pytest.mark.parametrize("which", ["native", "python"])
def test_hook_never_loads_a_second_libmxnet(which):
    """Without `import mxnet` the recorder refuses, and libmxnet stays out of the process."""
    env = {**os.environ, "PYTHONPATH": str(Path(mxprof.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", NOT_LOADED_CHILD, which], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "is not loaded in this process: import mxnet first" in proc.stdout
    assert "loaded: False mxnet module: False" in proc.stdout


@pytest.mark.parametrize("rec", IMPLEMENTATIONS)
def test_clocks_match_the_system_clocks(rec):
    mono = rec.monotonic_ns()
    assert abs(mono - time.monotonic_ns()) < 50_000_000
    assert abs(rec.realtime_ns() - time.time_ns()) < 50_000_000
    assert rec.monotonic_ns() >= mono


@pytest.mark.parametrize("rec", IMPLEMENTATIONS)
def test_cleared_recorder_is_empty(rec):
    rec.hook_clear()
    t, ids = rec.hook_events()
    assert t.dtype.name == "int64" and ids.dtype.name == "int32"
    assert len(t) == len(ids) == 0
    assert rec.hook_dropped() == 0
