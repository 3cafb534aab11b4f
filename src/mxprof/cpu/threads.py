"""Which threads of a process were busy over an interval, from /proc/<pid>/task/*/stat.

`task_times(pid)` reads each task's utime + stime (fields 14 and 15 of proc(5) `stat`, in clock
ticks of SC_CLK_TCK); `thread_usage(before, after, wall_s)` turns two readings into the CPU
seconds of every thread over the wall interval: the effective parallelism (sum / wall) and the
threads counted busy (at least `BUSY_SHARE` of the wall time on a CPU). OpenMP worker threads
spin for a while after a parallel region (KMP_BLOCKTIME, GOMP_SPINCOUNT), so a thread that
the runtime uses shows up busy; one it never wakes stays near zero.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# A tenth of the interval: far above an idle thread (a few ticks), below a thread sharing a
# CPU with up to nine others (load during tests on a shared machine).
BUSY_SHARE = 0.10


def task_times(pid: int | str = "self", proc: str | Path = "/proc") -> dict[int, float]:
    """{tid: CPU seconds (user + system)} of every thread of `pid`."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for stat in Path(proc, str(pid), "task").glob("*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the thread ended between listing and reading
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = text[text.rindex(")") + 2:].split()
        out[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def thread_usage(before: dict[int, float], after: dict[int, float], wall_s: float,
                 cpus_bound: int | None = None) -> dict[str, Any]:
    """CPU seconds per thread over the interval; busy threads; parallelism = sum / wall."""
    deltas = sorted((after[t] - before.get(t, 0.0) for t in after), reverse=True)
    busy = sum(1 for d in deltas if wall_s > 0 and d >= BUSY_SHARE * wall_s)
    return {"wall_s": wall_s, "threads": len(after), "busy_threads": busy,
            "parallelism": sum(deltas) / wall_s if wall_s > 0 else None,
            "top_cpu_s": deltas[:16], "cpus_bound": cpus_bound, "busy_share": BUSY_SHARE,
            "source": "/proc/self/task/*/stat utime+stime"}
