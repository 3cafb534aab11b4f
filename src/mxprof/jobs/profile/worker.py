"""One configuration in its own process: `python -m mxprof.jobs.profile.worker SPEC.json RESULT.json`.

The spec is {"runs": [RunSpec, ...]}: one configuration's passes that share this process
(`mxprof.jobs.profile.runner.group_specs` says which may, and why). The runner sets the
environment of the first (MXNET_MKLDNN_ENABLED, OMP_NUM_THREADS, KMP_*, bulk execution,
DNNL_VERBOSE) before this process starts, so libmxnet reads it when it loads. Here, before
importing MXNet, the process binds itself to the requested CPUs and NUMA memory (threads created
later, OpenMP's included, inherit that). Then it builds the model once and runs each pass (see
`mxprof.jobs.profile.spec`), writing {"results": [RunResult, ...]} through the one worker
protocol after every pass (`mxprof.workers.protocol.checkpoint`): a Python error, a native
crash or a hang in a pass leaves the results of the passes before it, and the runner records
the failure of the rest. Each result's `phases` says where its seconds went (start-up, MXNet
import, model build, first call, warm-up, timed calls, the pass), for bench/processes_cost.py.

For the "primitives" pass the runner points this process's stdout (fd 1, where oneDNN prints its
verbose lines from C) at the log file named by `--verbose-log`; nothing else is printed there.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec


def _plain(obj: Any) -> Any:
    """Records (dataclasses, DataFrames) as JSON-ready values."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "to_dict") and not hasattr(obj, "to_records"):
        return obj.to_dict()
    if hasattr(obj, "to_records"):  # pandas DataFrame
        return obj.reset_index().to_dict(orient="records")
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _bind(spec: RunSpec, notes: list[str]) -> dict[str, Any] | None:
    if spec.cpus is None and spec.membind is None and not spec.physical_only:
        return None
    from mxprof.cpu.binding import bind
    binding = bind(spec.cpus, spec.membind, physical_only=spec.physical_only)
    notes.extend(binding.warnings)
    return binding.to_dict()


def timed(fn, *, warmup: int, iterations: int | None, min_time: float, min_iterations: int,
          max_iterations: int) -> dict[str, Any]:
    """First call, warm-up, then the native timer over enough calls to fill `min_time`.

    The first call is timed apart: it builds the cached graph and creates oneDNN primitives.
    `phase_s` holds the seconds of each step {first_call, warmup, timed}.
    """
    t0 = time.perf_counter_ns()
    fn()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    estimate_ms = first_ms
    warm_ms, warmed = 0.0, 0
    # Up to `warmup` calls, but stop once they have taken `min_time`: for a slow configuration
    # (MKL-DNN off at batch 8 runs seconds per call) one steady call is warm-up enough.
    while warmed < warmup and (warmed == 0 or warm_ms < min_time * 1e3):
        t0 = time.perf_counter_ns()
        fn()
        estimate_ms = (time.perf_counter_ns() - t0) / 1e6
        warm_ms += estimate_ms
        warmed += 1
    if iterations is None:
        wanted = math.ceil(min_time * 1e3 / max(estimate_ms, 1e-3))
        iterations = max(min_iterations, min(max_iterations, wanted))
    # Imported here, not at module level: numpy would start its BLAS threads before _bind.
    from mxprof.timing.clock import describe_clock
    from mxprof.timing.timer import measure
    t0 = time.perf_counter()
    m = measure(fn, repeat=iterations, warmup=0)
    phase_s = {"first_call": first_ms / 1e3, "warmup": warm_ms / 1e3,
               "timed": time.perf_counter() - t0}
    return {**m.stats.to_dict(unit="ms"), "samples_ms": [float(s) / 1e6 for s in m.samples_ns],
            "first_call_ms": first_ms, "phase_s": phase_s,
            "protocol": {"warmup": warmed, "iterations": iterations, "min_time_s": min_time,
                         "timer": "mxprof native timer", "clock": describe_clock()}}


