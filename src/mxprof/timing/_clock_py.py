"""Pure-Python twins of the native clock, timing loop and section table, with the same contract.

They serve as the reference behaviour in tests and as the "obvious Python loop" baseline; the
clock is injectable so that tests can drive the loop's stopping rules with a fake clock.
`clock_choice` is the twin of the native rule that picks the TSC or clock_gettime at import.
"""

from __future__ import annotations

import operator
import platform
import threading
import time

import numpy as np

now_ns = time.perf_counter_ns  # CLOCK_MONOTONIC on Linux, like the native clock

__all__ = ["SectionTable", "clock_choice", "now_ns", "timing_loop"]


def _read_line(path: str) -> str | None:
    try:
        with open(path, errors="replace") as f:
            return f.readline().strip()
    except OSError:
        return None


def _cpu_flags(cpuinfo: str) -> list[str] | None:
    try:
        with open(cpuinfo, errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.partition(":")[2].split()
    except OSError:
        pass
    return None


def clock_choice(sysfs_root: str = "/sys", cpuinfo: str = "/proc/cpuinfo") -> dict:
    """The clock the native core picks on a machine described by `sysfs_root` and `cpuinfo`.

    Returns {"source": "tsc" | "clock_gettime", "reason": str, "cpu_invariant_tsc": bool,
    "kernel_clocksource": str | None, "kernel_available_clocksources": str | None}. The TSC is
    chosen only on x86_64 with `constant_tsc` and `nonstop_tsc`, and only if the kernel's
    current clocksource is tsc or tsc is still in its available list (the kernel drops a TSC its
    watchdog found unstable from that list). Same rule and reason texts as csrc/clock.cpp.
    """
    folder = sysfs_root + "/devices/system/clocksource/clocksource0"  # as the native rule builds it
    current = _read_line(folder + "/current_clocksource")
    available = _read_line(folder + "/available_clocksource")
    out = {"source": "clock_gettime", "reason": "", "cpu_invariant_tsc": False,
           "kernel_clocksource": current, "kernel_available_clocksources": available}
    flags = _cpu_flags(cpuinfo)
    if platform.machine() != "x86_64":
        out["reason"] = "not an x86_64 CPU: no TSC"
    elif flags is None:
        out["reason"] = f"no CPU flags in {cpuinfo}"
    elif missing := [f for f in ("constant_tsc", "nonstop_tsc") if f not in flags]:
        out["reason"] = f"the TSC is not invariant ({', '.join(missing)} missing from {cpuinfo})"
    else:
        out["cpu_invariant_tsc"] = True
        if current is None and available is None:
            out["reason"] = (f"cannot read the kernel's clocksources in {folder}: the TSC is used "
                             "only where the kernel trusts it")
        elif current == "tsc":
            out.update(source="tsc", reason="invariant TSC, the kernel's current clocksource")
        elif "tsc" in (available or "").split():
            out.update(source="tsc", reason="invariant TSC, which the kernel lists as usable "
                                            f"(current clocksource {current or '?'})")
        else:
            out["reason"] = (f"the kernel does not list tsc among its usable clocksources "
                             f"({available or '?'}): it found the TSC unstable or never trusted it")
    return out


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
