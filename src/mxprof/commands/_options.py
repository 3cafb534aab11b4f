"""The option groups every command shares, defined once, and the checks run before any worker.

One flag per concept, one meaning and one default everywhere (README, "Options"):

- CPUs: ``--cores LIST`` (``--cpus`` is a hidden alias), ``--membind NODES``, ``--threads N``
  (or ``runtime``; default one per physical core: `mxprof.cpu.placement.resolve`).
- timing: ``--iterations N`` a fixed number of timed calls (overrides ``--min-time``),
  ``--warmup N`` untimed calls after the first (default 5), ``--min-time S`` seconds of timed
  calls per measurement (default 1), ``--timeout S`` per worker (default 1800),
  ``--workdir DIR`` keeps worker files.
- model: MODEL is a zoo name or ``FILE.py:FACTORY``; ``--symbol FILE``, ``--params FILE``,
  ``--shape C,H,W`` (or any per-sample sizes, ``--shape 100``), ``--input NAME:SHAPE[:DTYPE]``
  (repeatable, batch first); `model_of` turns them into one checked ModelSpec.
- outputs: ``--json PATH`` (``-`` for stdout), ``--markdown``, ``--csv``, ``--html``, ``--trace``
  paths, ``--load RESULT`` re-renders a saved result; ``--dry-run`` prints the plan only.

The ``check_*`` functions raise `UsageError` (exit status 2) with a message naming the input, and
are called before the first worker starts, so bad input never costs a run.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from mxprof.commands._outputs import (  # noqa: F401 - the output options live there
    OUTPUT_HELP,
    add_force,
    add_outputs,
    check_output_path,
    check_outputs,
    write_outputs,
)
from mxprof.errors import UsageError

DEFAULT_WARMUP = 5
DEFAULT_MIN_TIME = 1.0
DEFAULT_TIMEOUT = 1800.0


def hidden_alias(group, *names: str, dest: str, **kwargs) -> None:
    """An old spelling kept for one release: it parses into `dest` and is not in --help."""
    group.add_argument(*names, dest=dest, help=argparse.SUPPRESS, default=None, **kwargs)


def add_binding(p: argparse.ArgumentParser, *, cores: bool = True, membind: bool = True) -> None:
    g = p.add_argument_group("CPUs")
    if cores:
        g.add_argument("--cores", metavar="LIST",
                       help="bind every worker to these logical CPUs, e.g. 0-17 (default: not "
                            "bound)")
        hidden_alias(g, "--cpus", dest="cores")
    if membind:
        g.add_argument("--membind", metavar="NODES",
                       help="allocate every worker's memory on these NUMA nodes, e.g. 0")
    add_threads(g)
    g.add_argument("--wait-policy", choices=("auto", "active", "passive"), default="auto",
                   help="how idle OpenMP threads wait: active spins a while, passive sleeps at "
                        "once; auto picks passive when other processes load the CPUs "
                        "(default: auto)")


def threads_arg(text: str) -> int | str:
    """--threads N or --threads runtime (argparse type); the count is checked by check_counts."""
    from mxprof.cpu.openmp import THREADS_RUNTIME
    if text.strip().lower() == THREADS_RUNTIME:
        return THREADS_RUNTIME
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count or '{THREADS_RUNTIME}', got {text!r}") from None


def add_threads(g, what: str = "worker") -> None:
    g.add_argument("--threads", type=threads_arg, metavar="N",
                   help=f"OpenMP threads per {what}, or 'runtime' for MXNet's own choice "
                        "(default: one per physical core of the CPUs it may use, as the "
                        "reference benchmark ran; MXNet alone uses half the CPUs it sees)")


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


def add_processes(p: argparse.ArgumentParser) -> None:
    """--processes/--fast/--rigorous (pyperf's vocabulary): several worker processes per
    configuration, so every interval covers the spread between processes (mxprof.workers.schedule)."""
    g = p.add_argument_group("processes")
    g.add_argument("--processes", type=int, metavar="N",
                   help="timing worker processes per configuration, interleaved A B A B "
                        "(default 3; the 95%% intervals cover the spread between them)")
    g.add_argument("--fast", action="store_true", help="2 processes, half the --min-time")
    g.add_argument("--rigorous", action="store_true", help="6 processes, twice the --min-time")


def preset_of(args):
    """The mxprof.workers.schedule.Preset the --processes/--fast/--rigorous flags ask for."""
    import dataclasses

    from mxprof.workers import schedule
    try:
        preset = schedule.choose(getattr(args, "processes", None),
                                 fast=getattr(args, "fast", False),
                                 rigorous=getattr(args, "rigorous", False))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "min_time", None) is not None:
        # An explicit --min-time is what the user asked for: --fast/--rigorous scale only
        # the default.
        preset = dataclasses.replace(preset, min_time_factor=1.0)
    return preset


def load_result(kind: str, path: str, *, kind_field: str | None = None) -> dict:
    """A saved `kind` result for --load, validated (mxprof.jobs.results.load); `kind_field`:
    the value its "kind" key must hold. Raises UsageError (exit 2) naming the file and, for a
    bad file, the wrong field: the same message in every command."""
    from mxprof.files import InputFileError
    from mxprof.jobs.results import load
    try:
        report = load(kind, path)
    except InputFileError as exc:  # a device, a folder, no such file: before any read
        raise UsageError(f"cannot load {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot load {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # names the file and the wrong field
        raise UsageError(str(exc)) from None
    if kind_field is not None and report.get("kind") != kind_field:
        raise UsageError(f"{path}: not an mxprof {kind} result: kind {report.get('kind')!r}, "
                         f"not {kind_field!r}")
    return report


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
    """argparse type of a finite, positive number of seconds (--min-time, --timeout)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text}")
    return value


