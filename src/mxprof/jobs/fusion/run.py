"""Runs the fusion workers and assembles the report: `run_fusion(FusionOptions) -> dict`.

Workers, one process each and one after another (2-core machines must not time two at once):
unfused timing (saves the weights every later worker loads), fused timing, unfused and fused
traces (`DNNL_VERBOSE=1`, separate because verbose output slows every primitive), then one fused
timing per fusion switch turned off. The report is a JSON-ready dict (schema 1); renderers in
`mxprof.render.fusion` read the same dict, so a saved report can be shown again.
"""

from __future__ import annotations

import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mxprof.errors import WorkerError
from mxprof.jobs.fusion import diagnose as fusion_diagnose
from mxprof.jobs.fusion import gains as fusion
from mxprof.jobs.fusion import ratios as fusion_ratios
from mxprof.jobs.fusion import trace as fusion_trace
from mxprof.jobs.fusion.report import summary_line
from mxprof.schema import SCHEMA
from mxprof.timing.stats import Stats, summarize, summarize_processes
from mxprof.workers import jsonio, protocol
from mxprof.workers.process import worker_env

# Environment variables a worker must not inherit: they change what is fused (the verbose and
# MKL-DNN switches are dropped for every worker by mxprof.workers.process).
_CONTROLLED = ("MXNET_SUBGRAPH_BACKEND", *fusion.PATTERN_SWITCHES)


_CALL = {"gluon": "net(x).wait_to_read()",
         "symbolic": "executor.forward(is_train=False)[0].wait_to_read()"}


@dataclass(frozen=True)
class FusionOptions:
    model: str
    shape: tuple[int, ...]
    path: str = "gluon"  # "gluon": optimize_for; "symbolic": MXNET_SUBGRAPH_BACKEND=MKLDNN
    static: bool = True  # static_alloc/static_shape on both graphs
    warmup: int = 10
    iterations: int = 50
    min_time_s: float = 1.0
    trace_iterations: int = 10
    rounds: int = 2  # unfused/fused timing workers alternate this many times (load drift)
    switches: tuple[str, ...] = tuple(fusion.PATTERN_SWITCHES)
    threads: int | None = None
    wait_policy: str | None = None  # "active" | "passive", resolved by the parent
    timeout_s: float = 900.0
    extra_env: dict[str, str] = field(default_factory=dict)
    # The checked ModelSpec dict (mxprof.mx.models, its inputs included); None: the workers
    # resolve `model` at `shape` themselves.
    spec: dict | None = None


def _worker_env(opts: FusionOptions, extra: dict[str, str]) -> dict[str, str]:
    return worker_env(drop=_CONTROLLED, threads=opts.threads,
                      extra={**opts.extra_env, **extra}, wait_policy=opts.wait_policy)


def run_worker(spec: dict, env: dict[str, str], workdir: Path, label: str,
               timeout_s: float) -> tuple[dict, str]:
    """Run one worker (mxprof.workers.protocol); its result and its stdout text (the verbose
    log when tracing). Raises WorkerError naming the worker and why."""
    res = protocol.run_worker(protocol.WorkerSpec(
        module="mxprof.jobs.fusion.worker", name=label, spec=spec, workdir=workdir, env=env,
        timeout=timeout_s, keep_stdout=True, tail_lines=12))
    return res.raise_for_status(), res.stdout_text()


def run_fusion(opts: FusionOptions, progress=lambda msg: None) -> dict:
    from mxprof.cpu.load import LoadMonitor
    monitor = LoadMonitor.start()
    with tempfile.TemporaryDirectory(prefix="mxprof-fusion-") as tmp:
        report = _run(opts, Path(tmp), progress)
    machine = monitor.stop(f"mxprof fusion {opts.model}") if monitor else None
    report["environment"]["load_average"] = machine.load_after if machine else None
    report["machine_load"] = machine.to_dict() if machine else None
    busy = _busy_machine(machine)
    if busy:
        report["findings"].insert(0, busy.to_dict())
    report["summary"] = summary_line(report)  # the line `mxprof profile` shows
    # NaN (a group with no primitive seen) becomes null: strict JSON readers reject NaN.
    return jsonio.strict(report)


def _worker_mxnet(result: dict) -> dict:
    return (result.get("fingerprint") or {}).get("mxnet") or {}


