"""Fake sysfs trees for topology tests, generated from a compact description.

Linux numbers logical CPUs in one of two ways, and both are built here:
- "split" (most Xeon servers): first threads of every core of every socket, then the second
  threads: on 2 sockets x 4 cores x 2 threads, core 0 of socket 0 is CPUs 0 and 8.
- "interleaved" (many VMs, some AMD EPYC firmware): siblings are adjacent: CPUs 0 and 1.
"""

from __future__ import annotations

from pathlib import Path

from mxprof.cpu.cpulist import format_cpu_list

CPUINFO_XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz
flags\t\t: fpu sse sse2 avx avx2 avx512f avx512cd avx512bw avx512_vnni constant_tsc

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz
flags\t\t: fpu sse sse2 avx avx2 avx512f avx512cd avx512bw avx512_vnni constant_tsc
"""


def cpu_id(socket: int, core: int, thread: int, *, sockets: int, cores: int, threads: int,
           numbering: str) -> int:
    if numbering == "split":
        return thread * sockets * cores + socket * cores + core
    return (socket * cores + core) * threads + thread


def make_sysfs(root: Path, *, sockets: int = 2, cores: int = 4, threads: int = 2,
               numbering: str = "split", nodes: dict[int, str] | None = None,
               node_memory_kb: dict[int, int] | None = None, offline: tuple[int, ...] = (),
               with_node_dir: bool = True) -> Path:
    """Write devices/system/{cpu,node} under `root` and return `root`.

    `nodes` maps node id to its CPU list ("" for a memory-only node); default: one node per
    socket. Offline CPUs are left out of `online` and have no topology directory, as on Linux.
    """
    cpu_dir = root / "devices/system/cpu"
    cpu_dir.mkdir(parents=True)
    shape = {"sockets": sockets, "cores": cores, "threads": threads, "numbering": numbering}
    all_ids = []
    for s in range(sockets):
        for c in range(cores):
            siblings = [cpu_id(s, c, t, **shape) for t in range(threads)]
            for t in range(threads):
                cid = cpu_id(s, c, t, **shape)
                all_ids.append(cid)
                if cid in offline:
                    (cpu_dir / f"cpu{cid}").mkdir()
                    continue
                topo = cpu_dir / f"cpu{cid}" / "topology"
                topo.mkdir(parents=True)
                (topo / "physical_package_id").write_text(f"{s}\n")
                # core_id restarts in every socket, as on real machines.
                (topo / "core_id").write_text(f"{c}\n")
                (topo / "thread_siblings_list").write_text(format_cpu_list(siblings) + "\n")
    online = [c for c in all_ids if c not in offline]
    (cpu_dir / "online").write_text(format_cpu_list(online) + "\n")
    if not with_node_dir:
        return root
    if nodes is None:
        nodes = {s: format_cpu_list(cpu_id(s, c, t, **shape) for c in range(cores)
                                    for t in range(threads)) for s in range(sockets)}
    node_dir = root / "devices/system/node"
    node_dir.mkdir(parents=True)
    (node_dir / "online").write_text(format_cpu_list(nodes) + "\n")
    for node, cpulist in nodes.items():
        d = node_dir / f"node{node}"
        d.mkdir()
        (d / "cpulist").write_text(cpulist + "\n")
        kb = (node_memory_kb or {}).get(node, 16 * 2**20)
        (d / "meminfo").write_text(f"Node {node} MemTotal:       {kb} kB\n"
                                   f"Node {node} MemFree:        {kb // 2} kB\n")
    return root


def make_cpuinfo(path: Path, text: str = CPUINFO_XEON) -> Path:
    path.write_text(text)
    return path


def make_clocksource(root: Path, *, available: str, current: str) -> Path:
    """Write devices/system/clocksource/clocksource0/{available,current}_clocksource."""
    folder = root / "devices/system/clocksource/clocksource0"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "available_clocksource").write_text(available + " \n")  # the kernel's trailing space
    (folder / "current_clocksource").write_text(current + "\n")
    return root
