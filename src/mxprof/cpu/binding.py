"""Bind this process to CPUs and NUMA memory nodes: `numactl --physcpubind --membind` from Python.

`bind()` pins every thread of the process (sched_setaffinity on each task in /proc/self/task;
new threads inherit the mask of the thread that creates them) and sets an MPOL_BIND memory policy
by raw syscall. A memory policy belongs to one thread: the calling thread and the threads it
creates afterwards get it, threads already running do not. So call `bind()` before importing
MXNet, or use `python -m mxprof bind ... -- CMD`, which binds and then execs.

Containers often refuse set_mempolicy (EPERM) and kernels without NUMA answer ENOSYS: the CPUs
are still bound, a warning says so, and the record says `memory_bound=False`. `memory_bound` is
read back with get_mempolicy, never assumed from the request.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterable
from typing import Any

from mxprof.cpu.cpulist import format_cpu_list, parse_cpu_list
from mxprof.cpu.openmp import OPENMP_VARIABLES, detect_openmp_runtime
from mxprof.cpu.topology import Topology, read_topology
from mxprof.schema import Record

_MPOL_NAMES = {0: "default", 1: "preferred", 2: "bind", 3: "interleave", 4: "local",
               5: "preferred_many", 6: "weighted_interleave"}


class BindError(OSError):
    """The kernel refused to bind the CPUs (errno kept): the request was valid but not allowed."""


class Binding(Record, frozen=True):
    """What `bind()` achieved (not what was asked): `memory_bound` comes from get_mempolicy."""

    cpus: tuple[int, ...]
    membind: tuple[int, ...] | None
    memory_bound: bool
    warnings: tuple[str, ...] = ()
    threads_pinned: int = 1  # tasks of this process whose affinity was set

    # A codec of its own: files write the CPU and node sets in the list notation users type
    # and numactl prints ("0-17,36-53"), which msgspec cannot map onto a tuple of ints.
    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "cpus": format_cpu_list(self.cpus),
                "membind": None if self.membind is None else format_cpu_list(self.membind)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Binding:
        membind = data.get("membind")
        return super().from_dict({
            **data, "cpus": parse_cpu_list(data["cpus"]),
            "membind": None if membind is None else parse_cpu_list(membind)})


def _as_ids(value: str | Iterable[int]) -> tuple[int, ...]:
    if isinstance(value, str):
        return tuple(parse_cpu_list(value))
    return tuple(sorted({int(v) for v in value}))


def select_cpus(topology: Topology, cpus: str | Iterable[int] | None = None, *,
                physical_only: bool = False) -> tuple[int, ...]:
    """The CPUs to bind: `cpus` (default all online), checked against the online set,
    reduced to one thread per physical core with `physical_only`."""
    online = set(topology.online)
    chosen = topology.online if cpus is None else _as_ids(cpus)
    if not chosen:
        raise ValueError("no CPU to bind to: the CPU list is empty")
    missing = [c for c in chosen if c not in online]
    if missing:
        raise ValueError(f"CPU {format_cpu_list(missing)} not online: "
                         f"this machine has CPUs {format_cpu_list(online)}")
    return topology.physical_cpus(chosen) if physical_only else tuple(chosen)


def select_nodes(topology: Topology, nodes: str | Iterable[int]) -> tuple[int, ...]:
    """NUMA nodes for MPOL_BIND, checked against the nodes sysfs lists."""
    chosen = _as_ids(nodes)
    if not chosen:
        raise ValueError("no NUMA node to bind memory to: the node list is empty")
    missing = [n for n in chosen if n not in topology.nodes]
    if missing:
        raise ValueError(f"NUMA node {format_cpu_list(missing)} does not exist: "
                         f"this machine has nodes {format_cpu_list(topology.nodes)}")
    empty = [n for n in chosen if topology.node_memory_kb.get(n, 1) == 0]
    if empty:
        raise ValueError(f"NUMA node {format_cpu_list(empty)} has no memory")
    return chosen


def _core():
    from mxprof._native import core
    return core


def current_affinity() -> tuple[int, ...]:
    """CPUs the calling thread may run on."""
    return tuple(_core().sched_getaffinity(0))


def _mempolicy() -> tuple[str, tuple[int, ...]]:
    core = _core()
    err, mode, nodes = core.get_mempolicy()
    if err:
        return ("unavailable" if err == errno.ENOSYS else f"error {errno.errorcode.get(err, err)}"), ()
    mode &= ~core.MPOL_MODE_FLAGS
    return _MPOL_NAMES.get(mode, str(mode)), tuple(nodes)


def current_membind() -> tuple[int, ...] | None:
    """Nodes the calling thread's memory is bound to (MPOL_BIND), or None when it is not bound."""
    mode, nodes = _mempolicy()
    return nodes if mode == "bind" else None