def output_mismatch(unfused_npy: str | None, fused_npy: str | None,
                    tolerance=None) -> fusion_diagnose.Finding | None:
    """Fusion must not change the result: the two outputs element by element, with the
    function and default tolerances of `mxprof accuracy` (mxprof.jobs.accuracy.metrics)."""
    from mxprof.jobs.accuracy import metrics

    if not unfused_npy or not fused_npy:
        return None
    tolerance = tolerance or metrics.Tolerance()
    ref, out = np.load(unfused_npy), np.load(fused_npy)
    if out.shape != ref.shape:
        detail = f"output shapes differ: unfused {ref.shape} vs fused {out.shape}"
    elif metrics.within_tolerance(out, ref, tolerance):
        return None
    else:
        detail = (f"max |fused - unfused| {metrics.max_abs_diff(out, ref):.3g} (max relative "
                  f"{metrics.max_rel_diff(out, ref):.3g}) exceeds |diff| <= "
                  f"{tolerance.rtol:g}*|unfused| + {tolerance.atol:g}*max|unfused| element-wise")
    return fusion_diagnose.Finding(
        "output_mismatch", "high", "fused", "the fused graph computes a different output",
        f"{detail}, on the same weights and input (the tolerance of `mxprof accuracy`)",
        "turn fusion patterns off one at a time (MXNET_DISABLE_MKLDNN_FUSE_*) to find the one "
        "that changes the result, and check it with `mxprof accuracy`", (), 0.0)


def _busy_machine(machine) -> fusion_diagnose.Finding | None:
    """Other processes competing for the cores make OpenMP barriers wait: say so plainly
    (the one rule of `mxprof.cpu.load`, given its MachineLoad record)."""
    if machine is None or not machine.busy:
        return None
    return fusion_diagnose.Finding(
        "busy_machine", "high", "machine", "the machine was busy while measuring",
        machine.warning(),
        "measure on an idle machine, or pin the workers to cores nothing else uses "
        "(--threads below the free core count)", (), 0.0)


@dataclass
class _Runs:
    """What the workers of one fusion job returned (filled in the order they run)."""

    unfused: dict
    fused: dict
    unfused_samples: list  # per round (one worker process each): per-call ns
    fused_samples: list
    unfused_trace: fusion_trace.Trace | None = None
    fused_trace: fusion_trace.Trace | None = None
    paired: dict = field(default_factory=dict)  # switch -> (fused ref ns, switch-off ns)
    off_patterns: dict = field(default_factory=dict)  # switch -> patterns left
    failed: list = field(default_factory=list)


def _worker_runner(opts: FusionOptions, tmp: Path, progress):
    """worker(label, fused, extra_env=None, **spec) -> (result, stdout) for this job."""
    params = str(tmp / "weights.params")
    base = {"model": opts.model, "shape": list(opts.shape), "path": opts.path,
            "static": opts.static, "warmup": opts.warmup, "iterations": opts.iterations,
            "min_time_s": opts.min_time_s, "seed": 0, "output": True, "model_spec": opts.spec}
    # The 1.9.1 executor partitions with MKLDNN by default: the unfused symbolic run must say NONE.
    fused_env, unfused_env = ({"MXNET_SUBGRAPH_BACKEND": "MKLDNN"},
                              {"MXNET_SUBGRAPH_BACKEND": "NONE"}) \
        if opts.path == "symbolic" else ({}, {})

    def worker(label, fused, extra=None, **spec_extra):
        progress(f"worker: {label}")
        spec = {**base, "fused": fused, "params_in": params, **spec_extra}
        env = _worker_env(opts, {**(fused_env if fused else unfused_env), **(extra or {})})
        return run_worker(spec, env, tmp, label, opts.timeout_s)

    return worker, params


def _time_rounds(opts: FusionOptions, worker, params: str) -> _Runs:
    """Unfused and fused timing workers, alternating `opts.rounds` times (load drift hits both)."""
    unfused, _ = worker("unfused", False, params_in=None, params_out=params)
    if fusion.fusion_groups(unfused["graph"]):
        raise WorkerError("the unfused graph already holds fused nodes: is a subgraph backend "
                          "forced on by the environment?")
    fused, _ = worker("fused", True)
    runs = _Runs(unfused, fused, [unfused["samples_ns"]], [fused["samples_ns"]])
    for r in range(1, opts.rounds):
        runs.unfused_samples.append(worker(f"unfused-{r}", False)[0]["samples_ns"])
        runs.fused_samples.append(worker(f"fused-{r}", True)[0]["samples_ns"])
    return runs


