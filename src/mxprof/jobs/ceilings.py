"""The machine's ceilings for one binding: measured once in a worker process, then cached.

`machine_ceilings(cpus, threads)` returns {theoretical, measured, cache, ...}: the theoretical
peaks from `mxprof.cpu.ceilings`, and the figures `mxprof.mx.ceilings_worker` measured in a
fresh process with MKL-DNN on, bound to `cpus` with `threads` OpenMP threads (the profile's own
settings). The measurement is cached per machine fingerprint and binding
(`mxprof.cpu.ceilings.cache_key`); `refresh=True` measures again. A failed worker leaves
`measured` None and says why in `error`: the theoretical figures still stand.

`roof(result)` gives the `mxprof.onednn.roofline.Ceilings` the roofline uses: the best measured
repetitions (what oneDNN reaches here), None when nothing was measured.

Other load only ever lowers a measured rate, and a cached roof that is too low inflates every
later efficiency (a roof measured while ten processes shared two CPUs once put resnet50's
convolutions at 600% of it). So the worker runs under the one busy rule (`mxprof.cpu.load`), the
record keeps its `machine_load`, and a cached measurement taken on a busy machine is measured
again rather than reused; a fresh one taken while busy is kept but carries a `warning`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mxprof.cpu import ceilings as cpu_ceilings
from mxprof.cpu.load import LoadMonitor
from mxprof.files import temp_dir
from mxprof.onednn.roofline import Ceilings
from mxprof.workers.process import python_command, run_process, worker_env


def _libmxnet() -> str | None:
    import importlib.util
    spec = importlib.util.find_spec("mxnet")
    if spec is None or not spec.origin:
        return None
    lib = Path(spec.origin).parent / "libmxnet.so"
    if not lib.exists():
        return None
    st = lib.stat()
    return f"{lib}|{st.st_size}|{st.st_mtime_ns}"


def _parse_cpus(cpus: str | None) -> tuple[int, ...] | None:
    if not cpus:
        return None
    from mxprof.cpu.cpulist import parse_cpu_list
    return tuple(parse_cpu_list(cpus))


def measure(cpus: str | None, threads: int | None, *, reps: int = 5, size: int = 1024,
            rep_time: float = 0.3, timeout: float = 600.0) -> tuple[dict | None, str | None]:
    """(measured figures, None) from one worker process, or (None, why it failed)."""
    env = worker_env(mkldnn=True, threads=threads)
    with temp_dir("ceilings") as tmp:
        out = Path(tmp) / "ceilings.json"
        args = ["-m", "mxprof.mx.ceilings_worker", str(out), "--reps", str(reps),
                "--size", str(size), "--rep-time", str(rep_time)]
        if cpus:
            args += ["--cpus", cpus]
        monitor = LoadMonitor.start()
        outcome = run_process(python_command(args), env=env, timeout=timeout)
        load = monitor.stop("ceilings") if monitor else None
        if not outcome.ok or not out.exists():
            return None, f"ceilings worker {outcome.description}: {outcome.stderr_tail[-500:]}"
        measured = json.loads(out.read_text())
        measured["machine_load"] = load.to_dict() if load else None
        return measured, None


def busy_warning(measured: dict[str, Any] | None) -> str | None:
    """Why these measured ceilings are too low to trust, or None: they were taken while other
    processes used more than the busy rule's share of the CPUs."""
    load = (measured or {}).get("machine_load")
    if not load or not load.get("busy"):
        return None
    return (f"the ceilings were measured while other processes used "
            f"{load['other_cpu_fraction']:.0%} of the CPU time: the roofs are too low and "
            f"efficiencies too high; measure again on a quiet machine (--refresh-ceilings)")


def machine_ceilings(cpus: str | None = None, threads: int | None = None, *,
                     refresh: bool = False, measure_missing: bool = True,
                     **options: Any) -> dict[str, Any]:
    """Theoretical and measured ceilings for this binding (see module docstring).

    measure_missing=False: use the cache only, never start a worker (measured None if absent).
    """
    cpu_ids = _parse_cpus(cpus)
    theory = cpu_ceilings.theoretical(cpu_ids, threads)
    key = cpu_ceilings.cache_key(cpu_ids, threads, libmxnet=_libmxnet())
    result: dict[str, Any] = {"cpus": cpus, "threads": threads, "theoretical": theory,
                              "measured": None, "cache": {"key": key, "hit": False,
                                                          "path": None}, "error": None,
                              "warning": None}
    cached = None if refresh else cpu_ceilings.load_cached(key)
    if cached is not None and busy_warning(cached.get("measured")):
        cached = None  # measured on a busy machine: never reused, measured again now
    if cached is not None:
        result["measured"] = cached.get("measured")
        result["cache"].update(hit=True, path=str(cpu_ceilings.cache_path(key)),
                               measured_at=cached.get("measured_at"))
        return result
    if not measure_missing:
        return result
    measured, error = measure(cpus, threads, **options)
    result["measured"], result["error"] = measured, error
    result["warning"] = busy_warning(measured)
    if measured is not None and result["warning"]:
        # Shown once with its warning, never cached: a roof measured under load is too low
        # for every later roofline on this machine.
        result["cache"]["not_cached"] = "measured on a busy machine"
    elif measured is not None:
        import datetime as dt
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        path = cpu_ceilings.store(key, {"measured": measured, "measured_at": stamp})
        result["cache"].update(path=str(path) if path else None, measured_at=stamp)
    return result


def above_theory(result: dict[str, Any]) -> str | None:
    """What a measured peak above the theoretical one says: the theoretical figure's clock or
    FLOP-per-cycle assumption is off (a turbo clock above the frequency read, more FMA units
    than assumed); None when every measured peak is at or below its theory."""
    t, m = result.get("theoretical") or {}, result.get("measured") or {}
    over = [(kind, m[kind]["median"] / t["peak_gflops"][kind]) for kind in ("f32", "int8")
            if m.get(kind) and (t.get("peak_gflops") or {}).get(kind)
            and m[kind]["median"] > t["peak_gflops"][kind]]
    if not over:
        return None
    what = ", ".join(f"{kind} {ratio:.0%}" for kind, ratio in over)
    return (f"measured above the theoretical peak ({what}): the theoretical figure's "
            f"assumptions are off, its clock ({t.get('ghz') or '?'} GHz from "
            f"{t.get('frequency_source') or '?'}; turbo runs faster) or its FLOP per cycle; "
            "the roofline uses the measured roof")


def roof(result: dict[str, Any]) -> Ceilings | None:
    """The roofs: the best measured repetition of each figure (other load only ever lowers a
    rate, so the maximum is the closest to what the machine can do; the spread is kept beside
    it); None when nothing was measured (no roofline without a bandwidth)."""
    m = result.get("measured")
    if m:
        return Ceilings({"f32": m["f32"]["max"], "int8": m["int8"]["max"]},
                        m["bandwidth"]["max"], "measured, best repetition")
    return None
