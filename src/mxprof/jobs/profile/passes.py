"""What each pass of a profile worker measures, inside the worker process (mxprof.jobs.profile.worker).

`run_pass(mx, block, spec, scratch, verbose_log, env)` runs one pass of `spec` on the built
model and returns the RunResult fields it fills:
- "timing": first call, warm-up, then the native timer (`timed`) at batch 1 and at the
  throughput batch, with the threads that worked; the companion checks' measurements when the
  spec asks for them (mxprof.jobs.profile.companions);
- "operators": MXNet's profiler per operator type (bulk execution off, set by the runner);
- "layers": per-layer times from the per-layer hooks (mxprof.mx.layers);
- "primitives": oneDNN's verbose lines of a few iterations (stdout is the log), attributed to
  layers, with what the diagnosis needs (per-primitive work, subnormal parameters).
Nothing here imports MXNet or numpy at module level: the worker binds its CPUs first.
"""

from __future__ import annotations

import ctypes
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from mxprof.jobs.profile.spec import Protocol, RunSpec

__all__ = ["LAYER_MIN_ITERATIONS", "caller", "flush_c_stdout", "make_input", "run_layers",
           "run_operators", "run_pass", "run_primitives", "run_timing", "timed"]


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


def make_input(mx, spec: RunSpec, batch: int):
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


def caller(net, x):
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
    latency = timed(caller(net, make_input(mx, spec, 1)), warmup=p.warmup, iterations=p.iterations,
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
        thr = timed(caller(net, make_input(mx, spec, batch)), warmup=p.throughput_warmup,
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
    call = caller(net, make_input(mx, spec, spec.breakdown))
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
    x = make_input(mx, spec, spec.breakdown)
    t0 = time.perf_counter()
    caller(net, x)()
    # At least LAYER_MIN_ITERATIONS (up to breakdown_iterations): each layer's iterations are
    # what `mxprof diff` resamples, and 3 cannot give an interval.
    n = max(_breakdown_iterations(spec, (time.perf_counter() - t0) * 1e3),
            min(LAYER_MIN_ITERATIONS, spec.breakdown_iterations))
    profile = _plain(collect_layer_times(net, x, iterations=n, warmup=2))
    trace = layer_trace_events(profile)
    profile.pop("windows", None)  # thousands of rows: the trace keeps one iteration of them
    return {"layers": profile, "trace": trace}


def flush_c_stdout() -> None:
    sys.stdout.flush()
    ctypes.CDLL(None).fflush(None)  # oneDNN prints with C stdio: flush its buffer into the log


def run_primitives(mx, net, spec: RunSpec, log: Path) -> dict[str, Any]:
    """A few iterations with DNNL_VERBOSE=1 (stdout is the log); per-layer windows from the
    same iterations attribute each primitive to its layer."""
    from mxprof.host.environment import onednn_version_from_log
    from mxprof.mx.layers import collect_layer_times
    from mxprof.onednn import attribution, verbose
    x = make_input(mx, spec, spec.breakdown)
    iterations = 3
    profile = collect_layer_times(net, x, iterations=iterations, warmup=1)
    mx.nd.waitall()
    flush_c_stdout()
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


def run_pass(mx, block, spec: RunSpec, scratch: Path, verbose_log: Path | None,
              env: dict[str, Any]) -> dict[str, Any]:
    if spec.pass_name == "timing":
        fields = run_timing(mx, block, spec)
        if spec.companions:
            from mxprof.jobs.profile.companions import run_companions
            t0 = time.perf_counter()
            fields["companions"] = run_companions(mx, block, spec, scratch, timed=timed,
                                                  caller=caller, make_input=make_input)
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
                mx, block, spec, verbose_log, caller=caller, make_input=make_input,
                flush=flush_c_stdout)}
        return fields
    raise ValueError(f"unknown pass {spec.pass_name!r}")

