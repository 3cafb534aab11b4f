"""The machine's ceilings for one binding: measured once in a worker process, then cached.

`machine_ceilings(cpus, threads)` returns {theoretical, measured, cache, ...}: the theoretical
peaks from `mxprof.cpu.ceilings`, and the figures `mxprof.jobs.ceilings.worker` measured in a
fresh process with MKL-DNN on, bound to `cpus` with `threads` OpenMP threads (the profile's own
settings). The measurement is cached per machine fingerprint and binding
(`mxprof.cpu.ceilings.cache_key`); `refresh=True` measures again. A failed worker leaves
`measured` None and says why in `error`: the theoretical figures still stand.

The job contract (mxprof.jobs.contract): `Options`, `plan(options) -> CeilingsPlan` (one step,
or none when the cache holds the figures), `run(plan, on_event) -> CeilingsResult` (kind
"ceilings", what `mxprof ceilings --json` writes).

`roof(result)` gives the `mxprof.onednn.roofline.Ceilings` the roofline uses: the best measured
repetitions (what oneDNN reaches here), None when nothing was measured.

Other load only ever lowers a measured rate, and a cached roof that is too low inflates every
later efficiency (a roof measured while ten processes shared two CPUs once put resnet50's
convolutions at 600% of it). So the worker runs under the one busy rule (`mxprof.cpu.load`), the
record keeps its `machine_load`, and a cached measurement taken on a busy machine is measured
again rather than reused; a fresh one taken while busy is kept but carries a `warning`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from mxprof.cpu import ceilings as cpu_ceilings
from mxprof.cpu.load import LoadMonitor
from mxprof.cpu.placement import Placement
from mxprof.events import Finished, OnEvent, Started, ignore
from mxprof.files import temp_dir
from mxprof.jobs.contract import Plan, Result, Step
from mxprof.onednn.roofline import Ceilings
from mxprof.schema import Record
from mxprof.workers.process import worker_env
from mxprof.workers.protocol import WorkerSpec, run_worker

WORKER = "mxprof.jobs.ceilings.worker"  # beside this job, under the one protocol


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
            rep_time: float = 0.3, timeout: float = 600.0, wait_policy: str | None = None
            ) -> tuple[dict | None, str | None]:
    """(measured figures, None) from one worker process, or (None, why it failed).
    `wait_policy`: the OpenMP wait policy the caller decided ("active" | "passive"; None:
    decided here, "auto")."""
    env = worker_env(mkldnn=True, threads=threads, wait_policy=wait_policy)
    spec = {"cpus": cpus, "reps": reps, "size": size, "rep_time": rep_time}
    with temp_dir("ceilings") as tmp:
        monitor = LoadMonitor.start()
        res = run_worker(WorkerSpec(module=WORKER, name="ceilings", spec=spec,
                                    workdir=Path(tmp), env=env, timeout=timeout))
        load = monitor.stop("ceilings") if monitor else None
    if not res.ok or res.data is None:
        return None, f"ceilings {res.error}: {res.stderr_tail[-500:]}"
    return {**res.data, "machine_load": load.to_dict() if load else None}, None


def busy_warning(measured: dict[str, Any] | None) -> str | None:
    """Why these measured ceilings are too low to trust, or None: they were taken while other
    processes used more than the busy rule's share of the CPUs."""
    load = (measured or {}).get("machine_load")
    if not load or not load.get("busy"):
        return None
    return (f"the ceilings were measured while other processes used "
            f"{load['other_cpu_fraction']:.0%} of the CPU time: the roofs are too low and "
            f"efficiencies too high; measure again on a quiet machine (--refresh-ceilings)")


