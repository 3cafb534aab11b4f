"""The compare job on the one contract (mxprof.jobs.contract): Options -> plan -> run -> CompareResult.

`plan(options)` resolves everything once: the protocol (--quick, --fast/--rigorous), the
placement (mxprof.cpu.placement), the builds (venvs made on first use), the instances' CPUs, the
results file and which runs it already holds; its steps are the runs still to do.
`run(plan, on_event, executor=...)` hands each run to the executor as one cell: a
self-contained WorkerSpec (mxprof.jobs.profile.runner.group_cell) whose RunSpec carries its
binding (CPUs, memory nodes, threads, wait policy), so a cell runs the same on this machine
(LocalExecutor) and on a cluster worker. Every finished run is appended to the results file
at once, so an interrupted sweep resumes where it stopped. Throughput mode (`instances` > 1)
starts a run's bound instances together, which one cell cannot express: those runs are
started here, one run after another, with the same events.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from mxprof.cpu.placement import Placement
from mxprof.errors import UsageError
from mxprof.events import Finished, Note, OnEvent, Started, ignore
from mxprof.files import temp_dir
from mxprof.jobs.binding import notes as binding_notes
from mxprof.jobs.binding import resolve, threads_text
from mxprof.jobs.compare import matrix as compare
from mxprof.jobs.compare import results_log
from mxprof.jobs.compare.records import CompareResult
from mxprof.jobs.contract import Plan, Step
from mxprof.workers.executor import Executor, LocalExecutor


class ModelChoice(msgspec.Struct, frozen=True):
    """One model of the sweep: its checked ModelSpec dict and its --input batch (or None)."""

    spec: dict[str, Any]
    batch: int | None = None


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """What `mxprof compare` takes (defaults: the CLI's). `models` are checked ModelSpecs
    (the command resolves the names, --reference-set, --symbol/--params and --input);
    `batch_sizes` None: 1 and the reference's batch per model (--quick: a small one);
    `python`/`build`: NAME=PATH interpreters and NAME=PIP_SPEC venvs to run under too;
    `min_time`/`processes` None: the preset's (--quick: 0.3 s and 2 processes)."""

    models: tuple[ModelChoice, ...]
    batch_sizes: tuple[int, ...] | None = None
    configs: tuple[str, ...] = ("reference", "mkldnn")
    quick: bool = False
    python: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    no_current: bool = False
    instances: int = 1
    cores: str | None = None
    membind: str | None = None
    threads: int | str | None = None
    wait_policy: str = "auto"
    warmup: int = 5
    iterations: int | None = None
    min_time: float | None = None
    processes: int | None = None
    fast: bool = False
    rigorous: bool = False
    timeout: float = 1800.0
    workdir: str | None = None
    results: str | None = None
    fresh: bool = False
    # One point of a --threads sweep (mxprof.jobs.compare.sweep): its runs' labels name their
    # thread count, so the points' runs do not read alike.
    threads_swept: bool = False


class ComparePlan(Plan, kw_only=True):
    kind: str = "compare"
    options: Options
    placement: Placement
    planned: list[Any]  # mxprof.jobs.compare.matrix.PlannedRun, every run of the sweep
    todo: list[Any]  # the runs the results file does not hold yet
    log: Any  # mxprof.jobs.compare.results_log.ResultsLog
    instance_cpus: list[str] = msgspec.field(default_factory=list)
    builds: list[Any] = msgspec.field(default_factory=list)  # mxprof.host.builds.Build
    result_notes: list[str] = msgspec.field(default_factory=list)


def resolve_builds(o: Options, log: Callable[[str], None]) -> list:
    """The interpreters to run under (this one unless `no_current`), probed; UsageError."""
    from mxprof.host import builds
    out = [] if o.no_current else [builds.current_build()]
    try:
        out += [builds.parse_python(t) for t in o.python]
        specs = [builds.parse_build(t) for t in o.build]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        out += [builds.ensure_venv(name, spec, log=log) for name, spec in specs]
        out = [builds.probe(b) for b in out]
    except builds.BuildError as exc:
        raise UsageError(str(exc)) from None
    names = [b.name for b in out]
    if not out:
        raise UsageError("--no-current leaves nothing to run: add --python or --build")
    if len(set(names)) != len(names):
        raise UsageError(f"build names must differ: {', '.join(names)}")
    return out


def _instance_cpus(o: Options) -> list[str]:
    from mxprof.jobs.compare.instances import parse_cpus, split_cpus
    if o.instances == 1:
        return []
    try:
        return split_cpus(parse_cpus(o.cores), o.instances)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def open_results(path) -> results_log.ResultsLog:
    try:
        return results_log.ResultsLog(path)
    except (results_log.ResultsFileError, OSError) as exc:
        raise UsageError(f"cannot use --results {path}: {exc}") from None


def _protocol(o: Options):
    from mxprof.jobs.profile.spec import Protocol
    from mxprof.workers import schedule
    # --quick, a first look: a short minimum time and two processes (the third cost 5 minutes
    # of the reference set on this 2-core VM) unless the user said otherwise.
    processes = o.processes
    if o.quick and processes is None and not o.rigorous:
        processes = compare.QUICK_PROCESSES
    min_time = o.min_time if o.min_time is not None else (
        compare.QUICK_MIN_TIME if o.quick else 1.0)
    try:
        preset = schedule.choose(processes, fast=o.fast, rigorous=o.rigorous)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Protocol.for_processes(preset.processes, warmup=o.warmup, iterations=o.iterations,
                    min_time=min_time * preset.min_time_factor,
                    **({"min_iterations": 3} if o.quick else {})), preset.processes


def _check(o: Options) -> None:
    if not o.models:
        raise UsageError("give at least one MODEL, --symbol FILE, or --reference-set")
    for name in ("instances", "iterations"):
        value = getattr(o, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")
    bad = [c for c in o.configs if c not in compare.CONFIGS]
    if bad:
        raise UsageError(f"unknown configuration {bad[0]!r}; choose from "
                         f"{', '.join(compare.CONFIGS)}")


def _planned(o: Options, builds, instance_cpus, placement: Placement) -> list:
    """Every run: models x batches x processes x builds x configurations, model-major."""
    from mxprof.host.environment import host_fingerprint
    from mxprof.mx.models import ModelSpec
    host = host_fingerprint().to_dict()
    protocol, processes = _protocol(o)
    # Instances get one thread per physical core of their own CPUs (jobs.compare.instances).
    threads = (o.threads if isinstance(o.threads, int) else None) if instance_cpus \
        else placement.threads
    # The policy asked for, not the one "auto" picks under today's load, keys the results:
    # an auto run is reused whatever the load was; the table says which policy ran.
    environment = results_log.reuse_fingerprint(host)
    if o.wait_policy != "auto":
        environment = {**environment, "wait_policy": o.wait_policy}
    configs = [c for c in compare.CONFIGS if c in o.configs]
    planned = []
    for choice in o.models:
        model = ModelSpec.from_dict(choice.spec)
        batches = (list(o.batch_sizes) if o.batch_sizes else [1, choice.batch] if choice.batch
                   else compare.quick_batches(model.name) if o.quick else None)
        planned += compare.plan([model], builds, machine=compare.machine_of(host),
                                configs=configs, batch_sizes=batches, protocol=protocol,
                                threads=threads, cpus=None if instance_cpus else o.cores,
                                membind=o.membind, instance_cpus=instance_cpus,
                                processes=processes, environment=environment,
                                wait_policy=placement.wait_policy)
    if o.threads_swept:
        planned = [dataclasses.replace(r, show_threads=True) for r in planned]
    return planned


def plan(options: Options, *, on_note: Callable[[str], None] = lambda text: None) -> ComparePlan:
    """Check and resolve `options` once (see the module docstring); UsageError for bad input.
    `on_note`: lines worth showing while planning (a venv being built, a results file's
    damaged lines)."""
    _check(options)
    placement = resolve(options.cores, options.membind, options.threads, options.wait_policy)
    instance_cpus = _instance_cpus(options)
    log = open_results(options.results) if options.results else None
    builds = resolve_builds(options, on_note)
    planned = _planned(options, builds, instance_cpus, placement)
    # Opening reads an existing file and creates nothing, so a dry run can look too.
    log = log or open_results(results_log.default_results_path(
        results_log.sweep_key(planned)))
    for warning in log.warnings:
        on_note(f"warning: {warning}")
    done = set() if options.fresh else log.done
    todo = [p for p in planned if p.key not in done]
    per = 8 + (0.1 * options.iterations if options.iterations
               else 2 * _protocol(options)[0].min_time)
    steps = [Step(label=p.label, what=f"{p.spec.config}, batch {p.spec.batch_size}, cores "
                  f"{', '.join(p.instance_cpus) or p.spec.cpus or 'not bound'}", seconds=per)
             for p in todo]
    return ComparePlan(options=options, placement=placement, planned=planned, todo=todo, log=log,
                       instance_cpus=instance_cpus, builds=builds, steps=steps,
                       notes=[f"{len(planned) - len(todo)} of {len(planned)} runs already in "
                              f"{log.path}", *binding_notes(placement)])


def _run_notes(p: ComparePlan) -> list[str]:
    """The result's notes: the results file, what was reused from it, instances, builds."""
    from mxprof.jobs.compare.instances import overlap_note
    latest = {r["key"]: r for r in results_log.latest_by_key(p.log.records)}
    todo_keys = {t.key for t in p.todo}
    reused = results_log.reuse_notes(p.log.path, [latest[r.key] for r in p.planned
                                                  if r.key not in todo_keys],
                                     {r.key: r.label for r in p.planned})
    notes = [f"results file: {p.log.path}", *reused]
    if p.instance_cpus:
        notes.append(overlap_note(len(p.instance_cpus)) + "; instance CPUs "
                     + " | ".join(p.instance_cpus))
    notes += [f"build {b.name} (MXNet {b.mxnet}) has no MKL-DNN: w/o column only"
              for b in p.builds if b.mkldnn is False]
    if p.instance_cpus and not isinstance(p.options.threads, int):
        notes.append("OpenMP threads: one per physical core of each instance's CPUs "
                     "(mxprof default)")
    else:
        notes.append(f"OpenMP threads: {threads_text(p.placement)}")
    return notes


def result_of(p: ComparePlan, notes: list[str]) -> CompareResult:
    """The CompareResult of the plan's runs as the results file holds them now."""
    from mxprof.jobs.compare.rows import build_report
    keys = {r.key for r in p.planned}
    return CompareResult.from_dict(build_report([r for r in p.log.records if r["key"] in keys],
                                                notes))


def run(plan: ComparePlan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[CompareResult], None] | None = None,
        executor: Executor | None = None) -> CompareResult:
    """Run the runs the results file lacks (see the module docstring) and return the table of
    every planned run. On KeyboardInterrupt the table of the runs finished so far goes to
    `on_partial`, then the interrupt propagates."""
    notes = _run_notes(plan)
    for line in notes[1:]:
        if line.startswith("reused"):
            on_event(Note(text=line))
    if plan.todo and not plan.options.no_current:
        from mxprof.host.environment import onednn_version
        # Cached per libmxnet; the workers read the cache, so every row names its oneDNN.
        onednn_version(probe=True)
    try:
        with temp_dir("compare") as tmp:
            workdir = Path(plan.options.workdir or tmp)
            if plan.instance_cpus:
                _run_instances(plan, workdir, on_event)
            else:
                _run_cells(plan, workdir, on_event, executor or LocalExecutor())
    except KeyboardInterrupt:
        on_event(Note(text="interrupted: the running worker was stopped, not recorded",
                      level="warning"))
        if on_partial is not None:
            on_partial(result_of(plan, notes))
        raise
    return result_of(plan, notes)


def cells_of(plan: ComparePlan, workdir: Path) -> list:
    """One self-contained WorkerSpec per run still to do (its RunSpec carries its binding)."""
    from mxprof.jobs.profile.runner import group_cell
    return [group_cell([r.spec], workdir / r.key, timeout=plan.options.timeout,
                       python=r.build.python) for r in plan.todo]


def _run_cells(plan: ComparePlan, workdir: Path, on_event: OnEvent, executor: Executor) -> None:
    from mxprof.cpu.load import LoadMonitor
    from mxprof.jobs.profile.runner import group_results
    labels = [r.label for r in plan.todo]
    # The one busy-machine rule (mxprof.cpu.load): each line records the load around its run.
    monitor = LoadMonitor.start()
    for i, res in executor.run(cells_of(plan, workdir), on_event, labels=labels):
        run = plan.todo[i]
        plan.log.append(compare.make_record(run, group_results([run.spec], res),
                                            _load_of(monitor, run.label)))
        monitor = LoadMonitor.start()


def _load_of(monitor, label: str) -> dict | None:
    machine = monitor.stop(label) if monitor else None
    return machine.to_dict() if machine else None


def _run_instances(plan: ComparePlan, workdir: Path, on_event: OnEvent) -> None:
    """Throughput mode: each run's instances start together, bound to their CPU groups."""
    from mxprof.cpu.load import LoadMonitor
    from mxprof.jobs.compare.instances import run_instances
    total = len(plan.todo)
    for i, run in enumerate(plan.todo, 1):
        on_event(Started(label=run.label, index=i, total=total))
        began = time.monotonic()
        rundir = workdir / run.key
        rundir.mkdir(parents=True, exist_ok=True)
        monitor = LoadMonitor.start()
        results = run_instances(run.spec, run.instance_cpus, rundir,
                                timeout=plan.options.timeout, python=run.build.python)
        record = compare.make_record(run, results, _load_of(monitor, run.label))
        plan.log.append(record)
        bad = next((r for r in results if not r.ok), None)
        on_event(Finished(label=run.label, status=record["status"], index=i, total=total,
                          seconds=time.monotonic() - began, error=bad.error if bad else None))
