"""The accuracy job over several models, on this machine or on every class of a Dask cluster.

The contract (mxprof.jobs.contract): `SweepOptions` -> `plan` -> `run` -> AccuracySweep, as
`accuracy` with several models, `--reference-set`, `--results` or `--cluster ADDRESS` calls it.
`plan` plans and checks one accuracy job (mxprof.jobs.accuracy.job) per model before anything
runs (`plan_sweep`); `run` opens the sweep's executor (mxprof.jobs.sweeps.executor_of: the
cluster's, or none for this machine), runs the models through it (`run_sweep`) and returns one
AccuracySweep (mxprof.jobs.accuracy.sweep_records): every model's report, one row per model x
machine (class) x configuration. Progress only as events: a Note naming the results file
first, then each worker's (or on a cluster each cell's) Started/Finished.

- On this machine (no executor, or a LocalExecutor): each model's job runs as it does alone,
  its workers one after another, with its progress counted over the whole sweep.
- On a cluster (mxprof.cluster.DaskExecutor: it has `classes`): each model is one cell per
  machine class, `python -m mxprof.jobs.accuracy.cell` on a Dask worker of that class, which
  runs the model's whole accuracy job on that host (its configurations in their own processes
  there, one after another). The configurations of a model stay together on one host because
  they are compared with each other: they share the reference's saved random weights, the
  inputs, and each one's raw outputs (ImageNet's 50,000 x 1000 scores are 200 MB per
  configuration, no result to send back per cell). The host resolves the binding from its own
  topology (OpenMP threads: one per physical core of its benchmark CPUs unless --threads N).
  --data and --params are paths on the hosts.

Results file: every finished run (one model on one host) is appended at once as a `RunLine`
(mxprof.jobs.sweeps.ResultsLog), keyed by the model's options and the fingerprint of the host
that ran it (on a cluster, with its class), so an interrupted sweep resumes without redoing
finished models and files of several hosts merge.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from mxprof.errors import UsageError
from mxprof.events import Finished, Note, OnEvent, Started, ignore
from mxprof.jobs import sweeps
from mxprof.jobs.accuracy import job
from mxprof.jobs.accuracy.sweep_records import RUN_KIND, AccuracySweep, RunLine
from mxprof.jobs.contract import Step
from mxprof.schema import SCHEMA
from mxprof.workers.executor import renumbered
from mxprof.workers.protocol import WorkerSpec

CELL_MODULE = "mxprof.jobs.accuracy.cell"


class AccuracyLog(sweeps.ResultsLog):
    """The accuracy sweep's results file: one RunLine per model run on one host."""

    kind = RUN_KIND
    line = RunLine
    what = "accuracy"


class SweepOptions(msgspec.Struct, frozen=True, kw_only=True):
    """A sweep: one accuracy Options per model (`models`, in order, each name once), the
    results file (`results`: None for one per sweep under the cache folder), `fresh` (run
    every model again) and where it runs (`cluster`: a Dask scheduler address or "local",
    None for this machine; `classes`: the machine classes to run on, () for every one)."""

    models: tuple[job.Options, ...]
    results: str | None = None
    fresh: bool = False
    cluster: str | None = None
    classes: tuple[str, ...] = ()


@dataclasses.dataclass
class SweepPlan:
    """One AccuracyPlan per model, the results file and what it already holds; `steps` and
    `notes` as a plan's (--dry-run prints one step per model); the cluster it runs on (None:
    this machine)."""

    points: list[job.AccuracyPlan]
    log: AccuracyLog
    keys: list[str]  # each point's key on this machine
    fresh: bool = False
    kind: str = "accuracy-sweep"
    cluster: str | None = None
    classes: tuple[str, ...] = ()

    @property
    def placement(self):
        """The first model's Placement on this machine (the wait policy a local sweep
        announces); None on a cluster, where each host resolves its own binding."""
        return self.points[0].placement if self.cluster is None else None

    @property
    def workers_left(self) -> int:
        """The workers of the models still to run on this machine (the progress total)."""
        return sum(len(self.points[i].steps) for i in self.todo)

    @property
    def todo(self) -> list[int]:
        """The points the results file lacks (on this machine)."""
        done = set() if self.fresh else self.log.done
        return [i for i, k in enumerate(self.keys) if k not in done]

    @property
    def steps(self) -> list[Step]:
        return [_model_step(p) for p in self.points]

    @property
    def notes(self) -> list[str]:
        done = len(self.points) - len(self.todo)
        return [f"{len(self.points)} network(s); {done} already in {self.log.path}",
                *weights_notes(self.points),
                *dict.fromkeys(n for p in self.points for n in p.notes)]

    @property
    def estimate_s(self) -> float:
        return sum(s.seconds for s in self.steps)


