"""The accuracy job on the one contract (mxprof.jobs.contract): Options -> plan -> run -> AccuracyReport.

`Options` holds what the user chose (the CLI's defaults, shared with `mxprof.accuracy()`);
`plan(options)` checks it (numbers, configurations, calibration modes, the data set, what
--data and --int8 need of the model's inputs), resolves the binding once and lists the workers
in the order they run; `run(plan, on_event)` runs them as executor cells
(`mxprof.jobs.accuracy.execute.run_accuracy`), each carrying the binding its worker applies to
itself. A failed configuration is a failed row of the report, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from mxprof.cpu.placement import Placement
from mxprof.errors import UsageError
from mxprof.events import OnEvent, ignore
from mxprof.jobs.accuracy.configs import FP32_CONFIGS, ConfigPlan, plan_configs, reference_for
from mxprof.jobs.accuracy.records import AccuracyReport
from mxprof.jobs.binding import notes as binding_notes
from mxprof.jobs.binding import resolve, spec_of, threads_text
from mxprof.jobs.contract import Plan, Step, option_default
from mxprof.workers.executor import Executor


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """What `mxprof accuracy` and `mxprof.accuracy()` take; the defaults are the CLI's.

    spec: the checked ModelSpec dict (mxprof.mx.models). configs: FP32 configurations (the
    reference mkldnn-off always runs); int8: calibration modes of the INT8 configurations
    (none, naive, entropy; empty: no INT8). data: labelled images (X.rec or a folder), with
    limit/resize/mean/std; without it `num_inputs` random inputs. rtol/atol: the FP32
    tolerance. iterations/warmup/timing_batch/processes: the latency protocol (iterations 0:
    not timed). cores/membind/threads/wait_policy: as the CLI's flags.
    """

    spec: dict[str, Any]
    configs: tuple[str, ...] = FP32_CONFIGS
    int8: tuple[str, ...] = ()
    data: str | None = None
    limit: int | None = None
    resize: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    num_inputs: int = 32
    batch_size: int = 16
    calib_size: int = 64
    rtol: float = 1e-3
    atol: float = 1e-4
    timing_batch: int = 1
    iterations: int = 20
    warmup: int = 5
    processes: int = 3
    cores: str | None = None
    membind: str | None = None
    threads: int | str | None = None
    wait_policy: str = "auto"
    timeout: float = 1800.0


def default(name: str) -> Any:
    """Options' default of `name` (the CLI's argparse defaults read them here)."""
    return option_default(Options, name)


class AccuracyPlan(Plan, kw_only=True):
    kind: str = "accuracy"
    options: Options
    placement: Placement
    configs: list[ConfigPlan]
    reference: dict[str, Any]
    inputs: dict[str, Any]
    processes: int


def _check_numbers(o: Options) -> None:
    for name in ("batch_size", "timing_batch", "calib_size", "processes"):
        if getattr(o, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got "
                             f"{getattr(o, name)}")
    for name in ("iterations", "warmup"):
        if getattr(o, name) < 0:
            raise UsageError(f"--{name} must not be negative, got {getattr(o, name)}")
    if not o.timeout > 0:
        raise UsageError(f"--timeout must be > 0, got {o.timeout}")
    if o.rtol < 0 or o.atol < 0:
        raise UsageError("--rtol and --atol must not be negative")


def _check_model(o: Options) -> None:
    """--data and --int8 need one float image input (the data set's images, the quantizer's
    calibration)."""
    from mxprof.mx.models import ModelSpec
    spec = ModelSpec.from_dict(o.spec)
    fed = spec.input_specs
    takes = ", ".join(i.short() for i in fed)
    one_image = len(fed) == 1 and fed[0].distribution == "image" and len(fed[0].shape) == 3
    if o.data and not one_image:
        raise UsageError(f"--data feeds images to one C,H,W input; {spec.name} takes {takes}: "
                         "leave --data out for random inputs")
    if o.int8 and (len(fed) != 1 or fed[0].dtype != "float32"):
        raise UsageError(f"--int8 quantizes a model with one float32 input; {spec.name} takes "
                         f"{takes}")


def _inputs(o: Options) -> dict[str, Any]:
    if not o.data:
        if o.num_inputs < 1:
            raise UsageError("--num-inputs must be at least 1")
        return {"kind": "random", "count": o.num_inputs, "seed": 0}
    from mxprof.jobs.accuracy.datasets import DatasetError, Preprocess, open_dataset

    try:
        pre = Preprocess.for_input(tuple(o.spec["input_shape"]), o.resize, o.mean, o.std)
        ds = open_dataset(o.data)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    if o.limit is not None and o.limit < 1:
        raise UsageError("--limit must be at least 1")
    return {"kind": "dataset", "path": str(o.data), "preprocess": pre.to_dict(),
            "limit": o.limit, "records": len(ds)}


def _configs(o: Options) -> list[ConfigPlan]:
    from mxprof.mx.quantize import CALIB_MODES
    bad = [m for m in o.int8 if m not in CALIB_MODES]
    if bad:
        raise UsageError(f"--calib-mode {', '.join(bad)}: choose from {', '.join(CALIB_MODES)}")
    try:
        return plan_configs(list(o.configs), list(o.int8))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def plan(options: Options) -> AccuracyPlan:
    """Check and resolve `options` once; raises UsageError for bad input."""
    _check_numbers(options)
    configs, reference = reference_for(options.spec, _configs(options))
    _check_model(options)
    inputs = _inputs(options)
    placement = resolve(options.cores, options.membind, options.threads, options.wait_policy)
    processes = options.processes if options.iterations else 1
    return AccuracyPlan(options=options, placement=placement, configs=configs, reference=reference,
                        inputs=inputs, processes=processes,
                        steps=_steps(options, configs, inputs, processes),
                        notes=[f"{processes} timing process(es) per configuration, "
                               f"interleaved; warm-up {options.warmup} calls",
                               *binding_notes(placement)])


def _steps(o: Options, configs: list[ConfigPlan], inputs: dict, processes: int) -> list[Step]:
    count = inputs.get("records") if inputs["kind"] == "dataset" else inputs["count"]
    if inputs["kind"] == "dataset" and inputs.get("limit"):
        count = min(count, inputs["limit"])
    what = (f"{count} images of {inputs['path']}" if inputs["kind"] == "dataset"
            else f"{count} random inputs")
    timed = f"then {o.iterations} timed calls at batch {o.timing_batch}" if o.iterations \
        else "latency not timed"
    # ~10 s to start a worker and load the model, plus ~20 ms an image (resnet-50-class, 2 CPUs).
    calls = 0.05 * (o.iterations + o.warmup)
    steps = [Step(label=p.name, what=f"{what} at batch {o.batch_size}, {timed}",
                  seconds=10 + 0.02 * count + calls) for p in configs]
    from mxprof.workers.schedule import interleave
    steps += [Step(label=f"{p.name} #{r + 2}", what=f"timing only, {timed[len('then '):]}", seconds=10 + calls)
              for r, p in interleave(configs, processes - 1)]
    return steps


def run(plan: AccuracyPlan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[AccuracyReport], None] | None = None,
        executor: Executor | None = None) -> AccuracyReport:
    """Run the plan (every configuration's workers as cells of `executor`, default one after
    another here); the AccuracyReport, failed configurations included. Interrupted,
    `on_partial` gets the report of the configurations that finished before the interrupt
    goes on (like profile's, so `--json` keeps them)."""
    from mxprof.jobs.accuracy.execute import run_accuracy
    from mxprof.jobs.accuracy.metrics import Tolerance

    o = plan.options
    report = run_accuracy(
        o.spec, plan.configs, inputs=plan.inputs, batch_size=o.batch_size,
        calib_count=o.calib_size,
        timing={"batch": o.timing_batch, "warmup": o.warmup, "iterations": o.iterations},
        tolerance=Tolerance(rtol=o.rtol, atol=o.atol), threads=plan.placement.threads,
        placement=spec_of(plan.placement), timeout=o.timeout, on_event=on_event,
        processes=plan.processes, wait_policy=plan.placement.wait_policy, executor=executor,
        on_partial=on_partial)
    return msgspec.structs.replace(report, notes=(*report.notes,
                                                  f"OpenMP threads: {threads_text(plan.placement)}"))
