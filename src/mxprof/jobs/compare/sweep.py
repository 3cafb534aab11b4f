"""Compare over sweep axes and machine classes: several compare plans, one executor, one table.

The contract (mxprof.jobs.contract): `SweepOptions` -> `plan` -> `run` -> CompareResult, as
`compare --threads LIST`, `--instances LIST` and `--cluster ADDRESS` call it.

`--threads 1,2,4` and `--instances 1,2` are sweep axes like `--batch-size`: `plan_sweep` makes
one ComparePlan (mxprof.jobs.compare.job) per point of threads x instances, each checked as a
single compare is; `run_sweep` runs them in order through the same executor and returns one
CompareResult over every point's records, whose notes name the fastest configuration per model
and machine (mxprof.jobs.compare.best).

With a cluster executor (mxprof.cluster.DaskExecutor: it has `classes`), every run goes to each
machine class instead (mxprof.jobs.compare.cluster): keyed there by the host that ran it, and
without the client's thread count unless `--threads N` was given (each host chooses its own).
Throughput instances are started together by one process, which one cell cannot express: they
are refused with a cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from mxprof.errors import UsageError
from mxprof.events import Note, OnEvent, ignore
from mxprof.files import temp_dir
from mxprof.jobs.compare import job
from mxprof.jobs.compare.records import CompareResult
from mxprof.jobs.sweeps import cluster_notes, executor_of, require_cluster


class SweepOptions(msgspec.Struct, frozen=True, kw_only=True):
    """A sweep: the compare Options every point shares, its axes (`threads`, `instances`:
    None when not swept) and where it runs (`cluster`: a Dask scheduler address or "local",
    None for this machine; `classes`: the machine classes to run on, () for every one)."""

    compare: job.Options
    threads: tuple[int, ...] | None = None
    instances: tuple[int, ...] | None = None
    cluster: str | None = None
    classes: tuple[str, ...] = ()


@dataclasses.dataclass
class SweepPlan:
    """One ComparePlan per point, in order; `steps`/`notes` as a plan's (for --dry-run), and
    the cluster it runs on (None: this machine)."""

    points: list[job.ComparePlan]
    cluster: str | None = None
    classes: tuple[str, ...] = ()

    @property
    def placement(self):
        """The first point's Placement (its wait policy is what every point announces)."""
        return self.points[0].placement

    @property
    def log(self):
        """The results file of the first point (with --results, every point's)."""
        return self.points[0].log

    @property
    def steps(self):
        return [s for p in self.points for s in p.steps]

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(n for p in self.points for n in p.notes))

    @property
    def estimate_s(self) -> float:
        return sum(p.estimate_s for p in self.points)

    @property
    def planned(self) -> list:
        return [r for p in self.points for r in p.planned]

    @property
    def todo(self) -> list:
        return [r for p in self.points for r in p.todo]


def points(options: job.Options, threads: Sequence | None = None,
           instances: Sequence[int] | None = None) -> list[job.Options]:
    """The Options of every point of threads x instances (one point without axes)."""
    return [msgspec.structs.replace(options, threads=t, instances=n,
                                    threads_swept=bool(threads))
            for t in (threads or [options.threads]) for n in (instances or [options.instances])]


def plan_sweep(options: Sequence[job.Options], *, cluster: bool = False,
               on_note: Callable[[str], None] = lambda text: None) -> SweepPlan:
    """Every point planned and checked before anything runs; UsageError for bad input."""
    if cluster and any(o.instances > 1 for o in options):
        raise UsageError("--instances with --cluster is not supported: bound instances start "
                         "together in one process; run the instances sweep on one machine")
    if cluster and any(o.python or o.build for o in options):
        raise UsageError("--python/--build with --cluster is not supported: each host runs "
                         "the MXNet installed beside its mxprof")
    return SweepPlan([job.plan(o, on_note=on_note) for o in options])


def plan(options: SweepOptions, *,
         on_note: Callable[[str], None] = lambda text: None) -> SweepPlan:
    """The sweep on the job contract: every point of the axes planned and checked (see
    `plan_sweep`); UsageError for bad input (the `cluster` extra missing, too)."""
    require_cluster("compare", options.cluster)
    swept = plan_sweep(points(options.compare, options.threads, options.instances),
                       cluster=bool(options.cluster), on_note=on_note)
    swept.cluster, swept.classes = options.cluster, options.classes
    return swept


def run(plan: SweepPlan, on_event: OnEvent = ignore, *, on_partial=None) -> CompareResult:
    """Every point of `plan`, on this machine or on each machine class of its cluster (a
    DaskExecutor opened here and closed at the end); one table. `on_partial` is accepted for
    the contract: every finished run is in the results file already."""
    with executor_of(plan.cluster, plan.classes) as executor:
        return run_sweep(plan, on_event, executor=executor)


def run_sweep(plan: SweepPlan, on_event: OnEvent = ignore, *, executor=None) -> CompareResult:
    """Run every point (on each machine class with a cluster executor) and return one table."""
    if executor is not None and hasattr(executor, "classes"):
        return _on_cluster(plan, on_event, executor)
    keys: set[str] = set()
    notes: list[str] = []
    for point in plan.points:
        job.run(point, on_event, executor=executor)
        keys |= {r.key for r in point.planned}
        notes += job._run_notes(point)
    return _result([p.log for p in plan.points], keys, list(dict.fromkeys(notes)))


def _result(logs, keys: set[str], notes: list[str]) -> CompareResult:
    """The table of `keys` from the points' results logs (without --results each point has
    its own file; with it they share one, and the last line per run wins)."""
    from mxprof.jobs.compare.rows import build_report
    seen = {id(log): log for log in logs}
    records = [r for log in seen.values() for r in log.records if r["key"] in keys]
    return CompareResult.from_dict(build_report(records, notes))


def _host_threads(run, asked) -> object:
    """A run as a cluster runs it: without the client's thread count unless one was asked."""
    if isinstance(asked, int):
        return run
    spec = msgspec.structs.replace(run.spec, threads=None, threads_why=None)
    return dataclasses.replace(run, spec=spec)


def _on_cluster(plan: SweepPlan, on_event: OnEvent, executor) -> CompareResult:
    from mxprof.jobs.compare import cluster
    log = plan.points[0].log
    todo, finished = [], []
    for point in plan.points:
        runs = [_host_threads(r, point.options.threads) for r in point.planned]
        done = set() if point.options.fresh else log.done
        t, f = cluster.todo(runs, executor, done, point.options.wait_policy)
        todo += t
        finished += f
    keys = {r.key for r in finished}
    notes = [f"results file: {log.path}", *cluster_notes(executor, finished)]
    for line in notes[1:]:
        on_event(Note(text=line))

    def keep(record) -> None:
        keys.add(record["key"])
        log.append(record)

    first = plan.points[0].options
    with temp_dir("compare") as tmp:
        cluster.run_cells(todo, executor, timeout=first.timeout,
                          workdir=Path(first.workdir or tmp), on_record=keep, on_event=on_event,
                          host_threads=first.threads != "runtime",
                          wait_policy=first.wait_policy)
    threads = ("OpenMP threads: one per physical core of each host's benchmark CPUs, chosen on "
               "the host (mxprof default)") if not isinstance(first.threads, int) else \
        f"OpenMP threads: {first.threads} (--threads)"
    return _result([log], keys, [*notes, threads])