def _trace(opts: FusionOptions, worker, runs: _Runs) -> None:
    """The two DNNL_VERBOSE workers: primitive times per node, unfused and fused."""
    trace_spec = {"trace": True, "iterations": opts.trace_iterations, "warmup": 2}
    unfused_tr, unfused_log = worker("unfused-trace", False, {"DNNL_VERBOSE": "1"}, **trace_spec)
    fused_tr, fused_log = worker("fused-trace", True, {"DNNL_VERBOSE": "1"}, **trace_spec)
    runs.unfused_trace = fusion_trace.build_trace(unfused_log, unfused_tr["graph"])
    runs.fused_trace = fusion_trace.build_trace(fused_log, fused_tr["graph"])


def _switches_off(opts: FusionOptions, worker, runs: _Runs) -> None:
    """One fused run with each switch set, each paired with a fused run right before it, so
    slow drift in machine load (other processes, thermal) cancels in the difference instead of
    posing as a cost. A failing switch run is recorded, not fatal."""
    for switch in opts.switches:
        try:
            ref, _ = worker(f"fused-ref-{switch}", True)
            res, _ = worker(f"off-{switch}", True, {switch: "1"})
        except WorkerError as exc:
            runs.failed.append({"label": f"off-{switch}", "error": str(exc)})
            continue
        runs.paired[switch] = (ref["samples_ns"], res["samples_ns"])
        runs.off_patterns[switch] = fusion.pattern_counts(fusion.fusion_groups(res["graph"]))


def _run(opts: FusionOptions, tmp: Path, progress) -> dict:
    worker, params = _worker_runner(opts, tmp, progress)
    runs = _time_rounds(opts, worker, params)
    _trace(opts, worker, runs)
    _switches_off(opts, worker, runs)
    return _assemble(opts, runs)


def _group_rows(timings, unfused_trace, fused_trace) -> list[dict]:
    """Per fused group: times, the reason it gained or lost, and its gain ratio; `clear` is
    the ratio's significance (False when the log cannot carry a ratio)."""
    unfused_series = fusion_trace.node_ms_per_iteration(unfused_trace)
    fused_series = fusion_trace.node_ms_per_iteration(fused_trace)
    rows = []
    for t in timings:
        row = t.to_dict()
        row["reason"] = fusion_diagnose.group_reason(t.group.members, t.group.fused_node,
                                                     unfused_trace, fused_trace)
        row.update(fusion_ratios.group_ratio(unfused_series, fused_series, t.group.members,
                                             t.group.fused_node))
        row["clear"] = bool(row["gain_ratio"] and row["gain_ratio"]["significant"])
        rows.append(row)
    return rows


def _pattern_rows(runs: _Runs, fused_patterns: dict) -> tuple[list[dict], dict]:
    """Per switch turned off: its effect and its cost ratio with a 95% interval; `clear` when
    the graph changed and the interval excludes 1."""
    effects = fusion.pattern_attribution(
        {sw: summarize(ref) for sw, (ref, _) in runs.paired.items()},
        {sw: (summarize(res), runs.off_patterns[sw]) for sw, (_, res) in runs.paired.items()})
    ratios = {sw: fusion_ratios.latency_ratio([res], [ref], "pattern cost")
              for sw, (ref, res) in runs.paired.items()}
    rows = []
    for e in effects:
        changed = e.patterns != fused_patterns
        ratio = ratios.get(e.switch)
        rows.append({**e.to_dict(), "fused_paired_ms": float(np.median(runs.paired[e.switch][0]))
                     / 1e6, "graph_changed": changed,
                     "clear": changed and bool(ratio and ratio["significant"])})
    return rows, ratios


def _environment(opts: FusionOptions, runs: _Runs) -> dict:
    fused = runs.fused
    mx = _worker_mxnet(fused)
    fingerprint = fused.get("fingerprint") or {}
    return {
        "mxnet": fused["mxnet_version"], "onednn": runs.fused_trace.onednn_version,
        "isa": runs.fused_trace.isa,
        "cpu": fingerprint.get("cpu_model") or platform.processor() or "unknown",
        "logical_cpus": os.cpu_count(),
        # What the worker's OpenMP runtime reported (omp_get_max_threads after MXNet
        # loaded), not what was asked for: None when it could not be read.
        "threads": mx.get("openmp_threads"),
        "threads_requested": opts.threads,
        "allowed_cpus": mx.get("allowed_cpus"),
        # How the worker's OpenMP threads waited (mxprof.cpu.openmp.wait_policy_in_force).
        "wait_policy": fingerprint.get("wait_policy"),
        "python": platform.python_version(),
        "weights": runs.unfused.get("weights"),
        "fingerprint": fused.get("fingerprint"),
    }


