"""Which threads of a process were busy over an interval, from /proc/<pid>/task/*/stat.

`task_times(pid)` reads each task's run time (proc(5) `schedstat`, ns; or utime + stime, fields
14 and 15 of `stat`, in clock ticks of SC_CLK_TCK); `thread_usage(before, after, wall_s)` turns two readings into the CPU
seconds of every thread over the wall interval: the effective parallelism (sum / wall) and the
threads counted busy (see below). OpenMP worker threads
spin for a while after a parallel region (KMP_BLOCKTIME, GOMP_SPINCOUNT), so a thread that
the runtime uses shows up busy; one it never wakes stays near zero. A thread counts busy when
it ran at least `BUSY_SHARE` of the busiest thread's CPU time: OpenMP spreads parallel regions
evenly over its team, and other load on a shared machine slows every member alike, so the
relative share stays put where an absolute one (CPU time / wall time) would not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A quarter of the busiest thread: far above a thread that only waits, below any member of an
# OpenMP team that gets its share of the parallel regions.
BUSY_SHARE = 0.25


def task_times(pid: int | str = "self", proc: str | Path = "/proc") -> dict[int, float]:
    """{tid: CPU seconds} of every thread of `pid`: the run time in nanoseconds from
    `task/*/schedstat` (first field) where the kernel has it, else utime + stime from
    `task/*/stat` (clock ticks, 10 ms: too coarse for intervals under a few seconds)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for stat in Path(proc, str(pid), "task").glob("*/stat"):
        try:
            out[int(stat.parent.name)] = int((stat.parent / "schedstat").read_text().split()[0]) / 1e9
            continue
        except (OSError, ValueError, IndexError):
            pass
        try:
            text = stat.read_text()
        except OSError:
            continue  # the thread ended between listing and reading
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = text[text.rindex(")") + 2:].split()
        out[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_usage(before: dict[int, float], after: dict[int, float], wall_s: float,
                 cpus_bound: int | None = None, main_tid: int | None = None) -> dict[str, Any]:
    """CPU seconds per thread over the interval; busy threads; parallelism = sum / wall.

    The main thread (`main_tid`, default this process's pid) is counted apart: in MXNet it only
    pushes operators and waits, while the engine's worker thread and the OpenMP team it leads
    do the work, so `busy_threads` counts the other threads."""
    main = os.getpid() if main_tid is None else main_tid
    main_s = after.get(main, 0.0) - before.get(main, 0.0)
    deltas = sorted((after[t] - before.get(t, 0.0) for t in after if t != main), reverse=True)
    top = deltas[0] if deltas else 0.0
    busy = sum(1 for d in deltas if top > 0 and d >= BUSY_SHARE * top)
    return {"wall_s": wall_s, "threads": len(after), "busy_threads": busy,
            "parallelism": (sum(deltas) + main_s) / wall_s if wall_s > 0 else None,
            "main_cpu_s": main_s, "top_cpu_s": deltas[:16], "cpus_bound": cpus_bound,
            "busy_share": BUSY_SHARE,
            "source": "/proc/self/task/*/schedstat (or stat utime+stime)"}
