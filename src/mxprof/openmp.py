"""OpenMP settings that pin MXNet's worker threads inside the CPUs a run is bound to.

The reference benchmark ran with Intel OpenMP and
`KMP_AFFINITY=granularity=fine,compact,1,0 OMP_NUM_THREADS=18`:
- `granularity=fine`: each OpenMP thread is pinned to one logical CPU, so it never migrates
  (a migration costs its L1/L2 contents in the middle of a convolution).
- `compact,1,0`: compact placement with permute 1 and offset 0: permuting the innermost level
  fills one thread per physical core first and uses SMT siblings only when threads outnumber
  cores, which is what oneDNN's compute-bound kernels want.
- `KMP_BLOCKTIME=1` (ms; Intel's default is 200): a thread spins 1 ms after a parallel region
  before sleeping. The gaps between consecutive oneDNN primitives of one forward pass are
  microseconds, so threads are still spinning when the next one starts; but between iterations,
  while Python and MXNet's engine threads run, the workers stop burning the cores they share.

The pip wheel of mxnet 1.9.1 links GNU OpenMP (libgomp), which ignores KMP_*. For it the same
placement is spelled out with standard OpenMP: an explicit `OMP_PLACES` list of single CPUs in
cores-first order plus `OMP_PROC_BIND=close` (thread i on place i). The abstract
`OMP_PLACES=threads` would not do: libgomp numbers those places by CPU id, so 18 threads
spread over CPUs 0-17,36-53 would land on both siblings of 9 cores.

Set one family only. Checked with a small OpenMP program on 2 CPUs: libgomp with
OMP_PLACES={0},{1} + OMP_PROC_BIND=close pins thread i to place i; libiomp5 (intel-openmp
2026.2) with KMP_AFFINITY alone pins threads 0 and 1 to CPUs 0 and 1, but given OMP_PLACES too
it warns "OMP_PLACES: ignored because KMP_AFFINITY has been defined" and puts both on one CPU,
and given an explicit OMP_PLACES list alone it rejects all but one place.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Sequence
from pathlib import Path

from mxprof.topology import Topology

INTEL_AFFINITY = "granularity=fine,compact,1,0"
DEFAULT_BLOCKTIME_MS = 1

# Variables that change how OpenMP threads are placed or wait: recorded with every result.
OPENMP_VARIABLES = (
    "OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_PLACES", "OMP_WAIT_POLICY", "OMP_DYNAMIC",
    "KMP_AFFINITY", "KMP_BLOCKTIME", "KMP_HW_SUBSET", "GOMP_CPU_AFFINITY", "GOMP_SPINCOUNT",
    "MXNET_CPU_WORKER_NTHREADS", "MXNET_ENGINE_TYPE",
)


def openmp_places(topology: Topology, cpus: Sequence[int]) -> tuple[int, ...]:
    """`cpus` ordered cores first: the first thread of every core, then the second threads...

    This is the order `compact,1,0` fills, so thread i on place i reproduces it for any runtime.
    """
    wanted = set(cpus)
    by_core: dict[tuple[int, ...], list[int]] = {}
    for cpu in topology.cpus:
        if cpu.id in wanted:
            by_core.setdefault(cpu.siblings, []).append(cpu.id)
    ranks: list[list[int]] = []
    for members in sorted(by_core.values()):
        for rank, cpu_id in enumerate(sorted(members)):
            if rank == len(ranks):
                ranks.append([])
            ranks[rank].append(cpu_id)
    return tuple(cpu_id for rank in ranks for cpu_id in rank)


def openmp_env(threads: int, *, intel_openmp: bool = True, blocktime: int = DEFAULT_BLOCKTIME_MS,
               places: Sequence[int] | None = None) -> dict[str, str]:
    """Environment for `threads` OpenMP threads (see the module docstring for the values).

    intel_openmp=True: OMP_NUM_THREADS, KMP_AFFINITY, KMP_BLOCKTIME (Intel and LLVM OpenMP).
    intel_openmp=False: OMP_NUM_THREADS, OMP_PROC_BIND=close and OMP_PLACES, an explicit list
    when `places` (CPU ids, best first: see `openmp_places`) is given, else one place per core.
    """
    if threads < 1:
        raise ValueError(f"the number of OpenMP threads must be at least 1, got {threads}")
    if blocktime < 0:
        raise ValueError(f"KMP_BLOCKTIME must be >= 0 ms, got {blocktime}")
    env = {"OMP_NUM_THREADS": str(threads)}
    if intel_openmp:
        env["KMP_AFFINITY"] = INTEL_AFFINITY
        env["KMP_BLOCKTIME"] = str(blocktime)
    else:
        env["OMP_PROC_BIND"] = "close"
        env["OMP_PLACES"] = ",".join(f"{{{c}}}" for c in places) if places else "cores"
    return env


# ---- which OpenMP runtime does the installed MXNet use? ------------------------------------

_INTEL_NAMES = ("libiomp5", "libomp.so", "libomp5")
_GNU_NAMES = ("libgomp",)


def elf_needed(path: str | Path) -> list[str]:
    """DT_NEEDED entries of a 64-bit little-endian ELF file, read from its section headers only
    (libmxnet.so is hundreds of MB: this reads a few KB). [] for anything else."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
            return []
        shoff, = struct.unpack_from("<Q", ident, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", ident, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * shentsize) for i in range(shnum)]
        for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
            if kind != 6:  # SHT_DYNAMIC
                continue
            f.seek(offset)
            dynamic = f.read(size)
            str_offset, str_size = sections[link][4], sections[link][5]
            f.seek(str_offset)
            strings = f.read(str_size)
            needed = []
            for tag, value in struct.iter_unpack("<qQ", dynamic):
                if tag == 0:  # DT_NULL ends the table
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(strings[value:strings.index(b"\0", value)].decode())
            return needed
    return []


def detect_openmp_runtime(package: str = "mxnet") -> str:
    """'intel', 'gnu' or 'unknown': the OpenMP runtime `package`'s native library loads.

    Looks without importing (importing MXNet would load the runtime and fix its settings):
    a bundled libiomp5/libomp wins, else the DT_NEEDED entries of its shared libraries.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return "unknown"
    if spec is None or not spec.submodule_search_locations:
        return "unknown"
    libs = [p for d in spec.submodule_search_locations for p in Path(d).glob("*.so*")]
    # The package's own library first (libmxnet.so): its runtime is the one that matters.
    libs.sort(key=lambda p: (not p.name.startswith(f"lib{package}"), p.name))
    if any(p.name.startswith(_INTEL_NAMES) for p in libs):
        return "intel"
    for lib in libs:
        try:
            needed = elf_needed(lib)
        except (OSError, struct.error, ValueError, IndexError):
            continue
        if any(n.startswith(_INTEL_NAMES) for n in needed):
            return "intel"
        if any(n.startswith(_GNU_NAMES) for n in needed):
            return "gnu"
    return "unknown"


__all__ = [
    "DEFAULT_BLOCKTIME_MS", "INTEL_AFFINITY", "OPENMP_VARIABLES", "detect_openmp_runtime",
    "elf_needed", "openmp_env", "openmp_places",
]
