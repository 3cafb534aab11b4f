"""The fusion workers' cells and the report assembled from their results.

`worker_spec(opts, workdir, label, config)` is one worker's cell; the job
(`mxprof.jobs.fusion.job`) runs them in the order of `mxprof.jobs.fusion.order.worker_plan`:
`processes` of each configuration, interleaved (`mxprof.workers.schedule`): unfused timing
(its first process saves the weights every later worker loads), fused timing and one fused
timing per fusion switch turned off, round after round; then the unfused and fused traces
(`DNNL_VERBOSE=1`, separate because verbose output slows every primitive), also `processes`
of each. `assemble(opts, runs)` and `finish(report, machine)` build the schema-1 report: every
latency and every ratio pools the processes (`mxprof.timing.pooled`: hierarchical bootstrap
over processes, then calls); the job turns it into the typed FusionResult.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mxprof import jsonio
from mxprof.jobs.fusion import diagnose as fusion_diagnose
from mxprof.jobs.fusion import gains as fusion
from mxprof.jobs.fusion import ratios as fusion_ratios
from mxprof.jobs.fusion import trace as fusion_trace
from mxprof.jobs.fusion.order import timing_configs
from mxprof.jobs.fusion.report import summary_line
from mxprof.schema import SCHEMA
from mxprof.timing.pooled import pooled_stats
from mxprof.workers import protocol
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
    processes: int = 3  # worker processes per timed configuration and per traced graph
    switches: tuple[str, ...] = tuple(fusion.PATTERN_SWITCHES)
    threads: int | None = None
    wait_policy: str | None = None  # "active" | "passive", resolved by the parent
    timeout_s: float = 900.0
    extra_env: dict[str, str] = field(default_factory=dict)
    # The checked ModelSpec dict (mxprof.mx.models, its inputs included); None: the workers
    # resolve `model` at `shape` themselves.
    spec: dict | None = None
    # Where every worker binds itself before importing MXNet (mxprof.cpu.placement.Placement
    # as a dict); None: not bound. The parent never binds itself for its workers.
    placement: dict | None = None


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


def finish(report: dict, machine) -> dict:
    """The assembled report with the machine load around the job (`mxprof.cpu.load`), its
    busy-machine finding, and the one-line summary; NaN (a group with no primitive seen)
    becomes null: strict JSON readers reject NaN."""
    report["environment"]["load_average"] = machine.load_after if machine else None
    report["machine_load"] = machine.to_dict() if machine else None
    busy = _busy_machine(machine)
    if busy:
        report["findings"].insert(0, busy.to_dict())
    if report.get("complete", True):
        report["summary"] = summary_line(report)  # the line `mxprof profile` shows
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
    return fusion_diagnose.finding(
        "output_mismatch", "high", "fused", "the fused graph computes a different output",
        f"{detail}, on the same weights and input (the tolerance of `mxprof accuracy`)",
        "turn fusion patterns off one at a time (MXNET_DISABLE_MKLDNN_FUSE_*) to find the one "
        "that changes the result, and check it with `mxprof accuracy`", (), 0.0)


def _busy_machine(machine) -> fusion_diagnose.Finding | None:
    """Other processes competing for the cores make OpenMP barriers wait: say so plainly
    (the one rule of `mxprof.cpu.load`, given its MachineLoad record)."""
    if machine is None or not machine.busy:
        return None
    return fusion_diagnose.finding(
        "busy_machine", "high", "machine", "the machine was busy while measuring",
        machine.warning(),
        "measure on an idle machine, or pin the workers to cores nothing else uses "
        "(--threads below the free core count)", (), 0.0)


@dataclass
class _Runs:
    """What the workers of one fusion job returned (filled in the order they run)."""

    unfused: dict  # the first unfused process's result (graph, weights, output)
    fused: dict
    # Timed configuration ("unfused", "fused", or a switch) -> per process: per-call ns.
    samples: dict = field(default_factory=dict)
    unfused_traces: list = field(default_factory=list)  # one fusion_trace.Trace per process
    fused_traces: list = field(default_factory=list)
    off_patterns: dict = field(default_factory=dict)  # switch -> patterns left
    failed: list = field(default_factory=list)

    @property
    def unfused_trace(self) -> fusion_trace.Trace:
        return self.unfused_traces[0]

    @property
    def fused_trace(self) -> fusion_trace.Trace:
        return self.fused_traces[0]


def worker_spec(opts: FusionOptions, workdir: Path, label: str,
                config: str) -> protocol.WorkerSpec:
    """The self-contained cell of one fusion worker (`config`: unfused, fused, a switch, or
    unfused-trace / fused-trace; `label` from mxprof.jobs.fusion.order.worker_plan): its spec
    carries the binding the worker applies to itself, its environment the switches. The
    first unfused worker saves the weights every later one loads (run in plan order)."""
    params = str(workdir / "weights.params")
    fused = config not in ("unfused", "unfused-trace")
    spec = {"model": opts.model, "shape": list(opts.shape), "path": opts.path,
            "static": opts.static, "warmup": opts.warmup, "iterations": opts.iterations,
            "min_time_s": opts.min_time_s, "seed": 0, "output": True, "model_spec": opts.spec,
            "fused": fused, "params_in": params, "placement": opts.placement}
    extra: dict[str, str] = {}
    if label == "unfused":
        spec.update(params_in=None, params_out=params)
    if config.endswith("-trace"):
        spec.update(trace=True, iterations=opts.trace_iterations, warmup=2)
        extra["DNNL_VERBOSE"] = "1"
    elif config not in ("unfused", "fused"):
        extra[config] = "1"
    # The 1.9.1 executor partitions with MKLDNN by default: the unfused symbolic run must say NONE.
    if opts.path == "symbolic":
        extra["MXNET_SUBGRAPH_BACKEND"] = "MKLDNN" if fused else "NONE"
    return protocol.WorkerSpec(module="mxprof.jobs.fusion.worker", name=label, spec=spec,
                               workdir=workdir, env=_worker_env(opts, extra),
                               timeout=opts.timeout_s, keep_stdout=True, tail_lines=12)


def trace_of(res: protocol.WorkerResult) -> fusion_trace.Trace:
    """The primitive trace of a finished DNNL_VERBOSE worker (its stdout and graph)."""
    return fusion_trace.build_trace(res.stdout_text(), res.data["graph"])


def _series(traces) -> list[dict]:
    return [fusion_trace.node_ms_per_iteration(t) for t in traces]


def _group_rows(timings, runs: _Runs) -> list[dict]:
    """Per fused group: times, the reason it gained or lost, and its gain ratio over the trace
    processes; `clear` is the ratio's significance (False when the log cannot carry a ratio)."""
    unfused_series, fused_series = _series(runs.unfused_traces), _series(runs.fused_traces)
    rows = []
    for t in timings:
        row = t.to_dict()
        row["reason"] = fusion_diagnose.group_reason(t.group.members, t.group.fused_node,
                                                     runs.unfused_trace, runs.fused_trace)
        row.update(fusion_ratios.group_ratio(unfused_series, fused_series, t.group.members,
                                             t.group.fused_node))
        row["clear"] = bool(row["gain_ratio"] and row["gain_ratio"]["significant"])
        rows.append(row)
    return rows