def _input(mx, spec: RunSpec, batch: int):
    """Fixed random data of each input's dtype and range (token ids, noise, images): the
    values do not change the work done. One array for a one-input model, else a tuple."""
    from mxprof.mx.inputs import random_arrays
    arrays = [mx.nd.array(a, dtype=a.dtype)
              for a in random_arrays(spec.model.input_specs, batch, seed=0)]
    return arrays[0] if len(arrays) == 1 else tuple(arrays)


def _flat(out):
    if isinstance(out, (list, tuple)):
        for item in out:
            yield from _flat(item)
    else:
        yield out


def _caller(net, x):
    """One inference call that returns when every output is computed (detection nets return
    several arrays: ids, scores, boxes)."""
    args = x if isinstance(x, tuple) else (x,)

    def call():
        for array in _flat(net(*args)):
            array.wait_to_read()
    return call


def run_timing(mx, net, spec: RunSpec) -> dict[str, Any]:
    from mxprof.cpu.threads import task_times, thread_usage
    p: Protocol = spec.protocol
    before, t0 = task_times(), time.perf_counter()
    latency = timed(_caller(net, _input(mx, spec, 1)), warmup=p.warmup, iterations=p.iterations,
                    min_time=p.min_time, min_iterations=p.min_iterations,
                    max_iterations=p.max_iterations)
    # Which threads worked during the batch-1 timing (the threads finding of the diagnosis).
    latency["threads"] = thread_usage(before, task_times(), time.perf_counter() - t0,
                                      len(os.sched_getaffinity(0)))
    batch = spec.batch_size
    if batch == 1:
        # Throughput at batch 1 is the latency measurement itself: timing the same calls again
        # doubled the cost of batch-1 runs (7 s a call for Faster R-CNN without MKL-DNN).
        thr = {k: v for k, v in latency.items() if k != "threads"}
        phases = dict(latency["phase_s"])
    else:
        thr = timed(_caller(net, _input(mx, spec, batch)), warmup=p.throughput_warmup,
                    iterations=p.iterations, min_time=p.min_time,
                    min_iterations=p.throughput_min_iterations, max_iterations=p.max_iterations)
        phases = {k: latency["phase_s"][k] + thr["phase_s"][k] for k in latency["phase_s"]}
    throughput = {"batch_size": batch, "images_per_s": batch * 1e3 / thr["median"],
                  "batch_ms": thr}
    return {"latency": latency, "throughput": throughput, "phases": phases}


def _breakdown_iterations(spec: RunSpec, per_call_ms: float) -> int:
    """Enough iterations for `min_time`, between 3 and `breakdown_iterations` (slow nets)."""
    wanted = math.ceil(spec.protocol.min_time * 1e3 / max(per_call_ms, 1e-3))
    return max(3, min(spec.breakdown_iterations, wanted))


def run_operators(mx, net, spec: RunSpec, scratch: Path) -> dict[str, Any]:
    """MXNet's profiler per operator type, bulk execution off (the runner sets it) so operators
    are not merged; its latency is timed too, to show what turning bulk off costs."""
    from mxprof.mx.operators import collect_aggregate, operator_breakdown, trace_one_iteration
    call = _caller(net, _input(mx, spec, spec.breakdown))
    latency = timed(call, warmup=spec.protocol.warmup, iterations=None,
                    min_time=spec.protocol.min_time / 2, min_iterations=3,
                    max_iterations=spec.breakdown_iterations)
    n = _breakdown_iterations(spec, latency["median"])
    # The trace first: MXNet's profiler writes to the file name of its first run only.
    trace = trace_one_iteration(call, str(scratch / "mxnet-trace.json"))
    aggregate = collect_aggregate(call, n, trace_file=str(scratch / "mxnet-trace.json"))
    return {
        "latency": latency,
        "operators": {**operator_breakdown(aggregate, n).to_dict(),
                      "source": "mx.profiler aggregate_stats, bulk execution off"},
        "trace": trace,
    }


LAYER_MIN_ITERATIONS = 10


