"""`mxprof int8`'s options and plan: what will run, checked before any worker starts.

`plan(Options) -> Int8Plan` resolves the model (a zoo name, or a ModelSpec dict the command
resolved from FILE.py:FACTORY / --symbol / --input), checks every option (UsageError, exit 2)
and lists the cells: the FP32 reference, the first INT8 configuration with its per-layer
analysis, the per-layer timing pass, then up to `max_steps` search candidates, each timed in
`processes` processes (the first also evaluates the inputs).
"""

from __future__ import annotations

import msgspec

from mxprof.cpu.placement import Placement
from mxprof.errors import UsageError
from mxprof.jobs.binding import notes as binding_notes
from mxprof.jobs.binding import resolve
from mxprof.jobs.contract import Plan, Step
from mxprof.jobs.int8.records import Target
from mxprof.mx.quantize import CALIB_MODES

METRICS = ("top1", "agreement", "sqnr")
DTYPES = ("auto", "int8", "uint8")
FLAGS = {"calib_size": "--calib-size", "num_inputs": "--num-inputs", "batch_size": "--eval-batch",
         "probe": "--probe", "timing_batch": "--timing-batch", "processes": "--processes",
         "max_steps": "--max-steps", "iterations": "--iterations", "limit": "--limit"}
# A process: interpreter and MXNet start, model build, quantization (a ResNet-50 took 40-110 s
# on the loaded 2-core machine here, a tiny net 8 s); then warm-up and timing.
START_S = 15.0


class Options(msgspec.Struct, kw_only=True):
    """Everything `mxprof int8` takes; the CLI and `mxprof.int8()` share these defaults."""

    model: str | None = None  # a zoo name; or `spec`, already resolved
    spec: dict | None = None  # a ModelSpec dict (mxprof.mx.models), wins over `model`
    calib_mode: str = "naive"
    calib_size: int = 32
    quantized_dtype: str = "auto"
    exclude: tuple[str, ...] = ()
    data: str | None = None  # labelled images (X.rec or a folder); random inputs without
    limit: int | None = None
    num_inputs: int = 64  # random evaluation inputs without --data
    batch_size: int = 8  # evaluation and calibration batch (the command's --eval-batch)
    probe: int = 8  # inputs of the per-layer pass
    threshold_db: float = 20.0  # a layer diverges when its accumulated SQNR drops below this
    target: Target | None = None
    budget_s: float | None = None
    max_steps: int = 12
    timing_batch: int = 1
    processes: int = 2
    warmup: int = 5
    min_time: float = 1.0
    iterations: int | None = None
    # The binding, resolved once by `plan` into the one Placement (mxprof.cpu.placement):
    threads: int | str | None = None  # a count, "runtime", None: one per physical core
    wait_policy: str = "auto"  # auto | active | passive
    cores: str | None = None  # CPU list every worker binds to before MXNet loads
    membind: str | None = None  # NUMA nodes for every worker's memory
    timeout: float = 1800.0
    layer_times: bool = True
    export: str | None = None  # PREFIX: the chosen model as PREFIX-symbol.json, PREFIX.params
    workdir: str | None = None


class Int8Plan(Plan, kw_only=True):
    """`options` with the binding as resolved (`threads`, `wait_policy`, `cores`, `membind`
    are the Placement's), the Placement itself, the checked model."""

    kind: str = "int8"
    options: Options
    placement: Placement
    model: dict
    workers: int = 0  # worker processes at most (the progress display's total)


def parse_target(text: str) -> Target:
    """`top1=0.75`, `agreement=0.99` or `sqnr=30` -> Target; UsageError otherwise."""
    metric, sep, value = text.partition("=")
    metric = metric.strip().lower()
    try:
        number = float(value)
    except ValueError:
        number = None
    if not sep or metric not in METRICS or number is None:
        raise UsageError(f"--target {text!r}: write METRIC=VALUE with METRIC one of "
                         f"{', '.join(METRICS)} (top1=0.75, agreement=0.99, sqnr=30)")
    if metric != "sqnr" and not 0 <= number <= 1:
        raise UsageError(f"--target {text!r}: {metric} is a fraction between 0 and 1")
    return Target(metric=metric, value=number)


