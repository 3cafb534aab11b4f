"""Environment fingerprint: what a result was measured on, so files from many machines merge.

Two halves, because the parent process never loads MXNet:
- `host_fingerprint()`: CPU model, ISA, cores, NUMA nodes, affinity, OpenMP variables, Python
  and package versions (no mxnet import);
- `mxnet_fingerprint()`: MXNet version, compiled features, whether MKL-DNN is on in this process,
  the OpenMP runtime libmxnet links; called in a worker after MXNet is imported.
The oneDNN version is not exported by libmxnet (no `dnnl_version` symbol in 1.9.1): it comes from
a verbose log header, of the primitive pass or of a one-convolution probe process whose answer
is cached per libmxnet file (`onednn_version`); `fingerprint()` reads that cache and probes only
when asked, so a result without a primitive pass still names its oneDNN.

CPU topology and affinity come from `mxprof.cpu.topology` and `mxprof.cpu.binding`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import socket
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from mxprof.cache import cache_root
from mxprof.files import temp_dir
from mxprof.schema import Record

# Variables that change what MXNet, OpenMP or oneDNN do: recorded with every result.
ENV_PREFIXES = ("MXNET_", "OMP_", "KMP_", "GOMP_", "DNNL_", "MKLDNN_", "ONEDNN_", "MKL_")
# The first info line of a verbose log: "dnnl_verbose,info,oneDNN v2.4.4 (commit ...)".
_VERSION = re.compile(r"(?:oneDNN|MKL-DNN|DNNL) (v\d+\.\d+(?:\.\d+)?)")


class Environment(Record, frozen=True):
    """Frozen fingerprint; `to_dict()` is what goes into result JSON under "environment"."""

    hostname: str
    cpu_model: str | None
    isa: tuple[str, ...]
    logical_cpus: int
    physical_cores: int | None
    sockets: int | None
    numa_nodes: dict[str, str]  # node -> CPU list
    affinity: dict[str, Any]  # cpus, cpu_count, membind, ...
    threads: int | None  # OMP_NUM_THREADS in force, None = runtime default
    python: str
    platform: str
    packages: dict[str, str | None]
    env: dict[str, str]
    mxnet: dict[str, Any] = msgspec.field(default_factory=dict)
    onednn_version: str | None = None
    # {"policy": "active" | "passive" | "runtime default", "variables": {...}}: how OpenMP
    # threads waited in this process (mxprof.cpu.openmp.wait_policy_in_force)
    wait_policy: dict[str, Any] = msgspec.field(default_factory=dict)

    def with_mxnet(self, info: dict[str, Any]) -> Environment:
        return msgspec.structs.replace(self, mxnet=dict(info))

    def with_onednn_version(self, version: str | None) -> Environment:
        return msgspec.structs.replace(self, onednn_version=version) if version else self

    @property
    def numa_node_of_affinity(self) -> str | None:
        """The NUMA node(s) whose CPUs the process runs on, as a list string."""
        cpus = set(_expand(self.affinity.get("cpus") or ""))
        hit = [n for n, lst in self.numa_nodes.items() if cpus & set(_expand(lst))]
        return ",".join(hit) if hit else None


def _expand(cpu_list: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, cpu_list.split(",")):
        if "-" in part:
            lo, hi = part.split("-")
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def host_fingerprint() -> Environment:
    """Everything about the host and this process that needs no MXNet import."""
    from mxprof.cpu.binding import affinity_fingerprint
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.openmp import wait_policy_in_force
    from mxprof.cpu.topology import read_topology

    topo = read_topology()
    cpu_model, isa = topo.model_name, tuple(topo.isa)
    cores, sockets = topo.core_count, len(topo.sockets)
    nodes = {str(n): format_cpu_list(ids) for n, ids in topo.nodes.items()}
    affinity = affinity_fingerprint()
    threads = os.environ.get("OMP_NUM_THREADS")
    return Environment(
        hostname=socket.gethostname(),
        cpu_model=cpu_model,
        isa=isa,
        logical_cpus=os.cpu_count() or 0,
        physical_cores=cores,
        sockets=sockets,
        numa_nodes=nodes,
        affinity=affinity,
        threads=int(threads) if threads and threads.isdigit() else None,
        python=platform.python_version(),
        platform=platform.platform(),
        packages={p: _package_version(p) for p in ("mxprof", "mxnet", "numpy", "gluoncv")},
        env={k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)},
        wait_policy=wait_policy_in_force(),
    )


def mxnet_fingerprint() -> dict[str, Any]:
    """Facts only the loaded library knows; call after `import mxnet` (in a worker)."""
    import mxnet as mx
    import mxnet.runtime  # MXNet 1.5 does not import this submodule with the package
    features = mx.runtime.Features()
    enabled = sorted(name for name, f in features.items() if f.enabled)
    info: dict[str, Any] = {
        "version": mx.__version__,
        "library": getattr(mx.base._LIB, "_name", None),
        "features": enabled,
        "mkldnn_compiled": features.is_enabled("MKLDNN"),
        # MXNet reads MXNET_MKLDNN_ENABLED once; default on when compiled in.
        "mkldnn_enabled": features.is_enabled("MKLDNN")
        and os.environ.get("MXNET_MKLDNN_ENABLED", "1") not in ("0", "false", "False"),
        "bulk_exec_inference": os.environ.get("MXNET_EXEC_BULK_EXEC_INFERENCE", "1") != "0",
    }
    from mxprof.cpu.openmp import detect_openmp_runtime
    info["openmp_runtime"] = detect_openmp_runtime()
    info.update(openmp_in_process(info["library"]))
    return info


def openmp_in_process(libmxnet: str | None) -> dict[str, Any]:
    """What OpenMP really does in this process, read from the loaded runtime itself.

    `openmp_threads`: omp_get_max_threads() of the runtime libmxnet uses, asked in this thread
    after MXNet loaded. MXNet sets it when it starts (src/engine/openmp.cc: OMP_NUM_THREADS if
    set, else half of omp_get_num_procs() on x86, so one thread on a 2-CPU machine) and its
    engine threads use the same value. Which runtime: an LD_PRELOADed one, else the one named
    in libmxnet's DT_NEEDED (`import mxnet` also loads scikit-learn's own libgomp copy, whose
    answer is not MXNet's). `allowed_cpus`: this process's affinity, as a CPU list.
    """
    import ctypes

    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.openmp import elf_needed

    out: dict[str, Any] = {"openmp_threads": None, "openmp_library": None,
                           "allowed_cpus": format_cpu_list(sorted(os.sched_getaffinity(0)))}
    loaded = _loaded_libraries()
    preload = {os.path.basename(p) for p in os.environ.get("LD_PRELOAD", "").replace(":", " ")
               .split()}
    try:
        needed = set(elf_needed(libmxnet)) if libmxnet else set()
    except (OSError, ValueError):
        needed = set()
    runtimes = ("libgomp", "libiomp5", "libomp")
    candidates = [p for p in loaded if os.path.basename(p).startswith(runtimes)]
    chosen = next((p for p in candidates if os.path.basename(p) in preload), None) or next(
        (p for p in candidates if any(os.path.basename(p).startswith(n) for n in needed)), None)
    if chosen is None:
        return out
    try:
        out["openmp_threads"] = int(ctypes.CDLL(chosen).omp_get_max_threads())
        out["openmp_library"] = chosen
    except (OSError, AttributeError):
        pass
    return out


def _loaded_libraries() -> list[str]:
    """Shared libraries mapped into this process, in load order."""
    seen: dict[str, None] = {}
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if path.startswith("/") and ".so" in path:
                    seen.setdefault(path, None)
    except OSError:
        pass
    return list(seen)


def onednn_version_from_log(path: str) -> str | None:
    """"v2.4.4" from a verbose log's first info line ("dnnl_verbose,info,oneDNN v2.4.4 (commit
    ...)"; MKL-DNN 0.x/1.x print "mkldnn_verbose,info,Intel MKL-DNN v1.0.4 ...")."""
    try:
        with open(path, errors="replace") as f:
            for _, line in zip(range(50), f):
                m = _VERSION.search(line)
                if m:
                    return m.group(1)
    except OSError:
        pass
    return None


