"""The fusion job on the one contract (mxprof.jobs.contract): Options -> plan -> run -> FusionResult.

`Options` holds what the user chose (the CLI's defaults, shared with `mxprof.fusion()`),
`plan(options)` checks and resolves it once (binding, threads, wait policy, the timing count)
into a `FusionPlan` whose steps are the workers in the order they run
(`mxprof.jobs.fusion.order.worker_plan`), and `run(plan, on_event)` hands those workers to an
executor as cells (`mxprof.workers.executor`): each cell is a self-contained WorkerSpec
carrying its binding, which the worker applies to itself before MXNet loads. The workers'
results are assembled by `mxprof.jobs.fusion.assemble`.

An unfused or fused timing worker, or a trace worker, that fails ends the job: the result is
a partial report (`complete` false, mxprof.jobs.fusion.partial) with the failed worker as a
row and the medians measured so far, never an abort; a failed switch-off worker is a row in
`failed_workers`, and its switch is reported from the processes that ran. Interrupted
(KeyboardInterrupt), `on_partial` gets the partial report before the interrupt goes on, so
`--json` keeps what was measured, as in profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from mxprof import jsonio
from mxprof.cpu.placement import Placement
from mxprof.errors import UsageError, WorkerError
from mxprof.events import OnEvent, ignore
from mxprof.files import temp_dir
from mxprof.jobs.binding import notes as binding_notes
from mxprof.jobs.binding import resolve, spec_of
from mxprof.jobs.contract import Plan, Step
from mxprof.jobs.fusion import gains as fusion
from mxprof.jobs.fusion.assemble import FusionOptions, assemble, finish, trace_of, worker_spec
from mxprof.jobs.fusion.order import worker_plan
from mxprof.jobs.fusion.partial import Done, partial_report
from mxprof.jobs.fusion.records import FusionResult
from mxprof.workers.executor import Executor, LocalExecutor
from mxprof.workers.protocol import WorkerResult

SWITCH_NAMES = ("CONV_BN", "CONV_RELU", "CONV_SUM", "FC_ELTWISE")
# Timed calls per process when no fixed --iterations is given: at least this many, and at
# least `min_time` seconds.
MIN_CALLS = 10


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """What `mxprof fusion` and `mxprof.fusion()` take; the defaults are the CLI's.

    model: the name reports show (a zoo name or FILE.py:FACTORY); spec: the checked ModelSpec
    dict (mxprof.mx.models, every input); shape: the first input's shape, batch first.
    iterations: a fixed count of timed calls (None: at least 10 calls filling `min_time` s).
    processes: worker processes per timed configuration and per traced graph.
    switches: the MXNET_DISABLE_MKLDNN_FUSE_* switches turned off one at a time.
    cores/membind/threads/wait_policy: as `--cores/--membind/--threads/--wait-policy`.
    """

    model: str
    shape: tuple[int, ...]
    spec: dict[str, Any] | None = None
    path: str = "gluon"
    static: bool = True
    warmup: int = 5
    iterations: int | None = None
    min_time: float = 1.0
    processes: int = 3
    trace_iterations: int = 10
    switches: tuple[str, ...] = tuple(fusion.PATTERN_SWITCHES)
    cores: str | None = None
    membind: str | None = None
    threads: int | str | None = None
    wait_policy: str = "auto"
    timeout: float = 1800.0


class FusionPlan(Plan, kw_only=True):
    """The workers of one fusion job, and the resolved settings every one of them gets."""

    kind: str = "fusion"
    options: Options
    settings: FusionOptions
    placement: Placement
    labels: list[tuple[str, str]] = msgspec.field(default_factory=list)


def parse_switches(text: str) -> tuple[str, ...]:
    """`--switches conv_bn,conv_sum` (or 'none') as full variable names; UsageError else."""
    if text.strip().lower() in ("", "none"):
        return ()
    out = []
    for name in text.split(","):
        key = name.strip().upper().removeprefix("MXNET_DISABLE_MKLDNN_FUSE_")
        if key not in SWITCH_NAMES:
            raise UsageError(f"unknown fusion switch {name!r}: choose from "
                             f"{', '.join(SWITCH_NAMES)} or 'none'")
        out.append(f"MXNET_DISABLE_MKLDNN_FUSE_{key}")
    return tuple(out)


def _check(options: Options) -> None:
    for name in ("trace_iterations", "processes"):
        if getattr(options, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got "
                             f"{getattr(options, name)}")
    if options.iterations is not None and options.iterations < 1:
        raise UsageError(f"--iterations must be at least 1, got {options.iterations}")
    if options.warmup < 0:
        raise UsageError(f"--warmup must not be negative, got {options.warmup}")
    if not options.min_time > 0 or not options.timeout > 0:
        raise UsageError("--min-time and --timeout must be > 0")
    if options.path not in ("gluon", "symbolic"):
        raise UsageError(f"path {options.path!r}: gluon or symbolic")
    bad = [s for s in options.switches if s not in fusion.PATTERN_SWITCHES]
    if bad:
        raise UsageError(f"unknown fusion switch {bad[0]!r}")


def plan(options: Options) -> FusionPlan:
    """Check `options` and resolve them once; raises UsageError for bad input."""
    _check(options)
    placement = resolve(options.cores, options.membind, options.threads, options.wait_policy)
    # A fixed count is that count and no minimum time; else at least MIN_CALLS calls and
    # at least `min_time` seconds (the fusion worker times whichever is longer).
    fixed = options.iterations is not None
    settings = FusionOptions(
        model=options.model, shape=tuple(options.shape), spec=options.spec, path=options.path,
        static=options.static, warmup=options.warmup,
        iterations=options.iterations if fixed else MIN_CALLS,
        min_time_s=0.0 if fixed else options.min_time, trace_iterations=options.trace_iterations,
        processes=options.processes, switches=tuple(options.switches), threads=placement.threads,
        wait_policy=placement.wait_policy, timeout_s=options.timeout,
        placement=spec_of(placement))
    return plan_of(settings, placement, options)


def plan_of(settings: FusionOptions, placement: Placement | None = None,
            options: Options | None = None) -> FusionPlan:
    """The plan of already resolved worker settings (profile's companion fusion summary, which
    runs on the main run's protocol and binding)."""
    placement = placement or Placement(threads=settings.threads,
                                       wait_policy=settings.wait_policy or "passive")
    options = options or Options(
        model=settings.model, shape=tuple(settings.shape), spec=settings.spec,
        path=settings.path, static=settings.static, warmup=settings.warmup,
        iterations=settings.iterations if settings.min_time_s == 0 else None,
        min_time=settings.min_time_s or 1.0, processes=settings.processes,
        trace_iterations=settings.trace_iterations, switches=tuple(settings.switches),
        threads=settings.threads, timeout=settings.timeout_s)
    labels = worker_plan(settings)
    return FusionPlan(options=options, settings=settings, placement=placement, labels=labels,
                      steps=_steps(settings, labels), notes=_notes(settings, placement))


def run_fusion(settings: FusionOptions, on_event: OnEvent = ignore) -> dict:
    """The fusion report dict of resolved worker settings: `run(plan_of(settings))`, for
    profile's companion summary (its workers bind themselves from `settings.bind`)."""
    return run(plan_of(settings), on_event).to_dict()


def _steps(s: FusionOptions, labels: list[tuple[str, str]]) -> list[Step]:
    timing = (f"{s.iterations} timed calls" if s.min_time_s == 0
              else f">= {s.min_time_s:g} s of timed calls")
    what = {"unfused": f"timing, {timing}", "fused": f"timing, {timing}",
            "unfused-trace": f"DNNL_VERBOSE, {s.trace_iterations} iterations",
            "fused-trace": f"DNNL_VERBOSE, {s.trace_iterations} iterations"}
    # ~8 s to start a worker and build the graph, plus the timed calls (rough).
    per = 8 + (s.min_time_s or 0.05 * s.iterations)
    steps = [Step(label=label, what=what.get(config, f"timing, {timing}, {config}=1"),
                  seconds=per) for label, config in labels]
    steps[0] = Step(label=steps[0].label, what=steps[0].what + ", writes the shared weights",
                    seconds=per)
    return steps


def _notes(s: FusionOptions, placement: Placement) -> list[str]:
    from mxprof.mx.models import ModelSpec
    inputs = "; ".join(i.short() for i in ModelSpec.from_dict(s.spec).input_specs) \
        if s.spec else ",".join(map(str, s.shape))
    return [f"{s.processes} processes per configuration, interleaved; warm-up {s.warmup} calls; "
            f"inputs {inputs} at batch {s.shape[0]}, path {s.path}", *binding_notes(placement)]


def run(plan: FusionPlan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[FusionResult], None] | None = None,
        executor: Executor | None = None) -> FusionResult:
    """Run the plan's workers through `executor` (default: one after another here) and return
    the FusionResult: a partial one (`complete` false) when an unfused, fused or trace worker
    failed. Interrupted, `on_partial(partial result)` is called before KeyboardInterrupt goes
    on."""
    from mxprof.cpu.load import LoadMonitor
    from mxprof.jobs.fusion.assemble import _protocol

    executor = executor or LocalExecutor()
    s = plan.settings
    monitor = LoadMonitor.start()
    done = Done()
    with temp_dir("fusion") as tmp:
        cells = [worker_spec(s, Path(tmp), label, config) for label, config in plan.labels]
        results = executor.run(cells, on_event, labels=[label for label, _ in plan.labels])
        try:
            report = assemble(s, _collect(s, plan.labels, results, done))
        except WorkerError as exc:
            report = partial_report(s, done, f"stopped: {exc}", _protocol(s))
        except KeyboardInterrupt:
            if on_partial is not None:
                partial = partial_report(s, done, "interrupted", _protocol(s))
                partial["environment"]["threads_why"] = plan.placement.threads_why
                on_partial(FusionResult.from_dict(jsonio.strict(partial)))
            raise
    machine = monitor.stop(f"mxprof fusion {s.model}") if monitor else None
    report = finish(report, machine)
    report["environment"]["threads_why"] = plan.placement.threads_why
    return FusionResult.from_dict(report)