def min_time_of(args, default: float = DEFAULT_MIN_TIME) -> float:
    value = getattr(args, "min_time", None)
    return default if value is None else value


INPUT_HELP = ("a model input, batch first (repeatable): e.g. src:4,20:int32 for gnmt, "
              "data:1,3,224,224; DTYPE float32 (default), float16, float64, int32, int64, "
              "int8, uint8; random values per input: token ids below the vocabulary, N(0,1) "
              "noise or ImageNet-normalised images (default: the model's own inputs)")


def add_model_files(g, *, symbol: bool = True, params: bool = True, inputs: bool = True,
                    shape_help: str = "input shape C,H,W, or any per-sample sizes such as 100 "
                                      "(default: the model's own)",
                    input_help: str = INPUT_HELP) -> None:
    if inputs:
        g.add_argument("--input", action="append", default=[], metavar="NAME:SHAPE[:DTYPE]",
                       help=input_help)
    if symbol:
        g.add_argument("--symbol", metavar="FILE", help="exported model X-symbol.json")
    if params:
        g.add_argument("--params", metavar="FILE",
                       help="weights (X-0000.params, or a zoo model's .params); default: the zoo "
                            "file if it is in $MXNET_HOME/models, else random initialisation")
    g.add_argument("--shape", help=shape_help)