def _protocol(opts: FusionOptions) -> dict:
    return {
        "latency": (f"wall time per call of {_CALL[opts.path]} (mxprof.timing.timer native "
                    f"loop), batch {opts.shape[0]}, {opts.warmup} warm-up calls, then at least "
                    f"{opts.iterations} calls and {opts.min_time_s:g} s per worker, "
                    f"{opts.rounds} alternating unfused/fused worker rounds; median with its "
                    "95% interval (mxprof.timing.stats: each round is one process)"),
        "groups": (f"oneDNN primitive time (DNNL_VERBOSE=1, separate worker), "
                   f"{opts.trace_iterations} iterations after 2 warm-up calls; median per "
                   "iteration with its 95% interval"),
        "workers": ("one process per configuration, run one after another, same weights and "
                    "input; each switch-off run is paired with a fused run just before it"),
    }


def _assemble(opts: FusionOptions, runs: _Runs) -> dict:
    """The schema-1 report dict (see the module docstring) from every worker's result."""
    groups = fusion.fusion_groups(runs.fused["graph"])
    coverage = fusion.layer_coverage(groups, runs.unfused["graph"], runs.fused["graph"])
    timings = fusion.group_table(groups, fusion_trace.node_ms_per_iteration(runs.unfused_trace),
                                 fusion_trace.node_ms_per_iteration(runs.fused_trace))
    unfused_lat, fused_lat = _latency(runs.unfused_samples), _latency(runs.fused_samples)
    unfused_ms, fused_ms = unfused_lat.median / 1e6, fused_lat.median / 1e6
    findings = list(fusion_diagnose.diagnose(runs.fused_trace, runs.unfused_trace, opts.path))
    mismatch = output_mismatch(runs.unfused.get("output_npy"), runs.fused.get("output_npy"))
    if mismatch:
        findings.insert(0, mismatch)
    patterns, pattern_ratios = _pattern_rows(runs, fusion.pattern_counts(groups))
    return {
        "schema": SCHEMA, "kind": "fusion", "model": opts.model,
        "input_shape": list(opts.shape), "path": opts.path, "static": opts.static,
        "environment": _environment(opts, runs),
        "protocol": _protocol(opts),
        "unfused_ms": unfused_ms, "fused_ms": fused_ms, "gain_ms": unfused_ms - fused_ms,
        "gain_percent": fusion.gain_percent(unfused_ms, fused_ms),
        # The one statistics record (mxprof.timing.stats.Stats.to_dict("ms")) of each side.
        "unfused_latency": unfused_lat.to_dict("ms"),
        "fused_latency": fused_lat.to_dict("ms"),
        "round_medians_ms": {
            "unfused": [float(np.median(r)) / 1e6 for r in runs.unfused_samples],
            "fused": [float(np.median(r)) / 1e6 for r in runs.fused_samples]},
        "groups": _group_rows(timings, runs.unfused_trace, runs.fused_trace),
        "pattern_groups": fusion.gain_by_pattern(timings),
        "coverage": {"unfused_layers": list(coverage.unfused),
                     "removed_layers": list(coverage.removed),
                     "duplicated_layers": list(coverage.duplicated),
                     "grouped_layers": len(coverage.grouped)},
        "patterns": patterns,
        # Ratios with a 95% interval (mxprof.timing.stats.Ratio): rounds are the processes.
        "gain_ratio": fusion_ratios.latency_ratio(runs.unfused_samples, runs.fused_samples,
                                                  "gain"),
        "pattern_ratios": pattern_ratios,
        "findings": [f.to_dict() for f in findings],
        "failed_workers": runs.failed,
        "output_sum": {"unfused": runs.unfused["output_sum"],
                       "fused": runs.fused["output_sum"]},
        "primitive_ms": {"unfused": _primitive_total(runs.unfused_trace),
                         "fused": _primitive_total(runs.fused_trace)},
    }


def _latency(rounds) -> Stats:
    """The rounds are the processes of the one statistics record (hierarchical bootstrap);
    a non-positive sample (the clock went backwards) cannot be bootstrapped as a ratio of
    medians, so the calls are then pooled, and the record's warning says why."""
    try:
        return summarize_processes(rounds)
    except ValueError:
        return summarize([s for r in rounds for s in r])


def _primitive_total(trace: fusion_trace.Trace) -> float:
    return sum(p.ms for p in trace.steady()) / max(trace.iterations, 1)
