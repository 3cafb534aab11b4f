"""One value for where a job's workers run: CPUs, NUMA memory, OpenMP threads and wait policy.

`resolve(cores, membind, ...)` is the one function every command (and the notebook API) calls,
once, before any worker starts: it checks the CPUs and nodes against this machine and this
process's affinity, picks the thread count (`mxprof.cpu.openmp.choose_threads`) and the wait
policy (`mxprof.cpu.openmp.resolve_wait_policy`, which reads the load *now*), and returns a
frozen `Placement` that says what was chosen and why. Every worker spec carries it (as its
`to_dict()`), and every worker binds *itself* with `bind_self(placement)` before it imports
MXNet: affinity and a memory policy set in the parent would also bind the parent's own threads
and whatever else it starts, and a memory policy is per thread (mxprof.cpu.binding).

    placement = resolve("0-3", "0", threads=None, wait_policy="auto")
    placement.cores      -> "0-3"        the CPUs bound (None: not bound, this process's)
    placement.threads    -> 2            OMP_NUM_THREADS (None: the runtime's own choice)
    placement.threads_why, placement.wait_policy, placement.wait_why

Raises ValueError with a message naming the option (`--cores 99: CPU 99 not online ...`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mxprof.cpu.cpulist import format_cpu_list, parse_cpu_list
from mxprof.schema import Record


class Placement(Record, frozen=True, kw_only=True):
    """Where and how wide every worker of one job runs; see the module docstring.

    `cores`/`membind` are CPU-list strings as users type them ("0-17,36-53"), already reduced
    to one CPU per physical core when `physical_only`; None means not bound.
    """

    cores: str | None = None
    membind: str | None = None
    physical_only: bool = False
    threads: int | None = None
    threads_why: str = "runtime default"
    # "active" | "passive"; "auto" only from `resolve(..., decide_wait=False)`: a job that
    # decides it per worker right before each starts (the profile job's runner).
    wait_policy: str = "passive"
    wait_why: str = ""

    @property
    def bound(self) -> bool:
        return self.cores is not None or self.membind is not None

    @property
    def cpu_ids(self) -> tuple[int, ...]:
        """The CPUs the workers may use: the bound ones, else this process's affinity."""
        return tuple(parse_cpu_list(self.cores)) if self.cores else \
            tuple(sorted(os.sched_getaffinity(0)))

    @property
    def oversubscription(self) -> str | None:
        """The one warning of a team larger than its CPUs ('8 OpenMP threads on 2 CPUs:
        threads will share CPUs (...)'), for every command that binds (the jobs' plans,
        `mxprof bind`); None when every thread has a CPU or the count is the runtime's.
        Unbound, the CPUs are this process's affinity now: ask at plan time."""
        cpus = len(self.cpu_ids)
        if self.threads is None or self.threads <= cpus:
            return None
        return (f"{self.threads} OpenMP threads on {cpus} CPU{'s' if cpus > 1 else ''}: "
                "threads will share CPUs (oversubscription slows oneDNN kernels)")

    def describe(self) -> str:
        """One line for a plan or a report header."""
        return (f"cores {self.cores or 'not bound'}, membind {self.membind or 'not bound'}, "
                f"OpenMP threads {self.threads or 'unset'}, {self.threads_why}; wait policy "
                f"{self.wait_policy} ({self.wait_why})")


def _cpus(topology, cores: str | None, physical_only: bool) -> tuple[int, ...] | None:
    from mxprof.cpu.binding import select_cpus
    if cores is None and not physical_only:
        return None
    try:
        cpus = select_cpus(topology, cores, physical_only=physical_only)
    except ValueError as exc:
        raise ValueError(f"--cores {cores}: {exc}") from None
    allowed = sorted(os.sched_getaffinity(0))
    outside = sorted(set(cpus) - set(allowed))
    if outside:
        raise ValueError(f"--cores {cores}: CPUs {format_cpu_list(outside)} are not available "
                         f"to this process (allowed: {format_cpu_list(allowed)})")
    return cpus


def resolve(cores: str | None = None, membind: str | None = None, *,
            physical_only: bool = False, threads: int | str | None = None,
            wait_policy: str = "auto", topology=None, decide_wait: bool = True) -> Placement:
    """The one Placement of a job (module docstring). `threads`: a count, "runtime" or None
    (one per physical core of the CPUs used); `wait_policy`: auto | active | passive, auto
    decided now from the CPUs' last 0.5 s, or kept "auto" when not `decide_wait` (the job
    decides it before each worker, mxprof.jobs.profile.runner.wait_decision).
    Raises ValueError naming the bad option."""
    from mxprof.cpu.binding import select_nodes
    from mxprof.cpu.openmp import choose_threads
    from mxprof.cpu.topology import read_topology

    if cores is not None or membind is not None or physical_only:
        try:
            topology = topology or read_topology()
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the CPU topology to check --cores/--membind: "
                             f"{exc}") from None
    cpus = _cpus(topology, cores, physical_only)
    nodes = None
    if membind is not None:
        try:
            nodes = select_nodes(topology, membind)
        except ValueError as exc:
            raise ValueError(f"--membind {membind}: {exc}") from None
    choice = choose_threads(threads, cpus, topology=topology)
    bound = len(cpus) if cpus else len(os.sched_getaffinity(0))
    policy, why = _wait(wait_policy or "auto", threads=choice.threads or bound, cpus=cpus,
                        decide=decide_wait)
    return Placement(cores=None if cpus is None else format_cpu_list(cpus),
                     membind=None if nodes is None else format_cpu_list(nodes),
                     physical_only=physical_only, threads=choice.threads,
                     threads_why=choice.why, wait_policy=policy, wait_why=why)


def _wait(policy: str, *, threads: int, cpus, decide: bool) -> tuple[str, str]:
    from mxprof.cpu.openmp import WAIT_WINDOW_S, resolve_wait_policy
    if policy == "auto" and not decide:
        return "auto", (f"decided before each worker from the CPU time other processes take "
                        f"on its CPUs over {WAIT_WINDOW_S:g} s")
    return resolve_wait_policy(policy, threads=threads, cpus=cpus)


def node0(topology=None) -> tuple[str, str]:
    """(cores, membind) of the MXNet 1.3 benchmark: the physical cores and memory of the first
    NUMA node (`--reference-protocol`)."""
    from mxprof.cpu.topology import read_topology
    topology = topology or read_topology()
    first = min(topology.nodes)
    return format_cpu_list(topology.cores_of_node(first)), str(first)


def bind_self(placement: Placement | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Bind the calling process (a worker, before it imports MXNet) as `placement` says;
    the achieved binding as a dict (mxprof.cpu.binding.Binding.to_dict), None when not bound.
    A refused memory binding is a warning inside it; BindError when the CPUs are refused."""
    if placement is None:
        return None
    if not isinstance(placement, Placement):
        placement = Placement.from_dict(dict(placement))
    if not placement.bound:
        return None
    from mxprof.cpu.binding import bind
    cpus = placement.cores if placement.cores is not None else sorted(os.sched_getaffinity(0))
    return bind(cpus, placement.membind).to_dict()


__all__ = ["Placement", "bind_self", "node0", "resolve"]
