"""The native hook recorder and its pure-Python twin behave alike without MXNet running a
graph (the real-graph checks are in tests/test_layers.py)."""

from __future__ import annotations

import time

import pytest

from mxprof._native import core
from mxprof.mx import _hooks_py as hooks_python

IMPLEMENTATIONS = [pytest.param(core, id="native"), pytest.param(hooks_python, id="python")]


@pytest.mark.parametrize("rec", IMPLEMENTATIONS)
def test_bad_arguments_are_rejected(rec):
    with pytest.raises(ValueError, match="null"):
        rec.hook_install("libmxnet.so", 0, 16, True)
    with pytest.raises(ValueError, match="capacity"):
        rec.hook_install("libmxnet.so", 1234, 0, True)


def test_missing_library_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"cannot load /nonexistent/libmxnet\.so"):
        core.hook_install("/nonexistent/libmxnet.so", 1234, 16, True)


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