def _pattern_group_rows(timings, runs: _Runs) -> list[dict]:
    """Primitive time per pattern with the pattern's gain ratio over the trace processes. The
    times are medians of the per-iteration sum of the pattern's groups, the statistic the
    ratio bootstraps (a sum of per-group medians disagrees with it when preemption spikes hit
    a few primitives of most iterations, as on a loaded machine)."""
    unfused_series, fused_series = _series(runs.unfused_traces), _series(runs.fused_traces)
    rows = []
    for row in fusion.gain_by_pattern(timings):
        groups = [t.group for t in timings if t.group.pattern == row["pattern"]]
        members, nodes = [m for g in groups for m in g.members], [g.fused_node for g in groups]
        before = fusion.pooled_ms([fusion_ratios.summed(s, members) for s in unfused_series])
        after = fusion.pooled_ms([fusion_ratios.summed(s, nodes) for s in fused_series])
        u, f = fusion.median_ms(before), fusion.median_ms(after)
        row.update(unfused_ms=u, fused_ms=f, gain_ms=u - f, gain_percent=fusion.gain_percent(u, f))
        row.update(fusion_ratios.primitive_ratio(unfused_series, fused_series, members, nodes,
                                                 kind="pattern gain"))
        row["clear"] = bool(row["gain_ratio"] and row["gain_ratio"]["significant"])
        rows.append(row)
    return sorted(rows, key=lambda r: -(r["gain_ms"] if r["gain_ms"] == r["gain_ms"] else 0))


