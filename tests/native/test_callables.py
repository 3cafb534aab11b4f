"""Every kind of callable runs in every timing loop, without a crash, a leak or a lost call.

The native loops (TSC and clock_gettime, and `measure` on top) run in child processes: a loop
that writes through a bad argument pointer kills its process with SIGSEGV, which must fail the
test of that kind and leave pytest running. A crashed child is replaced by a fresh one for the
kinds it did not reach. The pure-Python loop runs in process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from callable_kinds import CALLS, KINDS, check, check_missing_self

import mxprof
from mxprof.timing import _clock_py

HERE = Path(__file__).parent
ALL = [*KINDS, "missing self"]


def _describe(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


def run_in_children(kinds: list[str]) -> dict[str, dict]:
    """kind -> the child's facts, or {"crash": how the child died while running that kind}."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(mxprof.__file__).parents[1]), str(HERE)])
    results: dict[str, dict] = {}
    pending = list(kinds)
    while pending:
        proc = subprocess.run([sys.executable, str(HERE / "callable_kinds.py"), *pending],
                              capture_output=True, text=True, env=env, timeout=300)
        started = None
        for line in proc.stdout.splitlines():
            fields = line.split("\t")
            if fields[0] == "start":
                started = fields[1]
            elif fields[0] == "ok":
                results[fields[1]] = json.loads(fields[2])
                started = None
        if started is not None:
            results[started] = {"crash": f"{_describe(proc.returncode)}: {proc.stderr[-2000:]}"}
        elif proc.returncode != 0:
            raise AssertionError(f"child failed outside any kind: {_describe(proc.returncode)}\n"
                                 f"{proc.stderr[-2000:]}")
        pending = [k for k in pending if k not in results]
    return results


@pytest.fixture(scope="module")
def native_results():
    return run_in_children(ALL)


@pytest.mark.parametrize("kind", list(KINDS))
def test_native_loops_call_every_kind(kind, native_results):
    facts = native_results[kind]
    assert "crash" not in facts, f"{kind}: the native loop crashed the interpreter, {facts['crash']}"
    for source, got in facts.items():
        if source == "measure":
            assert got["samples"] == CALLS
            assert got["calls"] in (None, CALLS + 2), (kind, got)  # 2 warm-up calls
            continue
        assert got["samples"] == CALLS and got["dtype"] == "int64", (kind, source, got)
        assert got["negative"] == 0, (kind, source, got)
        assert got["calls"] in (None, CALLS), (kind, source, got)
        assert got["refcount_change"] == 0, (kind, source, got)


def test_native_loops_raise_for_a_method_without_its_self(native_results):
    facts = native_results["missing self"]
    assert "crash" not in facts, facts
    for source, message in facts.items():
        assert "missing 1 required positional argument" in message, (source, message)


@pytest.mark.parametrize("kind", list(KINDS))
def test_python_loop_calls_every_kind(kind):
    got = check(kind, _clock_py.timing_loop)
    assert got["samples"] == CALLS and got["dtype"] == "int64"
    assert got["negative"] == 0
    assert got["calls"] in (None, CALLS)
    assert got["refcount_change"] == 0


def test_python_loop_raises_for_a_method_without_its_self():
    assert "missing 1 required positional argument" in check_missing_self(_clock_py.timing_loop)


def test_counted_kinds_really_count():
    """The counters themselves work, so that `calls == CALLS` above means something."""
    for kind, factory in KINDS.items():
        fn, count = factory()
        before = count()
        if before is None:
            continue
        fn()
        assert count() == before + 1, kind