def resolve_model(name: str | None, **kwargs):
    """`mxprof.mx.models.resolve` for a command: GluonCV names are looked up only when the
    gluoncv extra is installed, and an unknown name says how to get it (never an ImportError)."""
    import importlib.util

    from mxprof.mx import models

    has_gluoncv = importlib.util.find_spec("gluoncv") is not None
    try:
        return models.resolve(name, check_gluoncv=has_gluoncv, **kwargs)
    except models.UnknownModel as exc:
        hint = "" if has_gluoncv else \
            "; GluonCV model names need GluonCV: pip install 'mxprof[gluoncv]'"
        raise UsageError(f"{exc}{hint}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def model_of(args, name: str | None, given_texts: list[str] | None = None):
    """The checked ModelSpec for MODEL (a zoo name or FILE.py:FACTORY), --symbol, --params,
    --shape and --input, and the --input batch (None when no --input): -> (spec, batch).

    Zoo models are checked against the registry (input names, ranks, integer or float dtypes)
    without MXNet; a factory or an exported symbol is imported and its shapes inferred in a
    child process (mxprof.jobs.model_check), so a factory that fails or does not return a
    HybridBlock, or a symbol whose inputs do not match, stops here. Raises UsageError.
    """
    from mxprof.mx import inputs, models
    texts = (getattr(args, "input", None) or []) if given_texts is None else given_texts
    symbol = getattr(args, "symbol", None)
    try:
        shape = models.parse_shape(args.shape) if getattr(args, "shape", None) else None
        given = [inputs.parse_input(t) for t in texts]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    spec = resolve_model(name, shape=shape, symbol=symbol, params=getattr(args, "params", None))
    try:
        if spec.source in ("factory", "symbol"):
            from mxprof.errors import require_extra
            from mxprof.jobs.model_check import run_check
            require_extra("a FILE.py:FACTORY or --symbol model", "mxnet")
            rnn: list[bool] = []
            batch, fed = run_check(spec, given, shape, rnn=rnn)
            if rnn and rnn[0]:  # its reference path is the RNN one (models.has_rnn)
                import msgspec
                spec = msgspec.structs.replace(spec, rnn=True)
        else:
            batch, fed = inputs.merge(spec.input_specs, given)
            _check_zoo(models.with_inputs(spec, fed) if fed != spec.input_specs else spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return (models.with_inputs(spec, fed) if fed != spec.input_specs else spec), batch


def _check_zoo(spec) -> None:
    """A zoo model is checked like a factory or a symbol before any worker starts: built
    (no weights) and its shapes inferred at the inputs it will be fed, its --params matched
    against its weights, in a child process (mxprof.jobs.model_check). Skipped where this
    interpreter has no MXNet (compare may time other builds only). Raises ValueError."""
    import importlib.util
    if importlib.util.find_spec("mxnet") is None:
        return
    from mxprof.jobs.model_check import run_check
    run_check(spec, [], None)


def split_inputs(texts: list[str], names: list[str]) -> dict[str, list[str]]:
    """`--input [MODEL=]NAME:SHAPE[:DTYPE]` for a command of several models: -> the texts of
    each model. Without `MODEL=`, an --input belongs to the only model; with several models
    every --input must name its model. Raises UsageError."""
    out: dict[str, list[str]] = {n: [] for n in names}
    for text in texts:
        model, sep, rest = text.partition("=")
        if sep:
            if model not in out:
                raise UsageError(f"--input {text}: {model!r} is not one of the models "
                                 f"({', '.join(names)})")
            out[model].append(rest)
        elif len(names) == 1:
            out[names[0]].append(text)
        else:
            raise UsageError(f"--input {text}: with several models, name the one it feeds: "
                             f"--input MODEL=NAME:SHAPE[:DTYPE], MODEL one of {', '.join(names)}")
    return out


# --- checks before the first worker -------------------------------------------------------

def check_counts(args, *, at_least_one=("iterations", "threads", "batch_size"),
                 not_negative=("warmup",), positive=("min_time", "timeout")) -> None:
    for name in at_least_one:
        value = getattr(args, name, None)
        # --threads may also be the word "runtime" (threads_arg): only counts are checked.
        if isinstance(value, int) and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    for name in not_negative:
        value = getattr(args, name, None)
        if value is not None and value < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative, got {value}")
    for name in positive:
        value = getattr(args, name, None)
        if value is not None and not 0 < value < math.inf:
            raise UsageError(f"--{name.replace('_', '-')} must be a finite number > 0, got "
                             f"{value}")


def check_model_files(symbol: str | None, params: str | None) -> None:
    """A readable, complete symbol JSON and .params file (headers walked, MXNet not loaded)."""
    from mxprof.mx.checks import ModelFileError, check_params, check_symbol

    try:
        if symbol is not None:
            check_symbol(symbol)
        if params is not None:
            check_params(params)
    except ModelFileError as exc:
        flag = "--symbol" if symbol is not None and str(exc).startswith(symbol) else "--params"
        raise UsageError(f"{flag} {exc}") from None


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
    check_output_path("--workdir", str(existing / ".mxprof"))


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def print_plan(command: str, rows: list[tuple[str, str]], estimate_s: float,
               notes: tuple[str, ...] = ()) -> None:
    """The --dry-run output: one line per worker (label, what it runs) and a rough total."""
    print(f"mxprof {command}, dry run: {len(rows)} worker(s) planned, nothing was run")
    width = max((len(label) for label, _ in rows), default=0)
    for i, (label, what) in enumerate(rows, 1):
        print(f"  {i:>3}. {label:<{width}}  {what}")
    for note in notes:
        print(f"  {note}")
    print(f"estimated time: about {format_duration(estimate_s)} (rough: worker start-up and "
          "model load included, machine load not)")
