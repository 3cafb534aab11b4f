"""The option groups every command shares, defined once, and the checks run before any worker.

One flag per concept, one meaning and one default everywhere (README, "Options"). Each group
is a module of this package, with one job; commands reach every group through this package
(`from mxprof.commands import _options`; `_options.add_binding(parser)`):

- `binding`: CPUs, ``--cores LIST`` (``--cpus`` a hidden alias), ``--membind NODES``,
  ``--threads N`` (or ``runtime``), ``--wait-policy``; the job's `plan` resolves them into the
  one Placement (mxprof.cpu.placement.resolve), `announce_wait` says the policy chosen;
- `protocol`: timing (``--iterations``, ``--warmup``, ``--min-time``, ``--timeout``,
  ``--workdir``) and processes (``--processes``, ``--fast``, ``--rigorous``), both added by
  `add_protocol` (profile, fusion, accuracy, compare, int8), the argparse types of counts and
  seconds, their checks (one message per bound: ``--X must be at least 1, got N``);
- `modelspec`: MODEL, ``--symbol``, ``--params``, ``--shape``, ``--input``; `model_of` turns
  them into one checked ModelSpec;
- outputs (mxprof.commands._outputs): ``--FORMAT PATH`` from the declared formats of a kind
  (``-`` for stdout), ``--force``, ``--load RESULT``, ``--dry-run`` (its printing:
  mxprof.commands._job.print_plan).

The ``check_*`` functions raise `UsageError` (exit status 2) with a message naming the input,
and are called before the first worker starts, so bad input never costs a run.
"""

from __future__ import annotations

from mxprof.commands._job import print_plan
from mxprof.commands._options.binding import add_binding, add_threads, announce_wait, threads_arg
from mxprof.commands._options.modelspec import (
    INPUT_HELP,
    add_model_files,
    check_model_files,
    model_of,
    resolve_model,
    split_inputs,
)
from mxprof.commands._options.protocol import (
    DEFAULT_MIN_TIME,
    DEFAULT_TIMEOUT,
    DEFAULT_WARMUP,
    add_processes,
    add_protocol,
    add_timing,
    check_counts,
    check_workdir,
    count,
    hidden_alias,
    min_time_of,
    preset_of,
    seconds,
)
from mxprof.commands._outputs import (
    OUTPUT_HELP,
    add_force,
    add_outputs,
    check_output_path,
    check_outputs,
    load_result,
    write_outputs,
)
from mxprof.commands._progress import format_duration

__all__ = [
    "DEFAULT_MIN_TIME", "DEFAULT_TIMEOUT", "DEFAULT_WARMUP", "INPUT_HELP", "OUTPUT_HELP",
    "add_binding", "add_force", "add_model_files", "add_outputs", "add_processes",
    "add_protocol", "add_threads", "add_timing", "announce_wait", "check_counts", "check_model_files",
    "check_output_path", "check_outputs", "check_workdir", "count", "format_duration",
    "hidden_alias", "load_result", "min_time_of", "model_of", "preset_of", "print_plan",
    "resolve_model", "seconds", "split_inputs", "threads_arg", "write_outputs",
]