def run_layers(mx, net, spec: RunSpec) -> dict[str, Any]:
    """Per-layer times from the per-layer hooks (mxprof.mx.layers; the runner set its LAYER_ENV),
    and one iteration of layer windows as the trace."""
    from mxprof.mx.layers import collect_layer_times
    from mxprof.mx.operators import layer_trace_events
    x = _input(mx, spec, spec.breakdown)
    t0 = time.perf_counter()
    _caller(net, x)()
    # At least LAYER_MIN_ITERATIONS (up to breakdown_iterations): each layer's iterations are
    # what `mxprof diff` resamples, and 3 cannot give an interval.
    n = max(_breakdown_iterations(spec, (time.perf_counter() - t0) * 1e3),
            min(LAYER_MIN_ITERATIONS, spec.breakdown_iterations))
    profile = _plain(collect_layer_times(net, x, iterations=n, warmup=2))
    trace = layer_trace_events(profile)
    profile.pop("windows", None)  # thousands of rows: the trace keeps one iteration of them
    return {"layers": profile, "trace": trace}


def _flush_c_stdout() -> None:
    sys.stdout.flush()
    ctypes.CDLL(None).fflush(None)  # oneDNN prints with C stdio: flush its buffer into the log


def run_primitives(mx, net, spec: RunSpec, log: Path) -> dict[str, Any]:
    """A few iterations with DNNL_VERBOSE=1 (stdout is the log); per-layer windows from the
    same iterations attribute each primitive to its layer."""
    from mxprof.host.environment import onednn_version_from_log
    from mxprof.mx.layers import collect_layer_times
    from mxprof.onednn import attribution, verbose
    x = _input(mx, spec, spec.breakdown)
    iterations = 3
    profile = collect_layer_times(net, x, iterations=iterations, warmup=1)
    mx.nd.waitall()
    _flush_c_stdout()
    vlog = verbose.parse(str(log))
    attributed = attribution.attribute_primitives(profile, vlog.to_pandas())
    # Only the timed iterations: the warm-up call creates primitives and reorders weights.
    timed = attributed[attributed["iteration"] >= 0]
    out: dict[str, Any] = {
        "iterations": iterations,
        "onednn_version": onednn_version_from_log(str(log)),
        "header": _plain(vlog.header),
        "totals": _plain(vlog.totals()),
        "by_layer": _plain(attribution.summarize_by_layer(attributed, iterations).head(40)),
        "reorders": _plain(attribution.reorder_report(attributed, iterations)),
    }
    by_kind = verbose.summarize(timed, by=("kind",)).reset_index()
    n = iterations
    out["by_kind"] = [{"kind": str(r["kind"]), "count": float(r["count"]) / n,
                       "ms": float(r["total_ms"]) / n, "percent": float(r["percent"]),
                       "mean_ms": float(r["mean_ms"])} for _, r in by_kind.iterrows()]
    out["reorder_share"] = verbose.reorder_share(timed)
    out.update(_diagnosis_inputs(net, attributed, iterations))
    return out


def _diagnosis_inputs(net, attributed, iterations: int) -> dict[str, Any]:
    """What the roofline and the findings need from this run (mxprof.jobs.profile.diagnose):
    per-primitive work (flops, bytes; the ceilings are applied in the parent) and the
    parameters holding subnormal values."""
    from mxprof.onednn import findings
    from mxprof.onednn.work import primitive_work
    work = primitive_work(attributed, iterations)
    params = {}
    for name, param in net.collect_params().items():
        try:
            params[name] = param.data().asnumpy()
        except RuntimeError:  # uninitialised (MXNetError is a RuntimeError): nothing to count
            continue
    return {"work": _plain(work), "subnormals": findings.parameter_subnormals(params),
            "params_checked": len(params)}