def weights_notes(points: list[job.AccuracyPlan]) -> list[str]:
    """Before anything runs: which zoo networks have no pretrained file on this machine (no
    download here), so run on random weights whose top-1 says nothing of the reference's."""
    from mxprof.mx.models import local_pretrained_file, models_dir
    specs = [p.options.spec for p in points]
    zoo = [s for s in specs if s.get("source") in ("gluon", "gluoncv")
           and not s.get("params_path")]
    missing = [s["name"] for s in zoo if local_pretrained_file(s["name"], s["source"]) is None]
    if not missing:
        return []
    return [f"no pretrained file under {models_dir()} for {len(missing)} of {len(specs)} "
            f"network(s) ({', '.join(missing[:6])}{', ...' if len(missing) > 6 else ''}): on "
            "this machine they run on random weights, and their top-1/top-5 are not comparable "
            "to the reference's"]


def _model_step(p: job.AccuracyPlan) -> Step:
    configs = ", ".join(c.name for c in p.configs)
    return Step(label=p.options.spec["name"],
                what=f"{configs}; {len(p.steps)} worker(s); {_inputs_text(p.inputs)}",
                seconds=p.estimate_s)


def _inputs_text(inputs: dict) -> str:
    if inputs["kind"] == "dataset":
        return f"{inputs.get('limit') or inputs['records']} images of {inputs['path']}"
    return f"{inputs['count']} random inputs"


def run_key(options: job.Options, environment: dict[str, Any]) -> str:
    """Same key = same run: the model's options (the timeout aside) on a host whose
    fingerprint (mxprof.jobs.sweeps.reuse_fingerprint, with its class on a cluster) is the
    same."""
    what = {"options": {k: v for k, v in msgspec.to_builtins(options).items()
                        if k != "timeout"}, "environment": environment}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()
                          ).hexdigest()[:20]


def sweep_key(options: Sequence[job.Options]) -> str:
    """What the user asked for, not the environment (an upgrade lands in the same file)."""
    what = sorted(json.dumps(msgspec.to_builtins(o), sort_keys=True) for o in options)
    return hashlib.sha256("\n".join(what).encode()).hexdigest()[:16]


def default_results_path(key: str) -> Path:
    """Under the user's cache folder (mxprof.cache), never the current directory."""
    from mxprof.cache import cache_root
    return cache_root() / "accuracy" / f"{key}.jsonl"


def open_results(path) -> AccuracyLog:
    try:
        return AccuracyLog(path)
    except (sweeps.ResultsFileError, OSError) as exc:
        raise UsageError(f"cannot use --results {path}: {exc}") from None


def plan_sweep(options: Sequence[job.Options], *, results: str | None = None,
               fresh: bool = False) -> SweepPlan:
    """Every model planned and checked before anything runs; UsageError for bad input."""
    if not options:
        raise UsageError("give at least one MODEL, --symbol FILE, or --reference-set")
    names = [o.spec["name"] for o in options]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"model(s) given twice: {', '.join(twice)}")
    from mxprof.host.environment import host_fingerprint
    points = [job.plan(o) for o in options]
    environment = sweeps.reuse_fingerprint(host_fingerprint().to_dict())
    log = open_results(results or default_results_path(sweep_key(options)))
    return SweepPlan(points=points, log=log, keys=[run_key(o, environment) for o in options],
                     fresh=fresh)


def plan(options: SweepOptions) -> SweepPlan:
    """The sweep on the job contract: every model planned and checked (`plan_sweep`), and
    where it runs; UsageError for bad input (the `cluster` extra missing, too). Contacts no
    cluster: a dry run of a `--cluster` sweep needs none."""
    sweeps.require_cluster("accuracy", options.cluster)
    swept = plan_sweep(options.models, results=options.results, fresh=options.fresh)
    swept.cluster, swept.classes = options.cluster, options.classes
    return swept


def run(plan: SweepPlan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[AccuracySweep], None] | None = None) -> AccuracySweep:
    """Every model of `plan` the results file lacks, on this machine or on each machine class
    of its cluster (a DaskExecutor opened here and closed at the end: ClusterError, exit 2,
    before any cell when it cannot run the sweep); the AccuracySweep of every planned model.
    Interrupted, `on_partial` gets the models finished so far (see `run_sweep`)."""
    on_event(Note(text=f"results file: {plan.log.path}"))
    with sweeps.executor_of(plan.cluster, plan.classes) as executor:
        return run_sweep(plan, on_event, executor=executor, on_partial=on_partial)


def run_sweep(plan: SweepPlan, on_event: OnEvent = ignore, *, executor=None,
              on_partial: Callable[[AccuracySweep], None] | None = None) -> AccuracySweep:
    """Run the models the results file lacks (on each machine class with a cluster executor)
    and return the sweep of every planned model. Interrupted, `on_partial` gets the sweep of
    the models finished so far (the results file keeps them too), then the interrupt goes on."""
    if executor is not None and hasattr(executor, "classes"):
        return _on_cluster(plan, on_event, executor, on_partial)
    from mxprof.host.environment import host_fingerprint
    machine = sweeps.machine_of(host_fingerprint().to_dict())
    todo = plan.todo
    notes = [f"results file: {plan.log.path}"]
    if len(todo) < len(plan.points):
        notes.append(f"reused {len(plan.points) - len(todo)} model run(s) from the results "
                     "file (same options and host fingerprint; --fresh runs them again)")
        on_event(Note(text=notes[-1]))
    total = sum(len(plan.points[i].steps) for i in todo)
    offset = 0
    try:
        for i in todo:
            point = plan.points[i]
            report = job.run(point, _named(renumbered(on_event, offset, total),
                                           point.options.spec["name"]))
            offset += len(point.steps)
            plan.log.append(_record(plan.keys[i], point.options, machine, report))
    except KeyboardInterrupt:
        if on_partial is not None:
            on_partial(result_of(plan.log, set(plan.keys), notes))
        raise
    return result_of(plan.log, set(plan.keys), notes)


