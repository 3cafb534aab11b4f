"""`mxprof bind --cores LIST [--membind NODES] [--threads N] -- CMD...`: numactl plus OpenMP pinning.

Binds this process (CPU affinity and, with --membind, an MPOL_BIND memory policy), sets the
OpenMP environment (threads, placement, wait policy: see mxprof.cpu.openmp), then execs CMD,
which inherits all three. Memory binding refused by the
kernel (EPERM in containers) is a warning on stderr, and CMD still runs.
"""

from __future__ import annotations

import argparse
import shlex
import sys

RUNTIMES = {
    "intel": "Intel/LLVM OpenMP (KMP_AFFINITY)",
    "gnu": "GNU OpenMP (libgomp, which ignores KMP_*)",
    "unknown": "unknown OpenMP runtime: KMP_* only (GNU OpenMP ignores it; pass --openmp gnu)",
}


def add_arguments(parser) -> None:
    parser.usage = ("mxprof bind [--cores LIST] [--membind NODES] [--threads N] [--physical-only] "
                    "[--openmp {auto,intel,gnu}] [--wait-policy {auto,active,passive}] "
                    "[--blocktime MS] [--pin-threads] [--dry-run] "
                    "-- CMD [ARG...]")
    parser.add_argument("--cores", metavar="LIST",
                        help="logical CPUs to run on, e.g. 0-17 or 0-17,36-53 (default: the CPUs this "
                             "process may use, as `taskset` left them)")
    parser.add_argument("--cpus", dest="cores", help=argparse.SUPPRESS)  # old spelling
    parser.add_argument("--membind", metavar="NODES",
                        help="allocate memory only on these NUMA nodes, e.g. 0 (default: not bound)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="OMP_NUM_THREADS (default: one per physical core of the bound "
                             "CPUs, as the measuring commands)")
    parser.add_argument("--physical-only", action="store_true",
                        help="keep one logical CPU per physical core (skip SMT siblings)")
    parser.add_argument("--openmp", choices=("auto", "intel", "gnu"), default="auto",
                        help="OpenMP runtime of CMD; auto looks at the mxnet this Python would "
                             "import, without importing it (default: auto)")
    parser.add_argument("--wait-policy", choices=("auto", "active", "passive"), default="auto",
                        help="how OpenMP threads wait between parallel regions: active spins a "
                             "bounded while (faster when the CPUs are idle), passive sleeps at "
                             "once (faster when other processes share them); auto spins only when "
                             "other processes took at most 10%% of the bound CPUs' time over the "
                             "last 0.5 s (default: auto)")
    parser.add_argument("--blocktime", type=int, default=1, metavar="MS",
                        help="Intel OpenMP's spin before sleeping (KMP_BLOCKTIME) with an active "
                             "wait policy, in ms (default: 1)")
    parser.add_argument("--pin-threads", action="store_true",
                        help="GNU OpenMP only: also set OMP_PROC_BIND=close and one OMP_PLACES "
                             "place per CPU; this pins the main thread and MXNet's engine threads "
                             "to the first CPU too (measured slower: see README)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would be bound, set and executed; change nothing")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")


def _plan_env(args, topology, placement):
    """(runtime, env): the OpenMP runtime of CMD and its environment for `placement`."""
    from mxprof.cpu.openmp import detect_openmp_runtime, openmp_env, openmp_places

    runtime = detect_openmp_runtime("mxnet") if args.openmp == "auto" else args.openmp
    threads, cpus = placement.threads, placement.cpu_ids
    # Never both families: Intel OpenMP given KMP_AFFINITY and OMP_PLACES warns, ignores
    # OMP_PLACES and (libiomp5 2026.2, measured) still put both threads of a 2-CPU run on one
    # CPU. KMP_* alone is right for Intel and harmless (unpinned threads) for GNU.
    if runtime == "gnu":
        # No OMP_PROC_BIND by default: libgomp would pin the initial thread, and every MXNet
        # engine thread created after it, to the first place (see mxprof.cpu.openmp). bind() has
        # already confined every thread to `cpus`.
        places = openmp_places(topology, cpus) if args.pin_threads else None
        env = openmp_env(threads, intel_openmp=False, places=places,
                         wait_policy=placement.wait_policy)
    else:
        env = openmp_env(threads, intel_openmp=True, blocktime=args.blocktime,
                         wait_policy=placement.wait_policy)
    return runtime, env


def format_plan(cpus, nodes, topology, runtime, env, command, wait=None) -> list[str]:
    from mxprof.cpu.cpulist import format_cpu_list

    memory = ("not bound (default first-touch policy)" if nodes is None
              else f"NUMA node {format_cpu_list(nodes)} (MPOL_BIND)")
    lines = [
        f"CPUs:    {format_cpu_list(cpus)} ({len(cpus)} logical CPUs on "
        f"{len(topology.physical_cpus(cpus))} physical cores)",
        f"memory:  {memory}",
        f"OpenMP:  {RUNTIMES[runtime]}",
    ]
    if wait is not None:
        lines.append(f"wait:    {wait[0]} ({wait[1]})")
    lines += [f"{'env:' if i == 0 else '':9}{k}={v}" for i, (k, v) in enumerate(env.items())]
    lines.append(f"exec:    {shlex.join(command)}")
    return lines


def busy_warning(online: int, bound: int, threads: int, load: float) -> str | None:
    """A warning when other processes probably run on the bound CPUs (the one busy rule before
    a run, `mxprof.cpu.load.bound_cpus_shared`) and there is more than one OpenMP thread.

    A team waits for its slowest thread at every barrier, so one preempted thread stalls all:
    on the 2-CPU VM at load average 3-5, resnet18_v1 with 2 threads gave 0.58x-1.76x the
    throughput of 1 thread from round to round (bench/openmp_binding.py).
    """
    from mxprof.cpu.load import bound_cpus_shared

    if threads < 2 or not bound_cpus_shared(bound=bound, online=online, load=load):
        return None
    return (f"load average {load:.1f} on a machine with {online} CPUs: other processes share "
            f"the {bound} bound CPUs, and an OpenMP team of {threads} waits for its slowest "
            "thread at every barrier; compare with --threads 1")


def _checked(args):
    """(command, topology, placement) from the arguments; UsageError naming what is wrong.

    The Placement is the one every measuring command resolves (mxprof.cpu.placement.resolve:
    the same checks, thread count, wait policy and oversubscription warning), bound to this
    process's CPUs when --cores is not given: `bind` always binds.
    """
    import os

    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.placement import resolve
    from mxprof.cpu.topology import read_topology
    from mxprof.errors import UsageError

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise UsageError("bind needs a command to run: mxprof bind --cores 0-3 -- python bench.py")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be at least 1, got {args.threads}")
    if args.blocktime < 0:
        raise UsageError(f"--blocktime must be >= 0 ms, got {args.blocktime}")
    topology = read_topology()
    # Within this process's affinity, as every measuring command: a `taskset -c 0 mxprof bind
    # -- cmd` used to widen cmd to every online CPU, and `--cores 1` under it escaped the
    # restriction that `profile --cores 1` refuses.
    cores = args.cores if args.cores is not None else \
        format_cpu_list(sorted(os.sched_getaffinity(0)))
    try:
        placement = resolve(cores, args.membind, physical_only=args.physical_only,
                            threads=args.threads, wait_policy=args.wait_policy,
                            topology=topology)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return command, topology, placement


def run(args) -> int:
    import os

    from mxprof.cpu.binding import BindError, bind
    from mxprof.cpu.cpulist import parse_cpu_list

    command, topology, placement = _checked(args)
    load = os.getloadavg()[0]
    runtime, env = _plan_env(args, topology, placement)
    cpus, threads = placement.cpu_ids, placement.threads
    nodes = None if placement.membind is None else parse_cpu_list(placement.membind)
    busy = None if args.threads is not None else busy_warning(
        len(topology.online), len(cpus), threads, load)
    if busy:
        print(f"mxprof: warning: {busy}", file=sys.stderr)
    if args.dry_run:
        print("mxprof bind, dry run: nothing was bound or executed")
        for line in format_plan(cpus, nodes, topology, runtime, env, command,
                                (placement.wait_policy, placement.wait_why)):
            print(line)
        if placement.oversubscription:  # in the plan, as every command's dry run says it
            print(f"warning: {placement.oversubscription}")
        return 0
    if placement.oversubscription:  # on stderr when it runs, as every command (_job.announce)
        print(f"mxprof: warning: {placement.oversubscription}", file=sys.stderr)
    try:
        binding = bind(cpus, nodes, topology=topology)
    except BindError as exc:
        # Refused before anything ran: bad input (exit 2), as every other command's --cores.
        print(f"mxprof: error: {exc.strerror}", file=sys.stderr)
        return 2
    for warning in binding.warnings:
        print(f"mxprof: warning: {warning}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, {**os.environ, **env})
    except FileNotFoundError:
        print(f"mxprof: error: command not found: {command[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"mxprof: error: permission denied: {command[0]}", file=sys.stderr)
        return 126
    return 0  # not reached: execvpe replaces this process
