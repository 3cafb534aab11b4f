"""OpenMP settings for MXNet's worker threads inside the CPUs a run is bound to.

The CPUs themselves are bound by `mxprof.cpu.binding.bind` (sched_setaffinity on every thread, then
inherited by every thread created later): OpenMP threads can never leave them. What this module
adds is how many threads, how they wait, and for Intel OpenMP where each one sits.

Intel/LLVM OpenMP, the reference benchmark's runtime (`KMP_AFFINITY=granularity=fine,compact,1,0
OMP_NUM_THREADS=18`):
- `granularity=fine`: each OpenMP thread is pinned to one logical CPU, so it never migrates.
- `compact,1,0`: permute 1, offset 0: one thread per physical core first, SMT siblings only when
  threads outnumber cores, which is what oneDNN's compute-bound kernels want.
- `KMP_BLOCKTIME=1` (ms; Intel's default is 200): a worker spins 1 ms after a parallel region,
  then sleeps. The gaps between the oneDNN primitives of one forward pass are microseconds, so
  the team is still spinning when the next one starts; between iterations it stops burning CPUs
  that Python and MXNet's engine threads need.
libiomp5 pins a thread when it joins the runtime, by its global thread number, and leaves the
initial thread alone until that thread opens a parallel region itself. Measured (intel-openmp
2026.2 LD_PRELOADed into mxnet 1.9.1, resnet18_v1, 2 CPUs): the engine thread that ran the
model was pinned to CPU 1 and its OpenMP worker to CPU 0, while the Python thread and MXNet's
other threads kept CPUs 0-1. So the Intel path does not have the GNU problem below.

GNU OpenMP (libgomp), what the mxnet==1.9.1 wheel links: `OMP_NUM_THREADS` and the wait policy
(below), and no `OMP_PROC_BIND`/`OMP_PLACES` unless asked for (`places=`).
Measured on the 2-CPU VM (bench/openmp_binding.py, resnet18_v1, other jobs running):
- With OMP_PROC_BIND set, libgomp pins the *initial* thread to the first place as soon as
  libmxnet.so loads, before MXNet creates its engine threads; they inherit that one CPU. The
  main thread and every engine thread ended up on CPU 0 (only the team's second thread on CPU
  1), and the scikit-learn libgomp that `import mxnet` also loads warns "Number of places
  reduced from 2 to 1". libgomp does not re-pin a thread it did not create when that thread
  becomes a team master (the engine thread kept CPU 0), so libgomp's binding variables always
  do this to MXNet.
- libgomp's default wait (spin about 300,000 iterations before sleeping) with 2 threads gave
  median batch-1 latencies of 136-906 ms per run where MXNet's own default (1 OpenMP thread on
  2 CPUs: it uses half of the CPUs it sees) took 31-69 ms, with or without any binding.
  OMP_WAIT_POLICY=PASSIVE (sleep at once, the analogue of KMP_BLOCKTIME=0) removed that:
  `bind --cores 0-1` medians were 0.82-0.83x the default's latency (README table).

Wait policy (`wait_policy`, `bind --wait-policy`): how a team's threads wait between parallel
regions. "active": spin a bounded while, then sleep (GNU: OMP_WAIT_POLICY=ACTIVE with
GOMP_SPINCOUNT=300000, libgomp's own count when the policy is unset, about 1-3 ms; Intel:
KMP_BLOCKTIME=`blocktime` ms). ACTIVE without GOMP_SPINCOUNT spins 3e10 iterations (minutes):
measured 0.86-4.2 s per batch-1 call against 39-224 ms for PASSIVE (load average 2.5-13), since
the spinning team starves MXNet's engine and Python threads on 2 CPUs. "passive": sleep at once (GNU:
OMP_WAIT_POLICY=PASSIVE; Intel: KMP_BLOCKTIME=0). Neither wins everywhere (bench/openmp_binding.py,
resnet18_v1 batch 1, 2 threads on the 2-CPU VM): with the CPUs to itself a spinning team is
faster (15.6 ms spinning vs 22 ms passive on a quiet machine, issue 9; 21.7 vs 51.6 ms in a
round at load average 2.5), and once other processes share the CPUs a spinning thread burns the
time slice its teammates need (load average 8.6-10.6: 932-2116 ms with libgomp's default spin
vs 39-156 ms passive, medians 1900 vs 42 ms). So "auto", the default, picks "active" when the
worker's CPUs are idle now, measured over a short window just before it starts
(`decide_wait_policy`: other processes' share of those CPUs, mxprof.cpu.load.cpu_share), and
"passive" otherwise; the decision and its evidence are recorded with every profile worker's
result (`WaitDecision`), the policy in force with every result (`wait_policy_in_force`).
Never set both families: libiomp5 given KMP_AFFINITY and OMP_PLACES warns, ignores OMP_PLACES
and (intel-openmp 2026.2, measured) put both threads of a 2-CPU run on one CPU.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mxprof.cpu.load import BUSY_FRACTION, CpuShare, cpu_share
from mxprof.cpu.topology import Topology
from mxprof.schema import Record

INTEL_AFFINITY = "granularity=fine,compact,1,0"
DEFAULT_BLOCKTIME_MS = 1
WAIT_POLICIES = ("auto", "active", "passive")
# libgomp's spin count when OMP_WAIT_POLICY is unset (libgomp/env.c: "3 msec blocking when
# OMP_WAIT_POLICY is not specified"); ACTIVE alone would spin 3e10 iterations.
GNU_ACTIVE_SPINCOUNT = 300_000
# auto spins only when other processes took at most this share of the worker's CPUs over the
# window before it starts: the busy-machine rule of mxprof.cpu.load (a run past it is flagged).
WAIT_SHARE = BUSY_FRACTION
# Long enough for 50 jiffies per CPU at 100 Hz (2% steps), short beside a worker's seconds.
WAIT_WINDOW_S = 0.5

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


class WaitDecision(Record, frozen=True):
    """How one worker's OpenMP threads wait and why (recorded with its result).

    asked: the --wait-policy given ("auto", "active", "passive"); policy: what the worker got
    ("active" | "passive"); why: the reason as reports print it; window: the evidence of an
    auto decision (other processes' share of the worker's CPUs over a short window, see
    `mxprof.cpu.load.cpu_share`), None when nothing was measured.
    """

    asked: str
    policy: str
    why: str
    window: CpuShare | None = None


def decide_wait_policy(policy: str, *, threads: int, cpus: Sequence[int] | None = None,
                       window_s: float = WAIT_WINDOW_S,
                       share: CpuShare | None = None) -> WaitDecision:
    """The wait policy of one worker about to start on `cpus` (default: this process's).

    auto: "passive" for one thread (nothing waits), else "passive" when other processes took
    more than WAIT_SHARE of `cpus` over the last `window_s` seconds (measured now: this sleeps
    `window_s`; or `share` when given), else "active". Never the load average: it lags the
    machine by a minute, so right after any work ended it said "busy" on idle CPUs and the
    headline latency came out about 40% pessimistic (issue 25). Where /proc cannot be read,
    "passive" (the choice that cannot cost 4x). Raises ValueError for an unknown policy.
    """
    if policy not in WAIT_POLICIES:
        raise ValueError(f"unknown wait policy {policy!r}: use one of {', '.join(WAIT_POLICIES)}")
    if policy != "auto":
        return WaitDecision(policy, policy, "chosen by the user")
    if threads < 2:
        return WaitDecision("auto", "passive", "auto: one OpenMP thread, no team waits")
    share = share if share is not None else cpu_share(cpus, window_s)
    if share is None:
        return WaitDecision("auto", "passive", "auto: no /proc to measure the CPUs, the safe "
                            "choice")
    busy = share.share > WAIT_SHARE
    verdict = ("they are shared" if busy else "they look idle")
    return WaitDecision("auto", "passive" if busy else "active",
                        f"auto: {share.text}, limit {100 * WAIT_SHARE:.0f}%: {verdict}", share)


def resolve_wait_policy(policy: str, *, threads: int, cpus: Sequence[int] | None = None,
                        share: CpuShare | None = None) -> tuple[str, str]:
    """(policy, why) of `decide_wait_policy` (same arguments and errors)."""
    d = decide_wait_policy(policy, threads=threads, cpus=cpus, share=share)
    return d.policy, d.why


def openmp_env(threads: int, *, intel_openmp: bool = True, blocktime: int = DEFAULT_BLOCKTIME_MS,
               places: Sequence[int] | None = None, wait_policy: str = "auto") -> dict[str, str]:
    """Environment for `threads` OpenMP threads (see the module docstring for the values).

    intel_openmp=True: OMP_NUM_THREADS, KMP_AFFINITY, KMP_BLOCKTIME (Intel and LLVM OpenMP).
    intel_openmp=False: OMP_NUM_THREADS and the wait policy's variables; with `places` (CPU ids,
    best first: see `openmp_places`) also OMP_PROC_BIND=close and that explicit OMP_PLACES list,
    which pins each team thread but also the initial thread, and with it MXNet's engine threads,
    to the first place (measured; the module docstring says why that is not the default).
    wait_policy: "active" (KMP_BLOCKTIME=`blocktime`; GNU: OMP_WAIT_POLICY=ACTIVE,
    GOMP_SPINCOUNT=300000), "passive" (KMP_BLOCKTIME=0; GNU: OMP_WAIT_POLICY=PASSIVE) or "auto"
    (`resolve_wait_policy` on `places` or this process's CPUs, measured now; callers that bind
    CPUs should resolve it themselves and pass the result). Raises ValueError for bad counts or policies.
    """
    if threads < 1:
        raise ValueError(f"the number of OpenMP threads must be at least 1, got {threads}")
    if blocktime < 0:
        raise ValueError(f"KMP_BLOCKTIME must be >= 0 ms, got {blocktime}")
    policy, _ = resolve_wait_policy(wait_policy, threads=threads, cpus=places)
    env = {"OMP_NUM_THREADS": str(threads)}
    if intel_openmp:
        env["KMP_AFFINITY"] = INTEL_AFFINITY
        env["KMP_BLOCKTIME"] = str(blocktime) if policy == "active" else "0"
        return env
    if policy == "active":
        env["OMP_WAIT_POLICY"] = "ACTIVE"
        env["GOMP_SPINCOUNT"] = str(GNU_ACTIVE_SPINCOUNT)
    else:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if places:
        env["OMP_PROC_BIND"] = "close"
        env["OMP_PLACES"] = ",".join(f"{{{c}}}" for c in places)
    return env


def wait_policy_in_force(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The wait policy an environment gives OpenMP: {"policy", "variables"}.

    policy: "passive" (OMP_WAIT_POLICY=PASSIVE, or KMP_BLOCKTIME=0 without it), "active"
    (OMP_WAIT_POLICY=ACTIVE, or KMP_BLOCKTIME > 0 without it) or "runtime default" (neither
    set: libgomp spins about 300,000 iterations, Intel OpenMP 200 ms, then sleep); variables:
    the OMP_WAIT_POLICY, GOMP_SPINCOUNT and KMP_BLOCKTIME that were set.
    """
    environ = os.environ if environ is None else environ
    variables = {k: environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
                 if k in environ}
    omp = variables.get("OMP_WAIT_POLICY", "").strip().lower()
    blocktime = variables.get("KMP_BLOCKTIME", "").strip()
    if omp in ("active", "passive"):
        policy = omp
    elif blocktime:
        policy = "passive" if blocktime == "0" else "active"
    else:
        policy = "runtime default"
    return {"policy": policy, "variables": variables}