def _named(on_event: OnEvent, model: str) -> OnEvent:
    """`on_event` with the model's name before each worker's label ("resnet18_v1 mkldnn")."""
    def relay(event) -> None:
        if isinstance(event, (Started, Finished)):
            event = msgspec.structs.replace(event, label=f"{model} {event.label}")
        on_event(event)
    return relay


def _record(key: str, options: job.Options, machine: dict, report=None, *,
            error: str | None = None, machine_class: str | None = None,
            worker: dict | None = None) -> dict[str, Any]:
    """The results-file line of one model's run on one host (RunLine)."""
    ran = report is not None and all(c.ok for c in report.configs)
    return {"kind": RUN_KIND, "schema": SCHEMA, "key": key, "status": "ok" if ran else "failed",
            "model": options.spec["name"], "machine": machine,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "machine_class": machine_class, "worker": worker,
            "report": report.to_dict() if report is not None else None,
            "error": error if report is None else None}


def result_of(log: AccuracyLog, keys: set[str], notes: list[str]) -> AccuracySweep:
    """The sweep of `keys` as the results file holds them now (the last line per key)."""
    from mxprof.jobs.accuracy.sweep_rows import build_sweep
    return build_sweep([r for r in sweeps.latest_by_key(log.records) if r["key"] in keys],
                       notes)


# --- on a cluster --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _ClassRun:
    point: job.AccuracyPlan
    machine_class: str

    @property
    def label(self) -> str:
        return f"{self.point.options.spec['name']} on {self.machine_class}"


def _todo(plan: SweepPlan, executor) -> tuple[list[_ClassRun], set[str]]:
    """(the runs still to do per class; the keys of the finished ones, keyed by the host that
    ran them: a run is done when a record of any host of its class has its key)."""
    done = set() if plan.fresh else plan.log.done
    todo, finished = [], set()
    for cls in executor.classes:
        prints = sweeps.host_prints(executor, cls)
        for point in plan.points:
            keys = [run_key(point.options, sweeps.environment_of(fp, cls)) for fp in prints]
            hit = next((k for k in keys if k in done), None)
            if hit is not None:
                finished.add(hit)
            else:
                todo.append(_ClassRun(point, cls))
    return todo, finished


def cell_of(item: _ClassRun, workdir: Path, index: int) -> WorkerSpec:
    """One model's whole accuracy job as one cell (the module docstring); the environment is
    the client's, so nothing of it travels (mxprof.cluster.executor.portable) and the host
    runs the job under its own."""
    o = item.point.options
    workers = max(len(item.point.steps), 1)
    return WorkerSpec(module=CELL_MODULE, name=f"accuracy-{index}",
                      spec={"options": msgspec.to_builtins(o)}, workdir=workdir,
                      env=dict(os.environ), timeout=o.timeout * workers + 120, tail_lines=12)


def _on_cluster(plan: SweepPlan, on_event: OnEvent, executor,
                on_partial: Callable[[AccuracySweep], None] | None) -> AccuracySweep:
    from mxprof.files import temp_dir
    todo, keys = _todo(plan, executor)
    notes = [f"results file: {plan.log.path}", *sweeps.cluster_notes(executor, keys)]
    for line in notes[1:]:
        on_event(Note(text=line))
    try:
        with temp_dir("accuracy") as tmp:
            cells = [cell_of(item, Path(tmp), n) for n, item in enumerate(todo)]
            for i, result in executor.run(cells, on_event, labels=[t.label for t in todo],
                                          classes=[t.machine_class for t in todo]):
                key = _keep(plan.log, todo[i], result)
                keys.add(key)
    except KeyboardInterrupt:
        if on_partial is not None:
            on_partial(result_of(plan.log, keys, notes))
        raise
    return result_of(plan.log, keys, notes)


def _keep(log: AccuracyLog, item: _ClassRun, result) -> str:
    """Append the record of one cell's result, keyed by the host that ran it; its key."""
    from mxprof.jobs.accuracy.records import AccuracyReport
    host = getattr(result, "host", None) or {}
    fingerprint = host.get("fingerprint") or {}
    key = run_key(item.point.options, sweeps.environment_of(fingerprint, item.machine_class))
    report = AccuracyReport.from_dict(result.data) if result.ok else None
    error = None if result.ok else (f"{result.error}\n{result.detail}" if result.detail
                                    else str(result.error))
    log.append(_record(key, item.point.options, sweeps.machine_of(fingerprint), report,
                       error=error, machine_class=item.machine_class,
                       worker={"address": host.get("address"), "hostname": host.get("hostname"),
                               "hygiene": host.get("hygiene"),
                               "attempts": getattr(result, "attempts", 1)}))
    return key
