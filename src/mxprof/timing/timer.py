"""Timing for benchmark authors: `measure(fn)` for repeated calls, `Timer` for sections of code.

    from mxprof import Timer, measure
    m = measure(lambda: net(x).wait_to_read(), warmup=10, min_time=1.0)
    print(m)                       # median, 95% CI of the median, spread, warnings
    m.samples_ns                   # int64 ns, one per call, a view of the native buffer

    t = Timer()
    with t.section("load"):
        net = load()
    for batch in data:
        with t.section("infer"):
            net(batch)
    print("\n".join(t.report()))   # count, total, mean, min, max per section
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import msgspec
import numpy as np

from mxprof._native import core
from mxprof.schema import SCHEMA, Record
from mxprof.timing import _clock_py
from mxprof.timing import clock as _clock
from mxprof.timing.stats import Stats, pick_unit, summarize

__all__ = ["Measurement", "SectionStats", "Timer", "format_ns", "measure"]

# With repeat=None the loop runs for min_time and at least this many calls, so that a function
# of 100 ms still gets a median with a confidence interval (0.5 s, not min_time's 2 calls).
MIN_AUTO_REPEAT = 6
_FOREVER_NS = 1 << 62  # longer times are clamped to this (146 years), which fits an int64


def format_ns(ns: float, unit: str | None = None) -> str:
    """`ns` with its unit, e.g. "12.35 ms"; the unit is picked from the value unless given."""
    from mxprof.timing.stats import UNITS

    unit = unit or pick_unit(ns)
    return f"{ns / UNITS[unit]:.4g} {unit}"


@dataclass(frozen=True, eq=False)
class Measurement:
    """Samples of repeated calls of one function, and their statistics (all in ns).

    samples_ns: int64 array, one per measured call, read-only; it views the buffer the native
        loop wrote (no copy). Each sample also holds one clock read (clock["overhead_ns"]).
    warmup: calls made before the measured ones and discarded.
    clock: `mxprof.timing.clock.clock_info()` of the clock that took the samples.
    wall_ns: elapsed time of the measured loop, clock reads and bookkeeping included.
    """

    samples_ns: np.ndarray
    stats: Stats
    warmup: int
    clock: dict
    wall_ns: int = 0

    def __str__(self) -> str:
        head = (f"{self.stats.format()} (warm-up {self.warmup} calls; clock "
                f"{self.clock.get('source')}, {self.clock.get('overhead_ns', 0):.0f} ns a read, "
                f"included in each sample)")
        return "\n".join([head, *(f"warning: {w}" for w in self.stats.warnings)])

    # A codec of its own: `samples_ns` is a read-only view of the native loop's buffer (an
    # ndarray, which msgspec neither encodes nor decodes), and the stats are written in ns.
    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "samples_ns": self.samples_ns.tolist(),
            "stats": self.stats.to_dict(unit="ns"),
            "warmup": self.warmup,
            "clock": dict(self.clock),
            "wall_ns": self.wall_ns,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        if data.get("schema", SCHEMA) != SCHEMA:
            raise ValueError(f"unsupported Measurement schema {data.get('schema')!r}")
        samples = np.asarray(data["samples_ns"], dtype=np.int64)
        samples.flags.writeable = False
        return cls(samples_ns=samples, stats=Stats.from_dict(data["stats"]),
                   warmup=int(data["warmup"]), clock=dict(data["clock"]),
                   wall_ns=int(data.get("wall_ns", 0)))


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"measure: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_seconds(name: str, value, *, allow_zero: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
        value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"measure: {name} must be a number of seconds "
                         f"{'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def measure(fn, *, repeat: int | None = None, warmup: int = 1, min_time: float = 0.2,
            max_repeat: int = 100_000, max_time: float | None = None, loop=None) -> Measurement:
    """Call `fn()` repeatedly in a native loop and return one sample per call with statistics.

    repeat: number of measured calls; None calibrates it: calls continue until `min_time`
        seconds have passed and at least 6 calls were made, up to `max_repeat` calls.
    warmup: calls made first and discarded (caches, lazy initialisation, oneDNN primitive
        creation).
    max_time: hard limit in seconds on the whole call, warm-up included; the measured loop
        always makes at least one call. A stop before `repeat` calls is reported as a warning.
    loop: the timing loop, `mxprof.timing.clock.timing_loop` by default (the pure-Python twin
        `mxprof.timing._clock_py.timing_loop` has the same contract).

    Exceptions raised by `fn` (KeyboardInterrupt too) propagate unchanged; nothing is returned.
    """
    if not callable(fn):
        raise TypeError(f"measure: fn must be callable, got {type(fn).__name__}")
    if repeat is not None:
        repeat = _check_count("repeat", repeat, 1)
    warmup = _check_count("warmup", warmup, 0)
    max_repeat = _check_count("max_repeat", max_repeat, 1)
    min_time = _check_seconds("min_time", min_time, allow_zero=True)
    if max_time is not None:
        max_time = _check_seconds("max_time", max_time, allow_zero=False)
    loop = loop or _clock.timing_loop
    info = _clock.clock_info()

    start = _clock.now_ns()
    limit_ns = -1 if max_time is None else min(int(max_time * 1e9), _FOREVER_NS)
    warm_samples = loop(fn, warmup, -1, 1, limit_ns) if warmup else ()
    warm_done = len(warm_samples)
    if limit_ns >= 0:
        limit_ns = max(0, limit_ns - (_clock.now_ns() - start))

    loop_start = _clock.now_ns()
    if repeat is None:
        target_ns = min(int(min_time * 1e9), _FOREVER_NS)
        samples = loop(fn, max_repeat, target_ns, min(MIN_AUTO_REPEAT, max_repeat), limit_ns)
    else:
        samples = loop(fn, repeat, -1, 1, limit_ns)
    wall_ns = _clock.now_ns() - loop_start
    samples.flags.writeable = False

    stats = summarize(samples, clock_overhead_ns=info["overhead_ns"])
    notes = []
    if warm_done < warmup:
        notes.append(f"max_time ({max_time} s) cut the warm-up to {warm_done} of {warmup} calls")
    wanted = repeat if repeat is not None else min(MIN_AUTO_REPEAT, max_repeat)
    if len(samples) < wanted:
        notes.append(f"max_time ({max_time} s) stopped the loop after {len(samples)} of "
                     f"{wanted} calls")
    if notes:
        stats = msgspec.structs.replace(stats, warnings=(*stats.warnings, *notes))
    return Measurement(samples_ns=samples, stats=stats, warmup=warm_done, clock=info,
                       wall_ns=int(wall_ns))


class SectionStats(Record, frozen=True):
    """Accumulated time of one named section: count, total, min and max in ns."""

    name: str
    count: int
    total_ns: int
    min_ns: int
    max_ns: int

    @property
    def mean_ns(self) -> float:
        return self.total_ns / self.count if self.count else 0.0

    def to_dict(self) -> dict:
        # The derived mean is written for readers of the file; decoding ignores it.
        return {**super().to_dict(), "mean_ns": self.mean_ns}


class Timer:
    """Wall-clock timer of code sections, as a context manager, a decorator, or both.

        with Timer("load") as t: ...        # t.elapsed_ns; t.sections["load"]
        @Timer("predict")                    # every call adds to predict.timer.sections["predict"]
        def predict(x): ...
        t = Timer(); with t.section("a"): ...   # sections accumulate across calls

    Each name accumulates count, total, min and max, in a native table
    (`mxprof._core.SectionTable`): a section costs about what a hand-written perf_counter_ns
    pair costs, and threads may share a Timer. A Timer without a name still measures
    `elapsed_ns` when used with `with` but records no section; as a decorator it takes the
    function's qualified name. Time is recorded also when the block raises. `clock` (a function
    returning ns) defaults to `mxprof.timing.clock.now_ns`; `log`, if given (`print`, a
    logger's `info`), receives one line ("name: 12.3 ms") after every timed block: each
    `with t.section(name)` block, each `with t` block and each decorated call. Sections of a
    Timer with `log` are Python objects (about 1 us more a block than the native ones).
    """

    def __init__(self, name: str | None = None, *, clock=None, log=None):
        self.name = name
        self.elapsed_ns = 0
        self._log = log
        self._starts = threading.local()
        if clock is None:
            self._clock = _clock.now_ns
            self._table = core.SectionTable()
        else:  # the twin reads any clock, e.g. a fake one in tests
            self._clock = clock
            self._table = _clock_py.SectionTable(clock)
        # The table's own method, so that `t.section(name)` is one C call with the native table;
        # a logging Timer needs the duration of each block, which only a Python section sees.
        self.section = self._table.section if log is None else self._logged_section

    def section(self, name: str):  # replaced per instance in __init__; kept for help()
        """A context manager that adds the time of its block to section `name`."""
        return self._table.section(name)

    def _logged_section(self, name: str) -> _LoggedSection:
        if not isinstance(name, str):
            raise TypeError(f"section name must be str, not {type(name).__name__}")
        return _LoggedSection(self, name)

    def record(self, name: str, ns: int) -> None:
        """Add one duration measured elsewhere to section `name`."""
        self._table.add(name, int(ns))

    def __enter__(self) -> Timer:
        stack = getattr(self._starts, "stack", None)
        if stack is None:
            stack = self._starts.stack = []
        stack.append(self._clock())
        return self

    def __exit__(self, *exc_info) -> bool:
        self._finish(self.name, self._clock() - self._starts.stack.pop())
        return False

    def _finish(self, name: str | None, ns: int, *, elapsed: bool = True) -> None:
        if elapsed:
            self.elapsed_ns = ns
        if name is not None:
            self._table.add(name, ns)
        if self._log is not None:
            self._log(f"{name or 'elapsed'}: {format_ns(ns)}")

    def __call__(self, fn):
        name = self.name or getattr(fn, "__qualname__", repr(fn))
        clock = self._clock

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self._finish(name, clock() - start)

        timed.timer = self
        return timed

    @property
    def sections(self) -> dict[str, SectionStats]:
        """Accumulated figures per section name, in order of first use."""
        return {k: SectionStats(k, *v) for k, v in self._table.snapshot().items()}

    def reset(self) -> None:
        self._table.clear()

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "sections": [s.to_dict() for s in self.sections.values()]}

    def report(self) -> list[str]:
        """A table of the sections as lines: count, total, mean, min, max (units on each cell)."""
        rows = [(s.name, str(s.count), format_ns(s.total_ns), format_ns(s.mean_ns),
                 format_ns(s.min_ns), format_ns(s.max_ns)) for s in self.sections.values()]
        if not rows:
            return ["(no sections timed)"]
        header = ("section", "count", "total", "mean", "min", "max")
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

        def line(cells) -> str:
            first = cells[0].ljust(widths[0])
            rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:]))
            return "  ".join((first, *rest)).rstrip()

        return [line(header), *(line(r) for r in rows)]


class _LoggedSection:
    """A `with` block of a section of a Timer that logs: adds its time, then logs one line."""

    __slots__ = ("_name", "_start", "_timer")

    def __init__(self, timer: Timer, name: str):
        self._timer = timer
        self._name = name

    def __enter__(self) -> _LoggedSection:
        self._start = self._timer._clock()
        return self

    def __exit__(self, *exc_info) -> bool:
        ns = self._timer._clock() - self._start
        self._timer._finish(self._name, ns, elapsed=False)
        return False
