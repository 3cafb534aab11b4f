"""Throughput mode: several bound instances at once, as Intel's launch scripts run inference.

The CPUs of a run are split into N equal, contiguous groups; each instance is an ordinary
worker (`mxprof.jobs.profile.worker`, run by the one worker protocol) pinned to its group with one OpenMP thread per CPU, and all N start
together. The aggregate throughput is the sum of the instances' images/s (what the launchers
report); latency is their mean. Each instance's own binding (the CPUs and memory node it ended
up on, read back by the worker) is kept in the record.

The instances are launched from threads: each thread only waits on its subprocess, so the
parent adds no load while they run. They start within milliseconds of each other; their import
and warm-up times differ a little, so the timed phases overlap almost but not exactly fully;
`overlap_note` says so in the output.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec

from mxprof.cpu.cpulist import format_cpu_list, parse_cpu_list
from mxprof.jobs.profile.spec import RunResult, RunSpec
from mxprof.workers.process import kill_running


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def parse_cpus(text: str | None) -> list[int]:
    """A CPU list ("0-17,36-53") as ids; None means the CPUs this process may use."""
    return available_cpus() if text is None else parse_cpu_list(text)


def format_cpus(cpus: Sequence[int]) -> str:
    """Compact CPU list: [0,1,2,5] -> "0-2,5"."""
    return format_cpu_list(cpus)


def split_cpus(cpus: Sequence[int], instances: int) -> list[str]:
    """N contiguous groups of equal size (leftover CPUs stay idle rather than unbalance)."""
    if instances < 1:
        raise ValueError("--instances must be >= 1")
    if instances > len(cpus):
        raise ValueError(f"{instances} instances need at least {instances} CPUs; "
                         f"{len(cpus)} given ({format_cpus(cpus)})")
    size = len(cpus) // instances
    ordered = sorted(cpus)
    return [format_cpus(ordered[i * size:(i + 1) * size]) for i in range(instances)]


def instance_specs(spec: RunSpec, instance_cpus: Sequence[str],
                   threads: int | None = None) -> list[RunSpec]:
    """One spec per instance: its CPUs, and one OpenMP thread per physical core of them unless
    told otherwise (`mxprof.cpu.openmp.choose_threads`, every command's default)."""
    from mxprof.cpu.openmp import choose_threads
    return [msgspec.structs.replace(spec, cpus=cpus, threads=threads or choose_threads(
                None, parse_cpu_list(cpus)).threads)
            for cpus in instance_cpus]


def _run_pinned(spec: RunSpec, workdir: Path, **kw) -> RunResult:
    """Run one worker from a thread pinned to the spec's CPUs.

    Affinity is per thread on Linux and a child inherits its creating thread's: the worker
    starts on its CPUs even before it binds itself (and even where mxprof.cpu.binding is missing).
    """
    from mxprof.jobs.profile.runner import run_one
    if spec.cpus:
        os.sched_setaffinity(0, parse_cpu_list(spec.cpus))
    return run_one(spec, workdir, **kw)


def run_bound(specs: Sequence[RunSpec], workdir: Path, *, timeout: float,
              python: str | None = None) -> list[RunResult]:
    """Start one worker per spec at once, each from a thread pinned to its CPUs; results in
    spec order, failures included."""
    dirs = [workdir / f"instance{i}" for i in range(len(specs))]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = [pool.submit(_run_pinned, s, d, timeout=timeout, index=i, python=python)
                   for i, (s, d) in enumerate(zip(specs, dirs))]
        try:
            return [f.result() for f in futures]
        except BaseException:
            # Interrupted: the threads only wait, so end their workers (each leads its own
            # process group) and let the threads collect them before re-raising.
            kill_running()
            raise


def run_instances(spec: RunSpec, instance_cpus: Sequence[str], workdir: Path, *,
                  timeout: float, python: str | None = None) -> list[RunResult]:
    """One bound worker per CPU group, all at once (throughput mode)."""
    return run_bound(instance_specs(spec, instance_cpus, spec.threads), workdir,
                     timeout=timeout, python=python)


def instance_binding(result: RunResult) -> dict | None:
    """Where an instance ran: the worker's binding record, else the affinity it read back."""
    env = result.environment or {}
    return env.get("binding") or env.get("affinity")


def overlap_note(instances: int) -> str:
    return (f"{instances} instances started together; each timed latency then throughput for "
            "the same min-time, so their throughput phases overlap up to import/warm-up skew")