def _pattern_rows(runs: _Runs, fused_patterns: dict) -> tuple[list[dict], dict]:
    """Per switch turned off: its effect against the fused processes of the same rounds, and
    its cost ratio (switch off over on) with a 95% interval; `clear` when the graph changed and
    the interval excludes 1."""
    fused = pooled_stats(runs.samples["fused"])
    timed = {sw: pooled_stats(p) for sw, p in runs.samples.items()
             if sw not in ("unfused", "fused") and p}
    effects = fusion.pattern_attribution(
        dict.fromkeys(timed, fused), {sw: (lat, runs.off_patterns[sw]) for sw, lat in timed.items()})
    ratios = {sw: fusion_ratios.latency_ratio(runs.samples[sw], runs.samples["fused"],
                                              "pattern cost") for sw in timed}
    rows = []
    for e in effects:
        changed = e.patterns != fused_patterns
        ratio = ratios.get(e.switch)
        rows.append({**e.to_dict(), "fused_paired_ms": fused.median / 1e6,
                     "processes": len(runs.samples[e.switch]), "graph_changed": changed,
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
        "physical_cores": fingerprint.get("physical_cores"),
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
    n = opts.processes
    configs = len(timing_configs(opts))
    calls = (f"{opts.iterations} timed calls" if opts.min_time_s == 0 else
             f"at least {opts.iterations} calls and {opts.min_time_s:g} s")
    return {
        "latency": (f"wall time per call of {_CALL[opts.path]} (mxprof.timing.timer native "
                    f"loop), batch {opts.shape[0]}; {n} worker processes per configuration, "
                    f"each {opts.warmup} warm-up calls then {calls}; median with its 95% "
                    "interval (hierarchical bootstrap over processes, then calls)"),
        "groups": (f"oneDNN primitive time (DNNL_VERBOSE=1, separate workers), {n} processes "
                   f"per graph, each {opts.trace_iterations} iterations after 2 warm-up "
                   "calls; median per iteration with its 95% interval (hierarchical bootstrap "
                   "over processes, then iterations)"),
        "workers": (f"{configs} timed configurations (unfused, fused, each switch off) x {n} "
                    f"processes, interleaved A B C ... C B A, then 2 x {n} traced processes; "
                    "same weights and input; a switch's cost is against the fused processes "
                    "of the same rounds"),
        "processes": str(n),
    }


def assemble(opts: FusionOptions, runs: _Runs) -> dict:
    """The schema-1 report dict (see the module docstring) from every worker's result."""
    groups = fusion.fusion_groups(runs.fused["graph"])
    coverage = fusion.layer_coverage(groups, runs.unfused["graph"], runs.fused["graph"])
    timings = fusion.group_table(groups, _series(runs.unfused_traces),
                                 _series(runs.fused_traces))
    unfused_lat = pooled_stats(runs.samples["unfused"])
    fused_lat = pooled_stats(runs.samples["fused"])
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
        "round_medians_ms": {config: [float(np.median(p)) / 1e6 for p in processes]
                             for config, processes in runs.samples.items()},
        "groups": _group_rows(timings, runs),
        "pattern_groups": _pattern_group_rows(timings, runs),
        "coverage": {"unfused_layers": list(coverage.unfused),
                     "removed_layers": list(coverage.removed),
                     "duplicated_layers": list(coverage.duplicated),
                     "grouped_layers": len(coverage.grouped)},
        "patterns": patterns,
        # Ratios with a 95% interval (mxprof.timing.stats.Ratio) over the processes.
        "gain_ratio": fusion_ratios.latency_ratio(runs.samples["unfused"],
                                                  runs.samples["fused"], "gain"),
        "pattern_ratios": pattern_ratios,
        "findings": [f.to_dict() for f in findings],
        "failed_workers": runs.failed,
        "output_sum": {"unfused": runs.unfused["output_sum"],
                       "fused": runs.fused["output_sum"]},
        "primitive_ms": {"unfused": _primitive_total(runs.unfused_traces),
                         "fused": _primitive_total(runs.fused_traces)},
    }


def _primitive_total(traces) -> float:
    """Primitive ms per call, the mean over the trace processes."""
    return float(np.mean([sum(p.ms for p in t.steady()) / max(t.iterations, 1)
                          for t in traces]))
