"""The clock of mxprof: `now_ns()`, `clock_info()` and the native timing loop.

`now_ns()` reads the invariant TSC calibrated to nanoseconds where the CPU has one (x86_64 with
`constant_tsc` and `nonstop_tsc`) and the kernel trusts it (tsc is its current clocksource or in
its available list), `clock_gettime(CLOCK_MONOTONIC)` otherwise; either way its values sit on
CLOCK_MONOTONIC's epoch, so they compare with `time.monotonic_ns()`. The TSC rate is calibrated
at import (15 ms) against CLOCK_MONOTONIC_RAW. `clock_info()["reason"]` says why a clock was
chosen, and `describe_clock()` puts it in one line for reports.

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

__all__ = ["clock_info", "describe_clock", "now_ns", "timing_loop"]


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


def clock_info() -> dict:
    """What `now_ns()` reads, why, and what it costs (costs measured once per source, ~5 ms).

    Keys: `source` ("tsc" or "clock_gettime"), `reason` (why that source: CPU flags and the
    kernel's clocksources), `cpu_invariant_tsc`, `tsc_hz` (calibrated TSC frequency, or None),
    `calibrated_against` ("CLOCK_MONOTONIC_RAW" for the TSC, else None), `ns_per_tick` and
    `resolution_ns` (one TSC tick, or clock_getres), `calibration_ms` (time spent calibrating at
    import), `kernel_clocksource` and `kernel_available_clocksources` (sysfs text at import,
    None if unreadable), `overhead_ns` (median cost of one native clock read, which every
    `measure` sample carries), `now_ns_call_ns` (cost of calling `now_ns()` from Python, what a
    `Timer` block pays twice).
    """
    info = dict(core.clock_info())
    info.update(_measured_costs(info["source"]))
    return info


def describe_clock(info: dict | None = None) -> str:
    """One line for reports: the clock, its rate and calibration, and why it was chosen."""
    info = clock_info() if info is None else info
    if info.get("source") == "tsc" and info.get("tsc_hz"):
        head = (f"TSC at {info['tsc_hz'] / 1e9:.4f} GHz, calibrated against "
                f"{info.get('calibrated_against') or 'CLOCK_MONOTONIC_RAW'}")
    else:
        head = "clock_gettime(CLOCK_MONOTONIC)"
    return f"{head} ({info.get('reason', 'reason not recorded')})"


@functools.lru_cache(maxsize=2)
def _measured_costs(source: str) -> dict:
    return {
        "overhead_ns": float(core.clock_read_cost_ns()),
        "now_ns_call_ns": round(_python_call_cost_ns(now_ns), 1),
    }