# One convolution with verbose on, in a worker of its own (see probe_onednn_version).
PROBE_MODULE = "mxprof.host.onednn_probe"


def _libmxnet() -> Path | None:
    import importlib.util

    found = importlib.util.find_spec("mxnet")
    if found is None or not found.origin:
        return None
    lib = Path(found.origin).parent / "libmxnet.so"
    return lib if lib.exists() else None


def libmxnet_identity() -> str | None:
    """'PATH|SIZE|MTIME_NS' of the libmxnet.so this interpreter would import (None without
    MXNet): the key of every cached answer that depends only on the MXNet build."""
    lib = _libmxnet()
    if lib is None:
        return None
    st = lib.stat()
    return f"{lib}|{st.st_size}|{st.st_mtime_ns}"


def _version_cache() -> Path | None:
    """The cache file for this libmxnet: the answer depends only on the library file."""
    key = libmxnet_identity()
    if key is None:
        return None
    return cache_root() / f"onednn-{hashlib.sha1(key.encode()).hexdigest()[:16]}.txt"


def onednn_version(probe: bool = False, timeout: float = 120.0) -> str | None:
    """This libmxnet's oneDNN version from the cache; with `probe`, measured when not cached."""
    cache = _version_cache()
    if cache is not None:
        try:
            return cache.read_text().strip() or None
        except OSError:  # not cached yet, or a cache folder this user may not read (EACCES)
            pass
    return _probe(cache, timeout) if probe else None


def probe_onednn_version(timeout: float = 120.0) -> str | None:
    """oneDNN's version from its verbose header: libmxnet 1.9.1 exports no version symbol.

    One convolution in a throwaway process with DNNL_VERBOSE=1 (verbose output in the measured
    workers would distort their timing); None when MKL-DNN is absent or prints no header. The
    answer is cached per libmxnet path, size and mtime, so only the first call pays.
    """
    return onednn_version(probe=True, timeout=timeout)


def _probe(cache: Path | None, timeout: float) -> str | None:
    from mxprof.workers.process import worker_env
    from mxprof.workers.protocol import WorkerSpec, run_worker

    env = worker_env(mkldnn=True, extra={"DNNL_VERBOSE": "1", "MKLDNN_VERBOSE": "1"})
    with temp_dir("onednn") as tmp:
        res = run_worker(WorkerSpec(module=PROBE_MODULE, name="onednn-probe", spec={},
                                    workdir=Path(tmp), env=env, timeout=timeout,
                                    keep_stdout=True, tail_lines=6))
        m = _VERSION.search(res.stdout_text())
    version = m.group(1) if m else None
    if cache is not None and res.ok:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            from mxprof.jsonio import write_text

            write_text(cache, version or "")
        except OSError:
            pass  # a read-only home only costs the probe next time
    return version


def fingerprint(probe_onednn: bool = False) -> Environment:
    """Host plus MXNet facts, for use inside a process that has imported MXNet.

    The oneDNN version comes from the cache; `probe_onednn` runs the probe when it is empty.
    """
    env = host_fingerprint()
    if "mxnet" in sys.modules:
        env = env.with_mxnet(mxnet_fingerprint())
    return env.with_onednn_version(onednn_version(probe=probe_onednn))