def _collect(s: FusionOptions, labels: list[tuple[str, str]],
             results: Iterator[tuple[int, WorkerResult]], done: Done):
    """The workers' results as mxprof.jobs.fusion.assemble._Runs, in plan order, kept in
    `done` as they come (for a partial report); raises WorkerError for a failure that leaves
    nothing to compare (see the module docstring), after recording it in `done.failed`."""
    from mxprof.jobs.fusion.assemble import _Runs

    first, failed = done.first, done.failed
    samples: dict[str, list] = done.samples
    samples.update({c: [] for c in ("unfused", "fused", *s.switches)})
    traces: dict[str, list] = {"unfused-trace": [], "fused-trace": []}
    off_patterns: dict[str, dict] = {}
    for i, res in results:
        label, config = labels[i]
        done.current = label
        if config in s.switches:
            if not res.ok:
                failed.append({"label": label, "error": res.error or "wrote no result"})
                continue
            off_patterns.setdefault(config, fusion.pattern_counts(
                fusion.fusion_groups(res.data["graph"])))
            samples[config].append(res.data["samples_ns"])
            continue
        data = _data_of(res, label, failed)
        if config in traces:
            traces[config].append(trace_of(res))
            continue
        first.setdefault(config, data)
        samples[config].append(data["samples_ns"])
    runs = _Runs(first["unfused"], first["fused"], failed=failed, off_patterns=off_patterns)
    runs.samples = samples
    runs.unfused_traces, runs.fused_traces = traces["unfused-trace"], traces["fused-trace"]
    return runs


def _data_of(res: WorkerResult, label: str, failed: list[dict]) -> dict:
    """The data of a worker the job cannot go on without; a failure is recorded as a failed
    row (with the worker's last stderr lines) and raised as WorkerError."""
    try:
        data = res.raise_for_status()
        if label == "unfused" and fusion.fusion_groups(data["graph"]):
            raise WorkerError("the unfused graph already holds fused nodes: is a subgraph "
                              "backend forced on by the environment?")
    except WorkerError as exc:
        failed.append({"label": label, "error": str(exc),
                       "detail": getattr(exc, "detail", "") or ""})
        raise
    return data
