"""What runs inside a Dask worker: this host's facts, and one cell through the worker protocol.

The client (mxprof.cluster.executor) sends each cell as a `WorkerSpec` whose environment holds
only what the job set on purpose (`portable`: the variables that differ from the client's own
environment, and those it removed); `run_cell` rebuilds the rest here, on the host that runs it:

- the environment: this worker's own, minus the variables Dask's nanny sets for its workers
  (`distributed.nanny.pre-spawn-environ`: OMP_NUM_THREADS=1, MKL_NUM_THREADS=1,
  OPENBLAS_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_), so the benchmark subprocess gets its own
  OpenMP and BLAS variables and never Dask's; then the cell's variables; PYTHONPATH finds the
  mxprof installed here;
- the CPUs: the benchmark runs on this host's benchmark CPUs (`mxprof worker --cores`, carried
  as MXPROF_BENCHMARK_CPUS; else every CPU the worker may use). The subprocess is started from
  a thread pinned to them (affinity is per thread on Linux and inherited by a child), and the
  worker binds itself further where its spec says so (mxprof.cpu.binding, on this topology);
- the OpenMP threads when the cell leaves them to the host (MXPROF_HOST_THREADS=1 in its
  environment): one per physical core of those CPUs, the mxprof default
  (mxprof.cpu.openmp.choose_threads), chosen from this host's topology;
- a scratch folder on this host for the spec and result files.

`describe()` is what the client reads at connect time: versions, class, CPUs, and the host's
environment fingerprint as a benchmark subprocess sees it (`python -m mxprof.cluster.hostinfo`
run under the same environment and CPUs as a cell).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mxprof.files import make_temp_dir
from mxprof.workers.protocol import WorkerSpec, run_worker

BENCH_CPUS_VARIABLE = "MXPROF_BENCHMARK_CPUS"  # set by `mxprof worker --cores` (a CPU list)
HYGIENE_VARIABLE = "MXPROF_WORKER_HYGIENE"  # what `mxprof worker` did to keep off those CPUs
HOST_THREADS_VARIABLE = "MXPROF_HOST_THREADS"  # in a cell: choose OpenMP threads on the host
CELL_TOPIC = "mxprof-cell"  # Dask event topic: a cell started on a host
# What Dask's nanny sets in every worker (distributed.yaml, nanny.pre-spawn-environ), should
# its configuration not say.
DASK_SET = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS")
RESERVED_RESOURCES = ("host",)


class VersionMismatch(RuntimeError):
    """A worker runs another mxprof or MXNet than the client: its cells are refused."""


def versions() -> dict[str, str | None]:
    """This process's mxprof version and the MXNet installed beside it (no MXNet import)."""
    from importlib import metadata

    from mxprof._version import __version__
    try:
        mxnet = metadata.version("mxnet")
    except metadata.PackageNotFoundError:
        mxnet = None
    return {"mxprof": __version__, "mxnet": mxnet}


def describe_versions(v: Mapping[str, Any]) -> str:
    return f"mxprof {v.get('mxprof')} with MXNet {v.get('mxnet') or 'not installed'}"


def dask_variables() -> set[str]:
    """The variables Dask's nanny put into this worker's environment."""
    try:
        import dask.config
        configured = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
    except ImportError:
        configured = {}
    return {*DASK_SET, *configured}


def benchmark_cpus() -> list[int]:
    """The CPUs cells run on: `mxprof worker --cores`, else this worker's affinity."""
    from mxprof.cpu.cpulist import parse_cpu_list
    text = os.environ.get(BENCH_CPUS_VARIABLE)
    return parse_cpu_list(text) if text else sorted(os.sched_getaffinity(0))


def hygiene() -> dict[str, Any]:
    """How the Dask worker's own threads keep off the benchmark: pinned elsewhere, or its
    profiler (a 10 ms sampling thread) turned off; recorded with every cell."""
    from mxprof.cpu.cpulist import format_cpu_list
    try:
        import dask.config
        profiler = bool(dask.config.get("distributed.worker.profile.enabled", True))
    except ImportError:
        profiler = False
    own = sorted(os.sched_getaffinity(0))
    bench = benchmark_cpus()
    shared = bool(set(own) & set(bench))
    if not shared:
        how = "Dask worker pinned outside the benchmark CPUs"
    elif profiler:
        how = "Dask worker shares the benchmark CPUs, its profiler ON (a 10 ms sampling thread)"
    else:
        how = "Dask worker shares the benchmark CPUs, its profiler off"
    return {"worker_cpus": format_cpu_list(own), "benchmark_cpus": format_cpu_list(bench),
            "profiler": "on" if profiler else "off", "shares_cpus": shared,
            "how": os.environ.get(HYGIENE_VARIABLE) or how}


