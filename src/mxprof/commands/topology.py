"""`mxprof topology`: sockets, physical cores, SMT siblings and NUMA nodes of this machine."""

from __future__ import annotations

import sys


def add_arguments(parser) -> None:
    # --json PATH as every command ('-': stdout, instead of the tables); the old bare switch
    # still means stdout where it cannot swallow anything (mxprof.commands._outputs.legacy_json).
    from mxprof.commands._options import add_outputs
    add_outputs(parser, "topology", load=False, dry_run=False)
    parser.add_argument("--sysfs-root", default="/sys", metavar="DIR",
                        help="read another sysfs tree (default: /sys)")
    parser.add_argument("--cpuinfo", default="/proc/cpuinfo", metavar="FILE",
                        help="read CPU model and flags from FILE (default: /proc/cpuinfo)")


def format_topology(topology) -> list[str]:
    """Plain lines summarising the machine (the header above the tables)."""
    from mxprof.cpu.cpulist import format_cpu_list

    t = topology
    smt = f"{t.threads_per_core} threads per core" if t.threads_per_core > 1 else "no SMT"
    return [
        f"{t.model_name}",
        f"{len(t.sockets)} socket(s), {t.core_count} physical cores, {len(t.cpus)} logical CPUs "
        f"online ({format_cpu_list(t.online)}), {smt}, {len(t.nodes)} NUMA node(s)",
        f"ISA: {', '.join(t.isa) if t.isa else 'none of ' + 'avx2/avx512f/vnni/bf16/amx'}",
    ]


def _tables(topology):
    from rich.table import Table

    from mxprof.cpu.cpulist import format_cpu_list

    sockets = Table(title="Sockets")
    for column in ("socket", "NUMA nodes", "physical cores", "logical CPUs"):
        sockets.add_column(column)
    for socket in topology.sockets:
        cpus = topology.cpus_of_socket(socket)
        socket_nodes = sorted({topology.cpu(c).node for c in cpus})
        sockets.add_row(str(socket), format_cpu_list(socket_nodes),
                        str(len(topology.physical_cpus(cpus))), format_cpu_list(cpus))

    nodes = Table(title="NUMA nodes")
    for column in ("node", "CPUs", "physical cores (first threads)", "memory"):
        nodes.add_column(column)
    for node, cpus in topology.nodes.items():
        kb = topology.node_memory_kb.get(node)
        memory = "unknown" if kb is None else f"{kb / 2**20:.1f} GiB"
        cores = topology.cores_of_node(node)
        nodes.add_row(str(node), format_cpu_list(cpus) or "(none: memory only)",
                      f"{format_cpu_list(cores) or '-'} ({len(cores)})", memory)

    cores = Table(title="Physical cores")
    for column in ("socket", "node", "core_id", "logical CPUs (SMT siblings)"):
        cores.add_column(column)
    for cpu in topology.cpus:
        if cpu.is_first_thread:
            cores.add_row(str(cpu.socket), str(cpu.node), str(cpu.core),
                          format_cpu_list(cpu.siblings))
    return sockets, nodes, cores


def run(args) -> int:
    from rich.console import Console

    from mxprof.commands._options import check_outputs, write_outputs
    from mxprof.cpu.topology import read_topology
    from mxprof.errors import UsageError

    check_outputs(args, "topology")
    try:
        topology = read_topology(args.sysfs_root, args.cpuinfo)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the CPU topology: {exc}") from None
    doc = {"kind": "mxprof-topology", **topology.to_dict()}
    if args.json == "-":
        write_outputs(args, doc, "topology")
        return 0
    console = Console()
    for line in format_topology(topology):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    from mxprof.render.table_model import print_wide
    for table in _tables(topology):
        print_wide(console, table)  # a pipe's 80 columns never split a figure
    for error in write_outputs(args, doc, "topology"):
        print(f"mxprof: error: {error}", file=sys.stderr)
        return 2
    if args.sysfs_root == "/sys" and args.cpuinfo == "/proc/cpuinfo":
        _print_ceilings(console)
    return 0


def _print_ceilings(console) -> None:
    """Theoretical peaks, and the measured ones when `mxprof ceilings` has cached them."""
    from mxprof.commands.ceilings import format_ceilings
    from mxprof.cpu.placement import resolve
    from mxprof.jobs.ceilings import machine_ceilings
    # The key `mxprof ceilings` stores under by default: this process's CPUs, one thread per
    # physical core (its default --threads).
    threads = resolve(decide_wait=False).threads
    result = machine_ceilings(None, threads, measure_missing=False)
    if not result["measured"]:
        result["error"] = "run `python -m mxprof ceilings` to measure"
    console.print("Ceilings", style="italic")
    for line in format_ceilings(result)[:-1] if not result["measured"] else format_ceilings(result):
        console.print(line, highlight=False, soft_wrap=True)
