"""Compare on a Dask cluster: every planned run once per machine class, through an executor.

`compare --cluster ADDRESS --classes a,b` plans its runs as on this machine (the compare job,
through mxprof.jobs.compare.sweep), then runs each on a worker of every class
(mxprof.cluster.DaskExecutor: one benchmark per host). A run's cell is profile's one timing worker (`runner.group_cell`); the executor
returns the worker's result with the host that ran it, and the client appends the record to the
results file as without a cluster.

Keys: a record is keyed by the fingerprint of the host that ran it (`rekey`: its machine, its
environment as a benchmark there sees it, and the machine class), so a results file resumes
(`todo`: a run is done when a record of any host of its class has the key that host would give
it) and files from many hosts merge. Rows carry `machine_class` and are grouped by class
(`class_label`), so the table has one column group per class, as the reference has an Intel and
an AMD table.

OpenMP threads: unless `--threads N` is given, the cell leaves them to the host
(mxprof.cluster.remote: one per physical core of that host's benchmark CPUs), because the
client's topology says nothing about a worker's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mxprof.events import OnEvent
from mxprof.jobs.compare.matrix import PlannedRun, make_record, run_key
from mxprof.jobs.sweeps import (  # noqa: F401 - class_label: what compare's rows import here
    class_label,
    environment_of,
    host_prints,
    machine_of,
)


@dataclasses.dataclass(frozen=True)
class ClassRun:
    """A planned run for one machine class (its key provisional until a host runs it)."""

    run: PlannedRun
    machine_class: str

    @property
    def label(self) -> str:
        return f"{self.run.label} on {self.machine_class}"


def rekey(run: PlannedRun, fingerprint: dict[str, Any], machine_class: str,
          wait_policy: str | None = None) -> PlannedRun:
    """The run as the host with `fingerprint` runs it: its machine and key."""
    machine = machine_of(fingerprint)
    environment = environment_of(fingerprint, machine_class, wait_policy)
    key = run_key(run.spec, run.build, machine, run.instance_cpus, run.process, environment)
    base = run_key(run.spec, run.build, machine, run.instance_cpus, 0, environment)
    return dataclasses.replace(run, key=key, base_key=base, machine=machine)


def todo(planned: Sequence[PlannedRun], executor, done: set[str],
         wait_policy: str | None = None) -> tuple[list[ClassRun], list[PlannedRun]]:
    """(the runs still to do, per class; the finished ones, keyed by the host that ran them)."""
    out: list[ClassRun] = []
    finished: list[PlannedRun] = []
    for cls in executor.classes:
        prints = host_prints(executor, cls)
        for run in planned:
            keyed = [rekey(run, fp, cls, wait_policy) for fp in prints]
            hit = next((k for k in keyed if k.key in done), None)
            if hit is not None:
                finished.append(hit)
            else:
                out.append(ClassRun(keyed[0] if keyed else run, cls))
    return out, finished


def run_cells(items: Sequence[ClassRun], executor, *, timeout: float, workdir: str | Path,
              on_record: Callable[[dict[str, Any]], None], on_event: OnEvent,
              host_threads: bool, wait_policy: str | None = None) -> None:
    """Run every item on its class; each record goes to `on_record` as it comes back.
    `host_threads`: a run without a thread count gets the host's default (module docstring)."""
    from mxprof.cluster.remote import HOST_THREADS_VARIABLE
    from mxprof.jobs.profile.runner import group_cell, group_results
    cells = []
    for n, item in enumerate(items):
        ws = group_cell([item.run.spec], Path(workdir) / item.run.key, timeout=timeout,
                          index=n, python=item.run.build.python)
        if host_threads and item.run.spec.threads is None:
            ws = dataclasses.replace(ws, env={**ws.env, HOST_THREADS_VARIABLE: "1"})
        cells.append(ws)
    for i, result in executor.run(cells, on_event, labels=[it.label for it in items],
                                  classes=[it.machine_class for it in items]):
        item = items[i]
        host = getattr(result, "host", None) or {}
        run = item.run
        if host.get("fingerprint"):
            run = rekey(run, host["fingerprint"], item.machine_class, wait_policy)
        record = make_record(run, group_results([run.spec], result))
        record["machine_class"] = item.machine_class
        record["worker"] = {"address": host.get("address"), "hostname": host.get("hostname"),
                            "hygiene": host.get("hygiene"),
                            "attempts": getattr(result, "attempts", 1)}
        on_record(record)
