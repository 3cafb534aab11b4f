"""The one busy-machine rule: how much CPU other processes took while we measured (from /proc).

`LoadMonitor.start()` before a run, `.stop(label)` after it, gives a `MachineLoad` record:

- `other_cpu_fraction`: CPU time used by everything but this process and its waited-for
  children (the workers), as a fraction of the CPU time available (wall time x online CPUs).
  System-wide busy time is the non-idle, non-iowait jiffies of the "cpu" line of /proc/stat
  (user, nice, system, irq, softirq, steal; guest time is already inside user, see proc(5));
  ours is utime + stime + cutime + cstime of /proc/self/stat, so the time of the workers run
  and reaped during the window counts as ours. Steal (a hypervisor running other guests) counts
  as other work: it is CPU our workers did not get.
- `load_before` / `load_after`: the 1-minute load average of /proc/loadavg, for the record (it
  lags by about a minute and counts our own workers, so the rule does not use it).

The rule: the run was busy when other processes used more than BUSY_FRACTION (10%) of the CPU
time available. 10% is pyperf's limit for a run's standard deviation (pyperf `_utils`, "the
standard deviation is greater than 10% of the mean"): competition for the cores of that size
shows up in the timings at about that size. A worker that waits for a CPU sees every OpenMP
barrier stretched, so this bias is one-sided (slower), not noise that averages out.

Just before a worker starts, `cpu_share(cpus, window_s)` asks the same question of a short
window (0.5 s by default) on the CPUs that worker will use: the busy jiffies of their own
/proc/stat lines ("cpuN") minus this process tree's, as a fraction of window x those CPUs
(`CpuShare`). The OpenMP wait policy "auto" decides from it (mxprof.cpu.openmp): the 1-minute
load average lags the machine by a minute (right after a build it is still 1-2 on an idle
machine), the window does not. `bound_cpus_shared(bound, online, load)` is the old question
asked of the load average, kept for `mxprof bind`'s warning, which needs no window.

Linux only: elsewhere (no /proc) `start()` returns a monitor whose `stop()` gives None.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from mxprof.cpu.cpulist import format_cpu_list
from mxprof.schema import Record

BUSY_FRACTION = 0.10
# Half a CPU of slack: a load average just above the free CPUs is a shell or a cron job, not a
# competitor for the bound ones (the 2-CPU VM idles at 0.1-0.4 with nothing measuring).
LOAD_MARGIN = 0.5
_PROC = Path("/proc")


class MachineLoad(Record, frozen=True):
    """What else ran on the machine during one run (see the module docstring)."""

    label: str
    wall_s: float
    cpus: int
    other_cpu_s: float
    own_cpu_s: float
    other_cpu_fraction: float
    load_before: float | None
    load_after: float | None
    busy: bool
    threshold: float = BUSY_FRACTION

    def warning(self) -> str | None:
        """The sentence a report shows for a busy run, naming it; None when not busy."""
        if not self.busy:
            return None
        load = (f"; 1-min load average {self.load_before:.1f} -> {self.load_after:.1f}"
                if self.load_before is not None and self.load_after is not None else "")
        return (f"busy machine during {self.label}: other processes used "
                f"{100 * self.other_cpu_fraction:.0f}% of the {self.cpus} CPUs' time "
                f"(limit {100 * self.threshold:.0f}%){load}: its timings include waiting for "
                "the CPU")

    def to_dict(self) -> dict:
        # The derived sentence is written for readers of the file; decoding ignores it.
        return {**super().to_dict(), "warning": self.warning()}


def busy_summary(loads) -> str | None:
    """One note for all the busy runs among `loads` (records or dicts), naming each; None when
    none was busy. One run: its own warning."""
    recs = [MachineLoad.from_dict(x) if isinstance(x, dict) else x for x in loads if x]
    busy = [r for r in recs if r.busy]
    if len(busy) <= 1:
        return busy[0].warning() if busy else None
    fractions = [100 * r.other_cpu_fraction for r in busy]
    return (f"busy machine during {len(busy)} of {len(recs)} runs "
            f"({', '.join(r.label for r in busy)}): other processes used "
            f"{min(fractions):.0f}-{max(fractions):.0f}% of the {busy[0].cpus} CPUs' time "
            f"(limit {100 * busy[0].threshold:.0f}%): their timings include waiting for the CPU")


def bound_cpus_shared(*, bound: int, online: int, load: float) -> bool:
    """True when the 1-minute load average `load` is more than the `online - bound` CPUs outside
    a binding of `bound` CPUs can absorb (plus LOAD_MARGIN): other processes then run on the
    bound CPUs too. The rule before a run; `LoadMonitor` measures the run itself."""
    return load > online - bound + LOAD_MARGIN


class CpuShare(Record, frozen=True):
    """What other processes took of some CPUs over a short window just before a worker starts.

    cpus: the CPUs measured (the worker's); window_s: the window's wall seconds; other_cpu_s:
    busy CPU seconds of those CPUs minus this process tree's own (clamped at 0); own_cpu_s:
    ours; share: other_cpu_s / (window_s x len(cpus)), 0-1; load_average: the 1-minute load
    average at the end of the window, for the record only (the decision never reads it).
    """

    cpus: tuple[int, ...]
    window_s: float
    other_cpu_s: float
    own_cpu_s: float
    share: float
    load_average: float | None = None

    @property
    def text(self) -> str:
        """'other processes took 3% of CPUs 0-1 over 0.50 s (1-min load average 1.9)'."""
        load = (f" (1-min load average {self.load_average:.1f})"
                if self.load_average is not None else "")
        return (f"other processes took {100 * self.share:.0f}% of CPUs "
                f"{format_cpu_list(self.cpus)} over {self.window_s:.2f} s{load}")


def per_cpu_busy_jiffies(text: str) -> dict[int, int]:
    """Busy jiffies (all but idle, iowait) of every "cpuN" line of /proc/stat text."""
    out = {}
    for line in text.splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            f = [int(v) for v in values]
            out[int(name[3:])] = f[0] + f[1] + f[2] + sum(f[5:8])
    return out


def share_record(cpus, *, window_s: float, busy_before: dict[int, int],
                 busy_after: dict[int, int], own_s: float, tick: int = 100,
                 load_average: float | None = None) -> CpuShare:
    """The window's rule itself (pure): busy seconds of `cpus` between the two /proc/stat
    snapshots, minus `own_s` (this process tree's CPU seconds, wherever they ran: never more
    than the truth, so the share can only be underestimated by our own few jiffies)."""
    cpus = tuple(sorted(cpus))
    busy_s = sum(busy_after.get(c, 0) - busy_before.get(c, 0) for c in cpus) / tick
    window_s = max(window_s, 1e-9)
    other_s = max(0.0, busy_s - own_s)
    return CpuShare(cpus=cpus, window_s=window_s, other_cpu_s=other_s, own_cpu_s=own_s,
                    share=min(1.0, other_s / (window_s * max(len(cpus), 1))),
                    load_average=load_average)


def cpu_share(cpus=None, window_s: float = 0.5) -> CpuShare | None:
    """Measure `share_record` over `window_s` seconds now (this call sleeps that long) on
    `cpus` (default: the CPUs this process may use). None where /proc is missing."""
    cpus = sorted(os.sched_getaffinity(0)) if not cpus else sorted(cpus)
    stat, own = _read("stat"), _read("self/stat")
    if stat is None or own is None:
        return None
    t0 = time.monotonic()
    time.sleep(window_s)
    stat2, own2, loadavg = _read("stat"), _read("self/stat"), _read("loadavg")
    wall = time.monotonic() - t0
    if stat2 is None or own2 is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return share_record(cpus, window_s=wall, busy_before=per_cpu_busy_jiffies(stat),
                        busy_after=per_cpu_busy_jiffies(stat2),
                        own_s=(own_jiffies(own2) - own_jiffies(own)) / tick, tick=tick,
                        load_average=load_average(loadavg) if loadavg else None)


def system_busy_jiffies(text: str) -> int:
    """Busy jiffies of the aggregate "cpu" line of /proc/stat text (all but idle, iowait)."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            f = [int(v) for v in line.split()[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice]
            return f[0] + f[1] + f[2] + sum(f[5:8])
    raise ValueError("no aggregate 'cpu' line in /proc/stat")


def own_jiffies(text: str) -> int:
    """utime + stime + cutime + cstime from /proc/PID/stat text (fields 14-17, proc(5))."""
    rest = text[text.rindex(")") + 2:].split()  # the command name may contain spaces
    return sum(int(v) for v in rest[11:15])


def load_average(text: str) -> float:
    return float(text.split()[0])


def _read(name: str) -> str | None:
    try:
        return (_PROC / name).read_text()
    except OSError:
        return None


@dataclasses.dataclass
class LoadMonitor:
    """Counters at the start of a run; `stop()` turns them into a MachineLoad."""

    _t0: float
    _system: int
    _own: int
    _load: float | None
    pid: str = "self"

    @classmethod
    def start(cls, pid: int | None = None) -> LoadMonitor | None:
        """None where /proc is missing. `pid`: account that process's tree instead of ours."""
        who = "self" if pid is None else str(pid)
        stat, own, loadavg = _read("stat"), _read(f"{who}/stat"), _read("loadavg")
        if stat is None or own is None:
            return None
        return cls(time.monotonic(), system_busy_jiffies(stat), own_jiffies(own),
                   load_average(loadavg) if loadavg else None, who)

    def stop(self, label: str) -> MachineLoad | None:
        stat, own, loadavg = _read("stat"), _read(f"{self.pid}/stat"), _read("loadavg")
        if stat is None or own is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        return load_record(label, wall_s=time.monotonic() - self._t0, cpus=os.cpu_count() or 1,
                           system_busy_s=(system_busy_jiffies(stat) - self._system) / tick,
                           own_s=(own_jiffies(own) - self._own) / tick, load_before=self._load,
                           load_after=load_average(loadavg) if loadavg else None)


def load_record(label: str, *, wall_s: float, cpus: int, system_busy_s: float, own_s: float,
                load_before: float | None = None, load_after: float | None = None) -> MachineLoad:
    """The rule itself (pure): other = system busy - ours, as a fraction of wall x CPUs.

    `cpus` is every online CPU, as /proc/stat's aggregate line counts them all.
    """
    wall_s = max(wall_s, 1e-9)
    other_s = max(0.0, system_busy_s - own_s)
    fraction = other_s / (wall_s * max(cpus, 1))
    return MachineLoad(label=label, wall_s=wall_s, cpus=cpus, other_cpu_s=other_s,
                       own_cpu_s=own_s, other_cpu_fraction=fraction, load_before=load_before,
                       load_after=load_after, busy=fraction > BUSY_FRACTION)
