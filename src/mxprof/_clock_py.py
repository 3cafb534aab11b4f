"""Pure-Python twins of the native clock functions in `mxprof.clock`, with the same contract.

They serve as the reference behaviour in tests and as the "obvious Python loop" baseline; the
clock is injectable so that tests can drive the loop's stopping rules with a fake clock.
"""

from __future__ import annotations

import time

import numpy as np

now_ns = time.perf_counter_ns  # CLOCK_MONOTONIC on Linux, like the native clock

__all__ = ["now_ns", "timing_loop"]


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