_current: list[Any] = []  # the Dask worker `describe` was called in (client.run passes it)


def _worker():
    if _current:
        return _current[0]
    try:
        from distributed import get_worker
        return get_worker()
    except (ImportError, ValueError):  # not inside a Dask worker
        return None


def machine_class() -> str | None:
    """This worker's class: its resource other than `host` (`--resources host=1,xeon=1`)."""
    worker = _worker()
    if worker is None:
        return None
    names = [k for k in worker.state.total_resources if k not in RESERVED_RESOURCES]
    return names[0] if len(names) == 1 else ",".join(sorted(names)) or None


def host_env(cell_env: Mapping[str, str], removed: Sequence[str] = ()) -> dict[str, str]:
    """The benchmark subprocess's environment on this host (module docstring)."""
    from mxprof.workers.process import package_parent
    drop = {*dask_variables(), *removed}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(cell_env)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_parent(), os.environ.get("PYTHONPATH")) if p)
    if env.pop(HOST_THREADS_VARIABLE, None):
        from mxprof.cpu.openmp import choose_threads
        from mxprof.workers.process import openmp_runtime_for, thread_env
        threads = choose_threads(None, benchmark_cpus()).threads
        # The cell's wait-policy variables (resolved by the client) stay as they are.
        for k, v in thread_env(threads, openmp_runtime_for(None, env), "auto").items():
            env.setdefault(k, v)
    return env


@contextlib.contextmanager
def pinned(cpus: Sequence[int]) -> Iterator[None]:
    """This thread on `cpus` for the duration (a child started here inherits them)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


_described: dict[str, Any] = {}


def describe(dask_worker: Any = None) -> dict[str, Any]:
    """This worker at connect time: versions, class, host name, CPUs, hygiene, and the
    fingerprint a benchmark subprocess here would record (cached per worker process).
    `dask_worker`: passed by `Client.run`, whose functions run outside a task."""
    if dask_worker is not None and not _current:
        _current.append(dask_worker)
    if not _described:
        worker = _worker()
        _described.update(versions=versions(), machine_class=machine_class(),
                          hostname=socket.gethostname(), hygiene=hygiene(),
                          address=worker.address if worker else None,
                          fingerprint=_fingerprint())
    return dict(_described)


def _fingerprint() -> dict[str, Any] | None:
    import subprocess
    import sys
    with pinned(benchmark_cpus()):
        proc = subprocess.run([sys.executable, "-m", "mxprof.cluster.hostinfo"],
                              env=host_env({}), capture_output=True, text=True, timeout=120)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


_sweeps: dict[int, str] = {}  # task thread -> the sweep whose cell it runs
_stopped: set[str] = set()  # sweeps whose client was interrupted


def run_cell(cell: WorkerSpec, removed: Sequence[str], client_versions: Mapping[str, Any],
             index: int, label: str, sweep: str = "") -> dict[str, Any]:
    """Run one cell here (module docstring); returns the WorkerResult's parts and this host.

    Raises VersionMismatch when this worker's versions are not the client's."""
    import threading
    mine = versions()
    if dict(client_versions) != mine:
        raise VersionMismatch(f"worker {socket.gethostname()} runs {describe_versions(mine)}, "
                              f"the client {describe_versions(client_versions)}")
    host = describe()
    _sweeps[threading.get_ident()] = sweep
    _announce(index, label, host)
    workdir = make_temp_dir("cell")
    try:
        local = dataclasses.replace(cell, workdir=workdir,
                                    env=host_env(cell.env, removed))
        if sweep and sweep in _stopped:
            raise RuntimeError("its client stopped the sweep")
        with pinned(benchmark_cpus()):
            result = run_worker(local)
    finally:
        _sweeps.pop(threading.get_ident(), None)
        shutil.rmtree(workdir, ignore_errors=True)
    return {"status": result.status, "outcome": result.outcome, "data": result.data,
            "error": result.error, "host": host}


def _announce(index: int, label: str, host: Mapping[str, Any]) -> None:
    """Tell the client this cell started here (its per-host progress line)."""
    worker = _worker()
    if worker is not None:
        worker.log_event(CELL_TOPIC, {"index": index, "label": label,
                                      **{k: host.get(k) for k in ("address", "hostname",
                                                                  "machine_class")}})


def stop(sweep: str) -> bool:
    """End the benchmark of `sweep` running here (its client was interrupted): Dask cannot
    stop a running task, and a benchmark left running would share the host with the next
    cell. Only when every cell running here is that sweep's (one thread per host: one cell).
    True when something was ended."""
    from mxprof.workers.process import kill_running
    _stopped.add(sweep)
    running = set(_sweeps.values())
    if not running or running != {sweep}:
        return False
    kill_running()
    return True
