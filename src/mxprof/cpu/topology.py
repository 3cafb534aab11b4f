"""CPU topology from sysfs: sockets, physical cores, SMT siblings, NUMA nodes, model and ISA.

Read once per run, so plain Python. Every path hangs off `sysfs_root` and `cpuinfo_path`, which
lets the tests describe a 2-socket SMT machine with uneven NUMA nodes in a temporary directory.

Physical cores are grouped by `thread_siblings_list`, not by `core_id`: core ids restart in
every socket (and in every die on multi-die parts), while the sibling list is what the kernel
itself uses to say "these logical CPUs share one core".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from mxprof.cpu.cpulist import format_cpu_list, parse_cpu_list
from mxprof.schema import Record

# ISA extensions that decide which oneDNN kernels run (jit:avx2, avx512_core, _vnni, _bf16, _amx).
ISA_OF_INTEREST = (
    "avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
    "amx_tile", "amx_int8", "amx_bf16",
)


class Cpu(Record, frozen=True):
    """One logical CPU. `core` is sysfs core_id (unique only within a socket/die);
    `siblings` are the logical CPUs sharing its physical core, itself included."""

    id: int
    core: int
    socket: int
    node: int
    siblings: tuple[int, ...]

    @property
    def is_first_thread(self) -> bool:
        return self.id == self.siblings[0]


class Topology(Record, frozen=True, kw_only=True):
    # Keyword-only, so the fields keep the order of the files written before the Struct.
    cpus: tuple[Cpu, ...]
    sockets: tuple[int, ...]
    nodes: dict[int, tuple[int, ...]]
    node_memory_kb: dict[int, int] = msgspec.field(default_factory=dict)
    model_name: str
    isa: tuple[str, ...]

    @property
    def online(self) -> tuple[int, ...]:
        return tuple(c.id for c in self.cpus)

    @property
    def threads_per_core(self) -> int:
        return max((len(c.siblings) for c in self.cpus), default=1)

    @property
    def core_count(self) -> int:
        return sum(1 for c in self.cpus if c.is_first_thread)

    def cpu(self, cpu_id: int) -> Cpu:
        for c in self.cpus:
            if c.id == cpu_id:
                return c
        raise KeyError(cpu_id)

    def physical_cpus(self, cpus=None) -> tuple[int, ...]:
        """One logical CPU per physical core (its first thread) among `cpus` (default: all online).

        A core counts when any of its threads is in `cpus`; the thread kept is the lowest-numbered
        one inside `cpus`, so "--cores 36-53 --physical-only" stays on 36-53.
        """
        wanted = set(self.online if cpus is None else cpus)
        chosen = []
        seen: set[tuple[int, ...]] = set()
        for c in self.cpus:
            if c.id in wanted and c.siblings not in seen:
                seen.add(c.siblings)
                chosen.append(c.id)
        return tuple(sorted(chosen))

    def cores_of_node(self, node: int) -> tuple[int, ...]:
        """First thread of each physical core of NUMA node `node` (what numactl users bind to)."""
        if node not in self.nodes:
            raise ValueError(f"no NUMA node {node}: this machine has nodes {format_cpu_list(self.nodes)}")
        return self.physical_cpus(self.nodes[node])

    def cpus_of_socket(self, socket: int) -> tuple[int, ...]:
        return tuple(c.id for c in self.cpus if c.socket == socket)

    def to_dict(self) -> dict[str, Any]:
        # The derived figures go into the dict too: `topology --json` readers get them ready.
        return {**super().to_dict(), "online": format_cpu_list(self.online),
                "cores": self.core_count, "threads_per_core": self.threads_per_core}


def _read(path: Path) -> str:
    return path.read_text(encoding="ascii", errors="replace").strip()


def _read_list(path: Path) -> list[int]:
    # Memory-only NUMA nodes (HBM, CXL) have an empty cpulist: that is data, not garbage.
    text = _read(path)
    return parse_cpu_list(text) if text else []


def _read_nodes(node_dir: Path, online: list[int]) -> tuple[dict[int, tuple[int, ...]], dict[int, int]]:
    nodes: dict[int, tuple[int, ...]] = {}
    memory: dict[int, int] = {}
    if not node_dir.is_dir():
        return {0: tuple(online)}, {}  # kernel without NUMA: one node holds everything
    online_set = set(online)
    for entry in node_dir.iterdir():
        name = entry.name
        if not (name.startswith("node") and name[4:].isdigit()):
            continue
        node = int(name[4:])
        nodes[node] = tuple(c for c in _read_list(entry / "cpulist") if c in online_set)
        meminfo = entry / "meminfo"
        if meminfo.exists():
            for line in meminfo.read_text().splitlines():
                # "Node 0 MemTotal:       24607452 kB"
                if "MemTotal:" in line:
                    memory[node] = int(line.split("MemTotal:")[1].split()[0])
    return dict(sorted(nodes.items())), memory


def read_cpuinfo(cpuinfo_path: str | Path = "/proc/cpuinfo") -> tuple[str, tuple[str, ...]]:
    """(model name, ISA flags of interest) from the first processor block of /proc/cpuinfo."""
    model, flags = "unknown", set()
    try:
        text = Path(cpuinfo_path).read_text(errors="replace")
    except OSError:
        return model, ()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = " ".join(value.split())
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, tuple(f for f in ISA_OF_INTEREST if f in flags)


def read_topology(sysfs_root: str | Path = "/sys", cpuinfo_path: str | Path = "/proc/cpuinfo") -> Topology:
    """Topology of the online CPUs. ValueError when sysfs does not describe any CPU."""
    cpu_dir = Path(sysfs_root) / "devices/system/cpu"
    try:
        online = _read_list(cpu_dir / "online")
    except OSError as exc:
        raise ValueError(f"cannot read the online CPUs from {cpu_dir / 'online'}: {exc}") from exc
    if not online:
        raise ValueError(f"{cpu_dir / 'online'} lists no CPU")
    nodes, memory = _read_nodes(Path(sysfs_root) / "devices/system/node", online)
    node_of = {c: n for n, ids in nodes.items() for c in ids}
    cpus = []
    for cpu_id in online:
        topo = cpu_dir / f"cpu{cpu_id}" / "topology"
        if topo.is_dir():
            socket = int(_read(topo / "physical_package_id"))
            core = int(_read(topo / "core_id"))
            siblings = tuple(_read_list(topo / "thread_siblings_list")) or (cpu_id,)
        else:  # some VMs and ARM boards expose no topology: each CPU its own core
            socket, core, siblings = 0, cpu_id, (cpu_id,)
        # Offline siblings are not bindable; keep only the online ones.
        siblings = tuple(s for s in siblings if s in node_of or s == cpu_id) or (cpu_id,)
        cpus.append(Cpu(cpu_id, core, socket, node_of.get(cpu_id, 0), siblings))
    model, isa = read_cpuinfo(cpuinfo_path)
    return Topology(
        cpus=tuple(cpus),
        sockets=tuple(sorted({c.socket for c in cpus})),
        nodes=nodes,
        model_name=model,
        isa=isa,
        node_memory_kb=memory,
    )


__all__ = ["ISA_OF_INTEREST", "Cpu", "Topology", "read_cpuinfo", "read_topology"]