def _check(o: Options) -> None:
    if o.calib_mode not in CALIB_MODES:
        raise UsageError(f"--calib-mode {o.calib_mode!r}: choose one of {', '.join(CALIB_MODES)}")
    if o.quantized_dtype not in DTYPES:
        raise UsageError(f"--quantized-dtype {o.quantized_dtype!r}: choose one of "
                         f"{', '.join(DTYPES)}")
    # The command's flag names (batch_size is --eval-batch), in the command's wording
    # (mxprof.commands._options.check_counts): the notebook API gets the same messages.
    for name, flag in FLAGS.items():
        value = getattr(o, name)
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")
    for name in ("warmup", "min_time"):
        if getattr(o, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must not be negative, got "
                             f"{getattr(o, name)}")
    if o.budget_s is not None and o.budget_s <= 0:
        raise UsageError("--budget must be a positive number of seconds")
    if o.target is not None and o.target.metric == "top1" and not o.data:
        raise UsageError("--target top1=... needs labelled --data; without labels use "
                         "agreement=FRACTION (top-1 agreement with FP32) or sqnr=DB")


def _model(o: Options) -> dict:
    from mxprof.mx import models

    if o.spec is not None:
        spec = models.ModelSpec.from_dict(o.spec)
    else:
        try:
            spec = models.resolve(o.model)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    fed = spec.input_specs
    if len(fed) != 1 or fed[0].dtype != "float32":
        raise UsageError(f"int8 quantizes a model with one float32 input; {spec.name} takes "
                         f"{', '.join(i.short() for i in fed)}")
    if o.data and (fed[0].distribution != "image" or len(fed[0].shape) != 3):
        raise UsageError(f"--data feeds images to one C,H,W input; {spec.name} takes "
                         f"{fed[0].short()}: leave --data out for random inputs")
    return spec.to_dict()


def plan(options: Options) -> Int8Plan:
    """The checked plan (see the module docstring); UsageError for bad input."""
    _check(options)
    model = _model(options)
    placement = resolve(options.cores, options.membind, options.threads, options.wait_policy)
    # The workers read the binding from the options: the resolved one, decided once here.
    options = msgspec.structs.replace(options, threads=placement.threads,
                                      wait_policy=placement.wait_policy, cores=placement.cores,
                                      membind=placement.membind)
    per_process = START_S + options.warmup * 0.05 + options.min_time
    p = options.processes
    steps = [Step(label="fp32", what=f"FP32 reference (MKL-DNN fused), {p} timing processes",
                  seconds=p * per_process),
             Step(label="all-int8", what=f"INT8 (calib {options.calib_mode}) and its per-layer "
                  f"errors on {options.probe} inputs, {p} timing processes",
                  seconds=p * per_process + 30)]
    if options.layer_times:
        steps.append(Step(label="layer-times", what="per-layer time of FP32 and INT8 (hooks "
                          "under NaiveEngine)", seconds=START_S * 2))
        steps.append(Step(label="primitives", what="INT8 oneDNN primitives per layer "
                          "(DNNL_VERBOSE, 3 calls): reorders, implementations", seconds=START_S))
    if options.target is not None:
        steps += [Step(label=f"candidate {i}", what="one exclusion set: quantize, evaluate, "
                       f"{p} timing processes", seconds=p * per_process)
                  for i in range(1, options.max_steps + 1)]
    timed = f"{options.iterations} timed calls" if options.iterations is not None else \
        f">= {options.min_time:g} s of timed calls"
    notes = [f"protocol: warm-up {options.warmup}, {timed} per measurement at batch "
             f"{options.timing_batch}, {p} timing process(es) per configuration; evaluation "
             f"batch {options.batch_size}", *binding_notes(placement)]
    if options.budget_s is not None:
        notes.append(f"the search stops starting candidates after {options.budget_s:g} s")
    configs = 2 + (options.max_steps if options.target is not None else 0)
    workers = configs * p + 2 * int(options.layer_times) + 2  # + verify, + FP32 again  # + the chosen one, re-quantized
    return Int8Plan(options=options, placement=placement, model=model, steps=steps, notes=notes,
                    workers=workers)