# ---- how many OpenMP threads a worker gets ----------------------------------------------

THREADS_RUNTIME = "runtime"  # --threads runtime: leave OMP_NUM_THREADS unset, MXNet decides


def mxnet_default_threads(cpus: int) -> int:
    """The OpenMP team MXNet 1.9.1 picks by itself on x86 when OMP_NUM_THREADS is unset:
    omp_get_num_procs() >> 1 (src/engine/openmp.cc, `OpenMP::OpenMP`: it assumes every core
    has two SMT threads), at least 1. `cpus`: the CPUs the process may use (libgomp's
    omp_get_num_procs counts the affinity mask)."""
    return max(1, cpus // 2)


@dataclasses.dataclass(frozen=True)
class ThreadChoice:
    """The OpenMP thread count of a command's workers and where it came from.

    threads: OMP_NUM_THREADS to set (None: unset, the runtime's own choice); source: "user"
    (--threads N), "physical cores" (mxprof's default) or "runtime" (--threads runtime);
    why: the reason as the report prints it after the count.
    """

    threads: int | None
    source: str
    why: str

    @property
    def text(self) -> str:
        """'2, one per physical core (mxprof default; MXNet alone would use 1)'."""
        return f"{self.threads if self.threads is not None else 'unset'}, {self.why}"


def choose_threads(requested: int | str | None, cpus: Sequence[int] | None = None, *,
                   topology: Topology | None = None) -> ThreadChoice:
    """The thread count of every measuring command, decided here only.

    `requested`: --threads as parsed (an int, "runtime", or None for the default); `cpus`: the
    logical CPUs the workers may use after --cores/--physical-only (default: this process's
    affinity). The default is one thread per physical core of `cpus`, what the reference
    benchmark ran (OMP_NUM_THREADS=18 on the 18 physical cores of one socket, compact affinity); MXNet's own default would be `mxnet_default_threads`, one
    thread on a 2-core VM without SMT. Raises ValueError for a count below 1 or another word.
    """
    allowed = sorted(cpus) if cpus else sorted(os.sched_getaffinity(0))
    alone = mxnet_default_threads(len(allowed))
    if requested == THREADS_RUNTIME:
        return ThreadChoice(None, "runtime", f"--threads runtime: MXNet's own default, "
                            f"{alone} on these {len(allowed)} CPUs")
    if isinstance(requested, str):
        raise ValueError(f"--threads {requested}: give a count or '{THREADS_RUNTIME}'")
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--threads must be at least 1, got {requested}")
        return ThreadChoice(requested, "user", f"--threads {requested} (MXNet alone would use "
                            f"{alone})")
    cores = _physical_cores(allowed, topology)
    return ThreadChoice(cores, "physical cores", "one per physical core (mxprof default; "
                        f"MXNet alone would use {alone})")


def _physical_cores(cpus: Sequence[int], topology: Topology | None) -> int:
    """Physical cores among `cpus` (SMT siblings count once); the CPU count when sysfs cannot
    be read (a container without /sys/devices/system/cpu: no SMT is then the safe guess)."""
    if topology is None:
        from mxprof.cpu.topology import read_topology
        try:
            topology = read_topology()
        except (OSError, ValueError):
            return len(cpus)
    return len(topology.physical_cpus(cpus)) or len(cpus)


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
    "DEFAULT_BLOCKTIME_MS", "GNU_ACTIVE_SPINCOUNT", "INTEL_AFFINITY", "OPENMP_VARIABLES",
    "THREADS_RUNTIME", "WAIT_POLICIES", "WAIT_SHARE", "WAIT_WINDOW_S", "ThreadChoice",
    "WaitDecision", "choose_threads", "decide_wait_policy", "detect_openmp_runtime", "elf_needed", "mxnet_default_threads", "openmp_env", "openmp_places", "resolve_wait_policy",
    "wait_policy_in_force",
]
