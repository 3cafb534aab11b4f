"""The CPUs, memory nodes, OpenMP threads and wait policy of a job's workers, resolved once.

`resolve(cores, membind, threads, wait_policy)` turns what a user typed (the CLI's
`--cores/--membind/--threads/--wait-policy`, or the same keywords of a notebook call) into one
`JobBinding`, checked against this machine and this process's affinity; a job's `plan` calls
it once and every worker spec carries the result (`bind_spec()`: what the worker binds itself
to before MXNet loads). No parent process binds itself for its workers.

Raises `UsageError` (exit status 2) naming the input: "--cores 99: CPU 99 ... online: 0-1".
"""

from __future__ import annotations

import os

import msgspec

from mxprof.errors import UsageError


class JobBinding(msgspec.Struct, frozen=True, kw_only=True):
    """Where a job's workers run and how their OpenMP threads behave.

    cpus / nodes: the logical CPUs and NUMA nodes the workers bind to (None: not bound);
    threads: OMP_NUM_THREADS (None: the runtime's own choice); threads_text: the count and
    where it came from, as reports print it (threads_why: the reason alone); wait_policy: "active" | "passive" (None: not
    resolved, the workers' environment decides); wait_why: the reason.
    """

    cpus: tuple[int, ...] | None = None
    nodes: tuple[int, ...] | None = None
    threads: int | None = None
    threads_text: str = ""
    threads_why: str = ""
    wait_policy: str | None = None
    wait_why: str = ""

    @property
    def bound(self) -> bool:
        return self.cpus is not None or self.nodes is not None

    def bind_spec(self) -> dict | None:
        """What a worker binds itself to ({"cpus": "0-17", "membind": "0" or None}), None when
        not bound (the accuracy and fusion workers' `bind` spec key)."""
        if not self.bound:
            return None
        from mxprof.cpu.cpulist import format_cpu_list
        cpus = self.cpus if self.cpus is not None else sorted(os.sched_getaffinity(0))
        return {"cpus": format_cpu_list(cpus),
                "membind": None if self.nodes is None else format_cpu_list(self.nodes)}

    def describe(self) -> str:
        """'binding: cores 0-1, membind not bound, OpenMP threads 2, ...' for a plan's notes."""
        from mxprof.cpu.cpulist import format_cpu_list
        return (f"binding: cores {format_cpu_list(self.cpus) if self.cpus else 'not bound'}, "
                f"membind {format_cpu_list(self.nodes) if self.nodes else 'not bound'}, "
                f"OpenMP threads {self.threads_text}")


def check_cpus(cores: str | None, membind: str | None) -> tuple[tuple[int, ...] | None,
                                                                 tuple[int, ...] | None]:
    """(cpus, nodes) asked for, checked against this machine and this process's affinity."""
    if cores is None and membind is None:
        return None, None
    from mxprof.cpu.binding import select_cpus, select_nodes
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.topology import read_topology

    try:
        topo = read_topology()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the CPU topology to check --cores/--membind: {exc}") \
            from None
    cpus = nodes = None
    if cores is not None:
        try:
            cpus = tuple(select_cpus(topo, cores))
        except ValueError as exc:
            raise UsageError(f"--cores {cores}: {exc}") from None
        allowed = sorted(os.sched_getaffinity(0))
        outside = sorted(set(cpus) - set(allowed))
        if outside:
            raise UsageError(f"--cores {cores}: CPUs {format_cpu_list(outside)} are not "
                             f"available to this process (allowed: {format_cpu_list(allowed)})")
    if membind is not None:
        try:
            nodes = tuple(select_nodes(topo, membind))
        except ValueError as exc:
            raise UsageError(f"--membind {membind}: {exc}") from None
    return cpus, nodes


def resolve(cores: str | None = None, membind: str | None = None,
            threads: int | str | None = None, wait_policy: str | None = "auto") -> JobBinding:
    """The one JobBinding of a job (see the module docstring). `wait_policy` None leaves the
    policy to the workers' environment; "auto" picks one for the load now
    (`mxprof.cpu.openmp.resolve_wait_policy`)."""
    from mxprof.cpu.openmp import choose_threads, resolve_wait_policy

    cpus, nodes = check_cpus(cores, membind)
    try:
        choice = choose_threads(threads, cpus)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    policy, why = None, ""
    if wait_policy is not None:
        bound = len(cpus) if cpus else len(os.sched_getaffinity(0))
        try:
            policy, why = resolve_wait_policy(wait_policy, threads=choice.threads or bound,
                                              bound=bound)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return JobBinding(cpus=cpus, nodes=nodes, threads=choice.threads, threads_text=choice.text,
                      threads_why=choice.why,
                      wait_policy=policy, wait_why=why)
