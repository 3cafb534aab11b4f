"""`--cluster local`: a Dask cluster on this machine, on 127.0.0.1 only.

One scheduler and one single-threaded worker (under a nanny) per machine class, each with the
resources `host=1,CLASS=1` that `mxprof worker` gives a real host. Nothing listens beyond the
loopback interface: the scheduler, the workers and (when Dask's dashboard is installed) the
dashboard are bound to 127.0.0.1. The workers' Dask profiler is off: with every CPU given to the
benchmark there is nowhere else to pin the worker's own threads (the record says so).

`cpus`: one CPU list per worker (bench/cluster_scaling.py binds each worker to its own core;
`--cluster local --classes a,b` shares the CPUs out with `share_cpus`); default: every
worker's benchmarks use every CPU, as `compare` does without a cluster.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from mxprof.cluster.remote import BENCH_CPUS_VARIABLE

LOOPBACK = "127.0.0.1"
_QUIET = {"distributed.worker.profile.enabled": False}


def dashboard_available() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def share_cpus(workers: int) -> list[str] | None:
    """One CPU list per local worker when there are several (each class's benchmarks on CPUs of
    their own, never two benchmarks on one CPU); None for one worker (every CPU, as without a
    cluster). ValueError when there are more workers than CPUs."""
    import os

    from mxprof.cpu.cpulist import format_cpu_list
    if workers == 1:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if workers > len(cpus):
        raise ValueError(f"{workers} classes need {workers} CPUs, this process may use "
                         f"{len(cpus)}")
    size = len(cpus) // workers
    return [format_cpu_list(cpus[i * size:(i + 1) * size]) for i in range(workers)]


def start_local(classes: Sequence[str] = ("local",), *, cpus: Sequence[str] | None = None,
                workers_per_class: int = 1) -> Any:
    """Start and return a `distributed.SpecCluster` (close it with `.close()`)."""
    import dask.config
    from distributed import Nanny, Scheduler, SpecCluster
    if cpus is not None and len(cpus) != len(classes) * workers_per_class:
        raise ValueError(f"{len(cpus)} CPU lists for {len(classes) * workers_per_class} workers")
    # Every HTTP server (the scheduler's, each worker's) on the loopback too, on a free port.
    http = f"{LOOPBACK}:0"
    scheduler = {"cls": Scheduler, "options": {"host": LOOPBACK, "port": 0,
                                               "dashboard_address": http,
                                               "dashboard": dashboard_available()}}
    workers: dict[str, dict[str, Any]] = {}
    for c in classes:
        for n in range(workers_per_class):
            env = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}
            if cpus is not None:
                env[BENCH_CPUS_VARIABLE] = cpus[len(workers)]
            workers[f"{c}-{n}"] = {"cls": Nanny, "options": {
                "nthreads": 1, "host": LOOPBACK, "resources": {"host": 1, c: 1},
                "env": env, "dashboard_address": http, "silence_logs": 40}}
    with dask.config.set(_QUIET):
        return SpecCluster(workers=workers, scheduler=scheduler, asynchronous=False,
                           silence_logs=40, name="mxprof-local")
