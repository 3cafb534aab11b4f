"""Pure-Python twins of the native clock, timing loop and section table, with the same contract.

They serve as the reference behaviour in tests and as the "obvious Python loop" baseline; the
clock is injectable so that tests can drive the loop's stopping rules with a fake clock.
"""

from __future__ import annotations

import operator
import threading
import time

import numpy as np

now_ns = time.perf_counter_ns  # CLOCK_MONOTONIC on Linux, like the native clock

__all__ = ["SectionTable", "now_ns", "timing_loop"]


def timing_loop(fn, max_calls: int, target_ns: int = -1, min_calls: int = 1, limit_ns: int = -1,
                *, clock=now_ns) -> np.ndarray:
    """Call `fn()` up to `max_calls` times and return one int64 ns sample per call.

    Stops early once `target_ns` of wall time has passed since the loop started and `min_calls`
    calls were made, or once `limit_ns` has passed (after at least one call). Negative times
    are off. As in the native loop, one clock read ends a sample and starts the next.
    """
    if not callable(fn):
        raise TypeError("timing_loop: fn must be callable")
    if max_calls < 0:
        raise ValueError("timing_loop: max_calls must be >= 0")
    never = 1 << 63
    target = never if target_ns < 0 else target_ns
    limit = never if limit_ns < 0 else limit_ns
    samples = []
    append = samples.append
    start = t_prev = clock()
    for i in range(max_calls):
        fn()
        t = clock()
        append(t - t_prev)
        t_prev = t
        elapsed = t - start
        if elapsed >= limit or (elapsed >= target and i + 1 >= min_calls):
            break
    return np.array(samples, dtype=np.int64)


class _Section:
    __slots__ = ("_acc", "_clock", "_lock", "_start")

    def __init__(self, acc: list, clock, lock):
        self._acc = acc
        self._clock = clock
        self._lock = lock

    def __enter__(self):
        self._start = self._clock()
        return self

    def __exit__(self, *exc_info):
        _add(self._acc, self._clock() - self._start, self._lock)
        return False


def _add(acc: list, ns: int, lock) -> None:
    with lock:
        if acc[0] == 0:
            acc[2] = acc[3] = ns
        else:
            acc[2] = min(acc[2], ns)
            acc[3] = max(acc[3], ns)
        acc[0] += 1
        acc[1] += ns


class SectionTable:
    """Twin of `mxprof._core.SectionTable`: count/total/min/max per section name, on `clock`."""

    def __init__(self, clock=now_ns):
        self._clock = clock
        self._accs: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def _acc(self, name: str) -> list:
        if not isinstance(name, str):
            raise TypeError(f"section name must be str, not {type(name).__name__}")
        with self._lock:
            return self._accs.setdefault(name, [0, 0, 0, 0])

    def section(self, name: str) -> _Section:
        return _Section(self._acc(name), self._clock, self._lock)

    def add(self, name: str, ns: int) -> None:
        _add(self._acc(name), operator.index(ns), self._lock)

    def snapshot(self) -> dict[str, tuple[int, int, int, int]]:
        with self._lock:
            return {k: tuple(v) for k, v in self._accs.items() if v[0]}

    def clear(self) -> None:
        with self._lock:
            self._accs.clear()
