"""A zoo model's check runs its child once per spec and MXNet build; a failed check is never
remembered (mxprof.jobs.model_check.check_zoo).

The child is real (MXNet builds the network, no weights); `MXPROF_TEST_FAULT` makes the child
fail, which shows whether it ran at all.
"""

from __future__ import annotations

import pytest

from mxprof.mx import models
from mxprof.workers.protocol import FAULT_VARIABLE

pytest.importorskip("mxnet")
from mxprof.jobs.model_check import check_zoo


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "model-checks"


def test_a_passed_check_is_not_run_again(cache, monkeypatch):
    spec = models.resolve("squeezenet1.0")
    check_zoo(spec)
    assert len(list(cache.glob("*.ok"))) == 1
    monkeypatch.setenv(FAULT_VARIABLE, "raise@model-check")  # a child now fails ...
    check_zoo(spec)  # ... and none starts for the same spec
    other = models.resolve("squeezenet1.0", shape=(3, 64, 64))
    with pytest.raises(ValueError, match=r"checking squeezenet1\.0 failed"):
        check_zoo(other)  # another input shape is another check


def test_a_failed_check_is_never_remembered(cache, tmp_path):
    bad = tmp_path / "wrong.params"
    bad.write_bytes(b"not a params file")
    spec = models.resolve("squeezenet1.0", params=str(bad))
    for _ in range(2):
        with pytest.raises(ValueError):
            check_zoo(spec)
    assert not cache.exists() or not list(cache.glob("*.ok"))