def _fuse(mx, loaded, spec: RunSpec, notes: list[str]):
    """The "fused" configuration (compare): oneDNN subgraph fusion, as deployed. MXNet < 1.7
    has no optimize_for, and its MXNET_SUBGRAPH_BACKEND does not reach Gluon's cached graph
    (checked: conv, BatchNorm and ReLU stay three primitives in 1.5.1 and 1.6.0), so there the
    symbol is partitioned with get_backend_symbol and run as a SymbolBlock on the same params."""
    import dataclasses
    net = loaded.block
    if hasattr(net, "optimize_for"):
        net.optimize_for(_input(mx, spec, 1), backend="MKLDNN", static_alloc=True,
                         static_shape=True)
        return loaded
    data = mx.sym.var("data")
    out = net(data)
    sym = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
    block = mx.gluon.SymbolBlock(sym.get_backend_symbol("MKLDNN"), data,
                                 params=net.collect_params())
    block.hybridize(static_alloc=True, static_shape=True)
    notes.append(f"fused: MXNet {mx.__version__} has no optimize_for; graph partitioned with "
                 "get_backend_symbol('MKLDNN')")
    return dataclasses.replace(loaded, block=block)


# RunSpec.test_hook (profile --test-hook) as a fault of the worker protocol, acted out right
# before its pass: the first pass's before MXNet loads, as for a worker of its own.
HOOK_FAULTS = {"abort": "crash-before", "hang": "hang", "raise": "raise"}


def _start(spec: RunSpec, notes: list[str], weights: dict[str, Any] | None = None):
    """Bind, set the reference's RNN switch, import MXNet, build the model: (mx, loaded, env,
    phases) for every pass of this process. `weights` (the runner's, "shared" layout):
    {"save": path} to write the weights built here for the workers after this one, or
    {"load": path, "weights": label, "weights_path": path} to load them from the file the
    first worker wrote (same values in every process; the label stays the first one's)."""
    started = time.monotonic()
    binding = _bind(spec, notes)
    from mxprof.mx.rnn import RNN_REFERENCE_ENV, RNN_REFERENCE_NOTE, has_rnn
    if not spec.mkldnn and has_rnn(spec.model):
        os.environ.update(RNN_REFERENCE_ENV)  # libmxnet is not loaded yet: it reads these
        notes.append(RNN_REFERENCE_NOTE)
    from mxprof.host import environment
    # Before MXNet loads: OpenMP pins the calling thread to its first place at start-up, so the
    # process's own affinity is only visible now.
    host = environment.host_fingerprint()
    t0 = time.monotonic()
    import mxnet as mx

    t1 = time.monotonic()
    from mxprof.jobs.profile.companions import load_model
    loaded = load_model(spec, weights or {})
    if spec.config == "fused":
        loaded = _fuse(mx, loaded, spec, notes)
    # The oneDNN version from the cache the parent filled (`environment.onednn_version`).
    env = host.with_mxnet(environment.mxnet_fingerprint()).with_onednn_version(
        environment.onednn_version()).to_dict()
    if binding is not None:
        env["binding"] = binding
    phases = {"start": t0 - started, "import": t1 - t0, "build": time.monotonic() - t1}
    return mx, loaded, env, phases


def _join(spec: RunSpec, block) -> None:
    """Make this process what a worker of its own would be for `spec`, a pass that joined
    (mxprof.jobs.profile.runner.JOINS): bulk execution off for the operators pass, read when
    the fresh CachedOp builds its segments (hybridize drops the old one)."""
    from mxprof.jobs.profile.runner import BULK_OFF
    if spec.pass_name == "operators":
        os.environ.update(BULK_OFF)
        block.hybridize(static_alloc=True, static_shape=True)