def _pin_all_threads(cpus: tuple[int, ...]) -> int:
    core = _core()
    try:
        core.sched_setaffinity(list(cpus), 0)
    except OSError as exc:
        allowed = format_cpu_list(current_affinity())
        raise BindError(exc.errno, (
            f"the kernel refused to bind to CPUs {format_cpu_list(cpus)} "
            f"({os.strerror(exc.errno or 0)}); this process may run on CPUs {allowed}: "
            "a cgroup cpuset (container --cpuset-cpus) or a parent's taskset forbids the others"
        )) from None
    pinned = 1
    own = threading.get_native_id()
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tids = []
    for tid in tids:
        if tid == own:
            continue
        try:
            core.sched_setaffinity(list(cpus), tid)
            pinned += 1
        except OSError as exc:
            if exc.errno != errno.ESRCH:  # ESRCH: the thread ended meanwhile
                raise
    return pinned


def bind(cpus: str | Iterable[int] | None = None, membind: str | Iterable[int] | None = None, *,
         physical_only: bool = False, topology: Topology | None = None) -> Binding:
    """Pin this process to `cpus` and, with `membind`, its memory to those NUMA nodes.

    `cpus`/`membind` take a CPU-list string ("0-17,36-53") or ids. ValueError for CPUs that are
    not online or nodes that do not exist; BindError when the kernel refuses the CPUs; a refused
    memory binding is a warning in the returned record (see the module docstring).
    """
    topology = topology or read_topology()
    chosen = select_cpus(topology, cpus, physical_only=physical_only)
    nodes = None if membind is None else select_nodes(topology, membind)
    pinned = _pin_all_threads(chosen)
    warnings: list[str] = []
    memory_bound = False
    if nodes is not None:
        core = _core()
        err = core.set_mempolicy(core.MPOL_BIND, list(nodes))
        memory_bound = current_membind() == nodes
        if err:
            name = errno.errorcode.get(err, str(err))
            warnings.append(
                f"memory binding to NUMA node {format_cpu_list(nodes)} refused by the kernel "
                f"({name}: {os.strerror(err)}); CPUs {format_cpu_list(chosen)} are bound but "
                "memory is not: pages go where the default first-touch policy puts them")
        elif not memory_bound:
            warnings.append(f"set_mempolicy accepted node {format_cpu_list(nodes)} but "
                            f"get_mempolicy reads back {_mempolicy()}: memory is not bound")
        if memory_bound and pinned > 1:
            warnings.append(
                f"{pinned - 1} thread(s) were already running: their memory policy is unchanged "
                "(a memory policy is per thread); bind before importing MXNet")
    return Binding(chosen, nodes, memory_bound, tuple(warnings), pinned)


def affinity_fingerprint() -> dict[str, Any]:
    """Where this thread runs and allocates, and the OpenMP settings in force, for reports.

    Keys: cpus (CPU list), cpu_count, membind (node list or None), memory_bound, mempolicy
    (default/bind/preferred/interleave/local), openmp_env, openmp_runtime (intel/gnu/unknown).
    """
    cpus = current_affinity()
    mode, nodes = _mempolicy()
    membind = nodes if mode == "bind" else None
    return {
        "cpus": format_cpu_list(cpus),
        "cpu_count": len(cpus),
        "membind": None if membind is None else format_cpu_list(membind),
        "memory_bound": membind is not None,
        "mempolicy": mode,
        "openmp_env": {k: os.environ[k] for k in OPENMP_VARIABLES if k in os.environ},
        # KMP_* means nothing to GNU OpenMP: say which runtime the installed MXNet links.
        "openmp_runtime": detect_openmp_runtime("mxnet"),
    }


__all__ = [
    "BindError", "Binding", "affinity_fingerprint", "bind", "current_affinity",
    "current_membind", "select_cpus", "select_nodes",
]