def _with_versions(measured: dict[str, Any] | None) -> dict[str, Any] | None:
    """Figures an older mxprof cached hold no MXNet/oneDNN versions: the cache key names this
    libmxnet, so they are this installation's (the package's version, the cached probe's)."""
    if not measured or "mxnet" in measured:
        return measured
    from importlib import metadata

    from mxprof.host.environment import onednn_version
    try:
        mxnet = metadata.version("mxnet")
    except metadata.PackageNotFoundError:
        mxnet = None
    return {**measured, "mxnet": mxnet, "onednn": onednn_version()}


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
        result["measured"] = _with_versions(cached.get("measured"))
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


# --- the ceilings job on the one contract (mxprof.jobs.contract) ----------------------------


class Options(msgspec.Struct, frozen=True, kw_only=True):
    """What `mxprof ceilings` takes (its defaults): the binding to measure under, whether to
    ignore the cache, repetitions per figure, the FullyConnected size M=N=K, the timeout."""

    cores: str | None = None
    threads: int | str | None = None
    refresh: bool = False
    reps: int = 5
    size: int = 1024
    timeout: float = 600.0


class CeilingsResult(Result, Record, frozen=True, kw_only=True):
    """`mxprof ceilings --json`: theoretical peaks, the measured figures (None when the worker
    failed: `error` says why), the cache entry used or stored, and a busy-machine `warning`."""

    kind: str = "ceilings"
    cpus: str | None = None
    threads: int | None = None
    theoretical: dict[str, Any]
    measured: dict[str, Any] | None = None
    cache: dict[str, Any]
    error: str | None = None
    warning: str | None = None

    @property
    def failed(self) -> bool:
        return self.measured is None


class CeilingsPlan(Plan, kw_only=True):
    kind: str = "ceilings"
    options: Options
    threads: int | None = None
    cached: bool = False
    # The measuring worker's binding, its wait policy decided by the plan (None when the cache
    # holds the figures: nothing runs, no window is spent).
    placement: Placement | None = None


def plan(options: Options) -> CeilingsPlan:
    """Check `options`; one step, the measuring worker, unless the cache holds the figures.
    Raises UsageError for bad input."""
    from mxprof.errors import UsageError
    from mxprof.jobs.binding import resolve, warnings
    if options.reps < 1 or options.size < 16 or (
            isinstance(options.threads, int) and options.threads < 1):
        raise UsageError("--reps and --threads must be >= 1, --size >= 16")
    placement = resolve(options.cores, None, options.threads, decide_wait=False)
    threads = placement.threads
    cached = not options.refresh and machine_ceilings(
        options.cores, threads, measure_missing=False)["measured"] is not None
    if not cached:  # the worker will run: its wait policy decided once, here
        placement = resolve(options.cores, None, options.threads)
    steps = [] if cached else [Step(label="ceilings", what=(
        f"f32/int8 FullyConnected {options.size}^3 and a STREAM triad, {options.reps} reps "
        f"each, {threads or 'runtime'} threads, cores {options.cores or 'not bound'}"),
        seconds=15.0)]
    return CeilingsPlan(options=options, threads=threads, cached=cached, steps=steps,
                        placement=None if cached else placement,
                        notes=(["the cache holds these figures: nothing to measure"]
                               if cached else []) + warnings(placement))


def run(plan: CeilingsPlan, on_event: OnEvent = ignore, *, on_partial=None) -> CeilingsResult:
    """The ceilings of the plan's binding: cached, else measured by one worker (a failed one
    leaves `measured` None and says why in `error`)."""
    import time
    o = plan.options
    began = time.monotonic()
    for step in plan.steps:
        on_event(Started(label=step.label, index=1, total=len(plan.steps)))
    result = machine_ceilings(o.cores, plan.threads, refresh=o.refresh, reps=o.reps,
                              size=o.size, timeout=o.timeout,
                              wait_policy=plan.placement.wait_policy if plan.placement else None)
    for step in plan.steps:
        on_event(Finished(label=step.label, status="ok" if result["measured"] else "failed",
                          seconds=time.monotonic() - began, index=1, total=len(plan.steps),
                          error=result.get("error")))
    return CeilingsResult.from_dict(result)