def _run_pass(mx, block, spec: RunSpec, scratch: Path, verbose_log: Path | None,
              env: dict[str, Any]) -> dict[str, Any]:
    if spec.pass_name == "timing":
        fields = run_timing(mx, block, spec)
        if spec.companions:
            from mxprof.jobs.profile.companions import run_companions
            t0 = time.perf_counter()
            fields["companions"] = run_companions(mx, block, spec, scratch, timed=timed,
                                                  caller=_caller, make_input=_input)
            fields["phases"]["companions"] = time.perf_counter() - t0
        return fields
    if spec.pass_name == "operators":
        return run_operators(mx, block, spec, scratch)
    if spec.pass_name == "layers":
        return run_layers(mx, block, spec)
    if spec.pass_name == "primitives":
        if verbose_log is None:
            raise ValueError("the primitives pass needs --verbose-log (the worker's stdout file)")
        fields = {"primitives": run_primitives(mx, block, spec, verbose_log)}
        env["onednn_version"] = fields["primitives"]["onednn_version"]
        if "fusion_trace" in spec.companions:
            from mxprof.jobs.profile.companions import fusion_trace
            fields["companions"] = {"fusion_trace": fusion_trace(
                mx, block, spec, verbose_log, caller=_caller, make_input=_input,
                flush=_flush_c_stdout)}
        return fields
    raise ValueError(f"unknown pass {spec.pass_name!r}")


def run_all(specs: list[RunSpec], *, scratch: Path, verbose_log: Path | None = None,
            after_each=lambda results: None, weights: dict[str, Any] | None = None
            ) -> list[RunResult]:
    """Every pass of `specs` in this process, in order; `after_each(results so far)` after
    each pass (the worker writes them, so a later crash cannot take them); `weights`: see
    `_start`."""
    started = time.monotonic()
    notes: list[str] = []
    from mxprof.workers.protocol import apply_fault
    apply_fault(HOOK_FAULTS.get(specs[0].test_hook or ""))
    mx, loaded, env, start_phases = _start(specs[0], notes, weights)
    results: list[RunResult] = []
    for i, spec in enumerate(specs):
        if i:
            apply_fault(HOOK_FAULTS.get(spec.test_hook or ""))
            _join(spec, loaded.block)
        t0 = time.monotonic()
        fields = _run_pass(mx, loaded.block, spec, scratch, verbose_log, env)
        if spec.pass_name in ("layers", "primitives"):
            from mxprof.mx.rnn import has_rnn
            if has_rnn(spec.model):
                from mxprof.mx.layers import STATEFUL_NOTE
                notes.append(STATEFUL_NOTE)
        phases = {**(start_phases if i == 0 else {}), **fields.get("phases", {}),
                  "pass": time.monotonic() - t0}
        results.append(RunResult(
            spec=spec, status="ok", wall_s=time.monotonic() - (started if i == 0 else t0),
            environment=dict(env), weights=loaded.weights, weights_path=loaded.weights_path,
            param_count=loaded.param_count, latency=fields.get("latency"),
            throughput=fields.get("throughput"), operators=fields.get("operators"),
            layers=fields.get("layers"), primitives=fields.get("primitives"),
            trace=fields.get("trace"), notes=tuple(notes), phases=phases,
            companions=fields.get("companions"),
            shared_with=tuple(s.pass_name for s in specs if s is not spec)))
        after_each(results)
    return results


def run(spec: RunSpec, *, scratch: Path, verbose_log: Path | None = None) -> RunResult:
    """One pass in this process (`run_all` of one spec)."""
    return run_all([spec], scratch=scratch, verbose_log=verbose_log)[0]


def _run_spec(data: dict[str, Any]) -> dict[str, Any]:
    from mxprof.workers.protocol import checkpoint
    options = data.get("_options") or {}
    specs = [RunSpec.from_dict(r) for r in data["runs"]]
    log = options.get("verbose_log")

    def write(results: list[RunResult]) -> None:
        checkpoint(data, {"results": [r.to_dict() for r in results]})

    results = run_all(specs, scratch=Path(data["_workdir"]),
                      verbose_log=Path(log) if log else None, after_each=write,
                      weights=data.get("weights"))
    return {"results": [r.to_dict() for r in results]}


def main(argv: list[str] | None = None) -> int:
    from mxprof.workers.protocol import worker_main

    return worker_main(_run_spec, argv, options=("--verbose-log",))


if __name__ == "__main__":
    raise SystemExit(main())
