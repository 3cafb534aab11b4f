"""The measurement protocol options every measuring command shares, defined once, and their
checks before the first worker starts:

- timing: ``--iterations N`` a fixed number of timed calls (overrides ``--min-time``),
  ``--warmup N`` untimed calls after the first (default 5), ``--min-time S`` seconds of timed
  calls per measurement (default 1), ``--timeout S`` per worker (default 1800),
  ``--workdir DIR`` keeps worker files;
- processes: ``--processes N``, ``--fast``, ``--rigorous`` (pyperf's vocabulary,
  mxprof.workers.schedule), each command's default count said the same way;
- `add_protocol` adds both groups: every measuring command (profile, fusion, accuracy,
  compare, int8) takes it;
- the argparse types of counts and seconds, and `hidden_alias` for an old spelling.

The ``check_*`` functions raise `UsageError` (exit status 2) naming the option, before any
worker starts, so bad input never costs a run.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from mxprof.errors import UsageError

DEFAULT_WARMUP = 5
DEFAULT_MIN_TIME = 1.0
DEFAULT_TIMEOUT = 1800.0


def hidden_alias(group, *names: str, dest: str, **kwargs) -> None:
    """An old spelling kept for one release: it parses into `dest` and is not in --help."""
    group.add_argument(*names, dest=dest, help=argparse.SUPPRESS, default=None, **kwargs)


def count(text: str) -> int:
    """argparse type of a count that must be at least 1 (--top N)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seconds(text: str) -> float:
    """argparse type of a number of seconds (--min-time, --timeout). Its range (finite, > 0)
    is checked by `check_counts`, which every command taking these calls: an error there is
    one `mxprof: error:` line, where argparse's would print the whole usage first."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None


def add_timing(p: argparse.ArgumentParser, *, iterations: int | None = None,
               min_time: bool = True, workdir: bool = True, timeout: bool = True) -> None:
    g = p.add_argument_group("timing")
    fixed = f" (default {iterations})" if iterations is not None else \
        " (default: as many as fill --min-time)" if min_time else ""
    g.add_argument("--iterations", type=int, default=iterations, metavar="N",
                   help="a fixed number of timed calls" + (", overrides --min-time"
                                                           if min_time else "") + fixed)
    g.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, metavar="N",
                   help=f"untimed calls after the first (default {DEFAULT_WARMUP})")
    if min_time:
        # None, not the default: --reference-protocol must see whether the user chose it.
        g.add_argument("--min-time", type=seconds, default=None, metavar="S",
                       help=f"seconds of timed calls per measurement (default "
                            f"{DEFAULT_MIN_TIME:g})")
    if timeout:
        g.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="S",
                       help=f"seconds before a worker is killed (default {DEFAULT_TIMEOUT:g})")
    if workdir:
        g.add_argument("--workdir", metavar="DIR",
                       help="keep worker specs, results and stderr here (default: a temporary "
                            "folder, removed at the end)")


def add_protocol(p: argparse.ArgumentParser, *, iterations: int | None = None,
                 min_time: bool = True, workdir: bool = True, timeout: bool = True,
                 processes: int | None = None, interleaved: bool = True) -> None:
    """The measurement protocol of a measuring command: the timing group (`add_timing`) and
    the processes group (`add_processes`), which then knows whether there is a --min-time."""
    add_timing(p, iterations=iterations, min_time=min_time, workdir=workdir, timeout=timeout)
    add_processes(p, default=processes, min_time=min_time, interleaved=interleaved)


def add_processes(p: argparse.ArgumentParser, *, default: int | None = None,
                  min_time: bool = True, interleaved: bool = True) -> None:
    """--processes/--fast/--rigorous (pyperf's vocabulary): several worker processes per
    configuration, so every interval covers the spread between processes (mxprof.workers.schedule).
    `default`: the command's own count (None: the schedule's, 3), which `preset_of` then uses;
    without `min_time` (a fixed count of calls) the presets change the process count only;
    `interleaved`: the processes of the configurations run A B A B."""
    from mxprof.workers.schedule import DEFAULT_PROCESSES, PRESETS
    default = DEFAULT_PROCESSES if default is None else default
    p.set_defaults(default_processes=default)
    g = p.add_argument_group("processes")
    order = ", interleaved A B A B" if interleaved else ""
    g.add_argument("--processes", type=int, metavar="N",
                   help=f"timing worker processes per configuration{order} "
                        f"(default {default}; the 95%% intervals cover the spread between them)")
    fast, rigorous = PRESETS["fast"], PRESETS["rigorous"]
    g.add_argument("--fast", action="store_true",
                   help=f"{fast.processes} processes" + (", half the --min-time" if min_time
                                                         else ""))
    g.add_argument("--rigorous", action="store_true",
                   help=f"{rigorous.processes} processes" + (", twice the --min-time"
                                                             if min_time else ""))


def preset_of(args):
    """The mxprof.workers.schedule.Preset the --processes/--fast/--rigorous flags ask for."""
    import dataclasses

    from mxprof.workers import schedule
    try:
        preset = schedule.choose(getattr(args, "processes", None),
                                 fast=getattr(args, "fast", False),
                                 rigorous=getattr(args, "rigorous", False),
                                 default=getattr(args, "default_processes",
                                                 schedule.DEFAULT_PROCESSES))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "min_time", None) is not None:
        # An explicit --min-time is what the user asked for: --fast/--rigorous scale only
        # the default.
        preset = dataclasses.replace(preset, min_time_factor=1.0)
    return preset


def min_time_of(args, default: float = DEFAULT_MIN_TIME) -> float:
    value = getattr(args, "min_time", None)
    return default if value is None else value


def check_counts(args, *, at_least_one=("iterations", "threads", "batch_size"),
                 not_negative=("warmup",), positive=("min_time", "timeout"),
                 flags: dict[str, str] | None = None) -> None:
    """The one check of counts and seconds, one message per kind of bound (`mxprof: error:
    --iterations must be at least 1, got 0`). Names are argparse dests; `flags` maps a dest
    to its flag where the two differ (int8's batch_size is --eval-batch). Raises UsageError."""
    def flag(name: str) -> str:
        return (flags or {}).get(name) or f"--{name.replace('_', '-')}"

    for name in at_least_one:
        value = getattr(args, name, None)
        # --threads may also be the word "runtime" (threads_arg): only counts are checked.
        if isinstance(value, int) and value < 1:
            raise UsageError(f"{flag(name)} must be at least 1, got {value}")
    for name in not_negative:
        value = getattr(args, name, None)
        if value is not None and value < 0:
            raise UsageError(f"{flag(name)} must not be negative, got {value}")
    for name in positive:
        value = getattr(args, name, None)
        if value is not None and not 0 < value < math.inf:
            raise UsageError(f"{flag(name)} must be a finite number > 0, got {value}")


def check_workdir(path: str | None) -> None:
    """--workdir is an existing writable folder, or can be made under one."""
    if not path:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--workdir {path}: exists and is not a folder")
    existing = target
    while not existing.exists():
        existing = existing.parent
    from mxprof.commands._outputs import check_output_path
    check_output_path("--workdir", str(existing / ".mxprof"))
