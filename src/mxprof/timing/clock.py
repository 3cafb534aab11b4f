"""The clock of mxprof: `now_ns()`, `clock_info()` and the native timing loop.

`now_ns()` reads the invariant TSC calibrated to nanoseconds where the CPU has one (x86_64 with
`constant_tsc` and `nonstop_tsc`), `clock_gettime(CLOCK_MONOTONIC)` otherwise; either way its
values sit on CLOCK_MONOTONIC's epoch, so they compare with `time.monotonic_ns()`.

`timing_loop(fn, max_calls, target_ns=-1, min_calls=1, limit_ns=-1)` calls `fn()` in C++ and
returns one int64 sample (ns) per call as a numpy array that owns the native buffer (no copy).
`mxprof.timing._clock_py` holds the pure-Python twins with the same contract.
"""

from __future__ import annotations

import functools
import statistics
import time

from mxprof._native import core

now_ns = core.now_ns
timing_loop = core.timing_loop

__all__ = ["clock_info", "now_ns", "timing_loop"]


def _python_call_cost_ns(fn, calls: int = 2000, rounds: int = 7) -> float:
    """Median over rounds of the per-call cost of `fn()` called from Python, loop cost removed."""

    def per_call(target) -> float:
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            target()
        return (time.perf_counter_ns() - t0) / calls

    def nothing():
        return None

    costs = [per_call(fn) - per_call(nothing) for _ in range(rounds)]
    return max(0.0, statistics.median(costs))


def _kernel_clocksource() -> str | None:
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return f.read().strip() or None
    except OSError:
        return None


def clock_info() -> dict:
    """What `now_ns()` reads and what it costs (costs measured once per source, about 5 ms).

    Keys: `source` ("tsc" or "clock_gettime"), `tsc_hz` (calibrated TSC frequency, or None),
    `overhead_ns` (median cost of one native clock read, which every `measure` sample carries),
    `now_ns_call_ns` (cost of calling `now_ns()` from Python, what a `Timer` block pays twice),
    `resolution_ns`, `calibration_ms` (time spent calibrating at import), `kernel_clocksource`.
    """
    info = dict(core.clock_info())
    info.pop("tsc_usable", None)
    info.update(_measured_costs(info["source"]))
    return info


@functools.lru_cache(maxsize=2)
def _measured_costs(source: str) -> dict:
    return {
        "overhead_ns": float(core.clock_read_cost_ns()),
        "now_ns_call_ns": round(_python_call_cost_ns(now_ns), 1),
        "kernel_clocksource": _kernel_clocksource(),
    }
