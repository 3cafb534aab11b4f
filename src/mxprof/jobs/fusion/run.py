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

from mxprof.errors import WorkerError
from mxprof.jobs.fusion import diagnose as fusion_diagnose
from mxprof.jobs.fusion import gains as fusion
from mxprof.jobs.fusion import ratios as fusion_ratios
from mxprof.jobs.fusion import trace as fusion_trace
from mxprof.schema import SCHEMA
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
    timeout_s: float = 900.0
    extra_env: dict[str, str] = field(default_factory=dict)


def _worker_env(opts: FusionOptions, extra: dict[str, str]) -> dict[str, str]:
    return worker_env(drop=_CONTROLLED, threads=opts.threads,
                      extra={**opts.extra_env, **extra})


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
    import numpy as np

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


def _run(opts: FusionOptions, tmp: Path, progress) -> dict:
    params = str(tmp / "weights.params")
    base = {"model": opts.model, "shape": list(opts.shape), "path": opts.path,
            "static": opts.static, "warmup": opts.warmup, "iterations": opts.iterations,
            "min_time_s": opts.min_time_s, "seed": 0, "output": True}
    # The 1.9.1 executor partitions with MKLDNN by default: the unfused symbolic run must say NONE.
    fused_env, unfused_env = ({"MXNET_SUBGRAPH_BACKEND": "MKLDNN"},
                              {"MXNET_SUBGRAPH_BACKEND": "NONE"}) \
        if opts.path == "symbolic" else ({}, {})

    def worker(label, fused, extra=None, **spec_extra):
        progress(f"worker: {label}")
        spec = {**base, "fused": fused, "params_in": params, **spec_extra}
        env = _worker_env(opts, {**(fused_env if fused else unfused_env), **(extra or {})})
        return run_worker(spec, env, tmp, label, opts.timeout_s)

    unfused, _ = worker("unfused", False, params_in=None, params_out=params)
    if fusion.fusion_groups(unfused["graph"]):
        raise WorkerError("the unfused graph already holds fused nodes: is a subgraph backend "
                          "forced on by the environment?")
    fused, _ = worker("fused", True)
    unfused_samples, fused_samples = [unfused["samples_ns"]], [fused["samples_ns"]]
    for r in range(1, opts.rounds):
        unfused_samples.append(worker(f"unfused-{r}", False)[0]["samples_ns"])
        fused_samples.append(worker(f"fused-{r}", True)[0]["samples_ns"])
    trace_spec = {"trace": True, "iterations": opts.trace_iterations, "warmup": 2}
    unfused_tr, unfused_log = worker("unfused-trace", False, {"DNNL_VERBOSE": "1"}, **trace_spec)
    fused_tr, fused_log = worker("fused-trace", True, {"DNNL_VERBOSE": "1"}, **trace_spec)
    unfused_trace = fusion_trace.build_trace(unfused_log, unfused_tr["graph"])
    fused_trace = fusion_trace.build_trace(fused_log, fused_tr["graph"])

    groups = fusion.fusion_groups(fused["graph"])
    coverage = fusion.layer_coverage(groups, unfused["graph"], fused["graph"])
    timings = fusion.group_table(groups, fusion_trace.node_ms_per_iteration(unfused_trace),
                                 fusion_trace.node_ms_per_iteration(fused_trace))
    unfused_lat = fusion.latency_summary([s for r in unfused_samples for s in r])
    fused_lat = fusion.latency_summary([s for r in fused_samples for s in r])
    unfused_ci = fusion.median_interval([s for r in unfused_samples for s in r])
    fused_ci = fusion.median_interval([s for r in fused_samples for s in r])

    # Each switch run is paired with a fused run right before it, so slow drift in machine
    # load (other processes, thermal) cancels in the difference instead of posing as a cost.
    off, failed, paired, paired_samples = {}, [], {}, {}
    for switch in opts.switches:
        try:
            ref, _ = worker(f"fused-ref-{switch}", True)
            res, _ = worker(f"off-{switch}", True, {switch: "1"})
        except WorkerError as exc:
            failed.append({"label": f"off-{switch}", "error": str(exc)})
            continue
        paired[switch] = (fusion.median_interval(ref["samples_ns"]),
                          fusion.median_interval(res["samples_ns"]))
        paired_samples[switch] = (ref["samples_ns"], res["samples_ns"])
        off[switch] = (fusion.latency_summary(res["samples_ns"]),
                       fusion.pattern_counts(fusion.fusion_groups(res["graph"])))
    effects = fusion.pattern_attribution(
        {switch: ref for switch, (ref, _) in paired.items()}, off)
    fused_patterns = fusion.pattern_counts(groups)
    noise_ms = fusion.worker_noise_ms([unfused_samples, fused_samples])
    findings = list(fusion_diagnose.diagnose(fused_trace, unfused_trace, opts.path))
    mismatch = output_mismatch(unfused.get("output_npy"), fused.get("output_npy"))
    if mismatch:
        findings.insert(0, mismatch)

    group_rows = []
    for t in timings:
        row = t.to_dict()
        row["reason"] = fusion_diagnose.group_reason(t.group.members, t.group.fused_node,
                                                     unfused_trace, fused_trace)
        row.update(fusion_ratios.group_ratio(
            fusion_trace.node_ms_per_iteration(unfused_trace), fusion_trace.node_ms_per_iteration(
                fused_trace), t.group.members, t.group.fused_node))
        group_rows.append(row)
    return {
        "schema": SCHEMA,
        "kind": "fusion",
        "model": opts.model,
        "input_shape": list(opts.shape),
        "path": opts.path,
        "static": opts.static,
        "environment": {
            "mxnet": fused["mxnet_version"], "onednn": fused_trace.onednn_version,
            "isa": fused_trace.isa, "cpu": (fused.get("fingerprint") or {}).get("cpu_model")
            or platform.processor() or "unknown", "logical_cpus": os.cpu_count(),
            # What the worker's OpenMP runtime reported (omp_get_max_threads after MXNet
            # loaded), not what was asked for: None when it could not be read.
            "threads": _worker_mxnet(fused).get("openmp_threads"),
            "threads_requested": opts.threads,
            "allowed_cpus": _worker_mxnet(fused).get("allowed_cpus"),
            "python": platform.python_version(),
            "weights": unfused.get("weights"),
            "fingerprint": fused.get("fingerprint"),
        },
        "protocol": {
            "latency": (f"wall time per call of {_CALL[opts.path]} (mxprof.timing.timer native loop), "
                        f"batch {opts.shape[0]}, "
                        f"{opts.warmup} warm-up calls, then at least {opts.iterations} calls "
                        f"and {opts.min_time_s:g} s per worker, {opts.rounds} alternating unfused/fused "
                        "worker rounds pooled; median, IQR and 95% CI of the median"),
            "groups": (f"oneDNN primitive time (DNNL_VERBOSE=1, separate worker), "
                       f"{opts.trace_iterations} iterations after 2 warm-up calls; "
                       "median per iteration with interquartile range"),
            "workers": ("one process per configuration, run one after another, same weights and "
                        "input; each switch-off run is paired with a fused run just before it"),
        },
        "unfused_ms": unfused_lat.median,
        "fused_ms": fused_lat.median,
        "gain_ms": unfused_lat.median - fused_lat.median,
        "gain_percent": fusion.gain_percent(unfused_lat.median, fused_lat.median),
        # The gain's spread: from the 95% confidence intervals of the two medians.
        "gain_percent_range": list(fusion.gain_range_percent(unfused_ci, fused_ci)),
        "gain_clear": fusion.separated(unfused_ci, fused_ci)
        and abs(unfused_lat.median - fused_lat.median) > (noise_ms or 0.0),
        # Spread of per-worker medians across rounds: run-to-run noise no CI inside one worker
        # can see (None with a single round).
        "worker_noise_ms": noise_ms,
        "unfused_latency": unfused_lat.to_dict(),
        "fused_latency": fused_lat.to_dict(),
        # Full statistics (95% CI of the median, MAD, outliers, stability warnings), in ms.
        "latency_stats": {
            "unfused": _stats([s for r in unfused_samples for s in r]),
            "fused": _stats([s for r in fused_samples for s in r])},
        "round_medians_ms": {
            "unfused": [fusion.latency_summary(r).median for r in unfused_samples],
            "fused": [fusion.latency_summary(r).median for r in fused_samples]},
        "groups": group_rows,
        "pattern_groups": fusion.gain_by_pattern(timings),
        "coverage": {"unfused_layers": list(coverage.unfused),
                     "removed_layers": list(coverage.removed),
                     "duplicated_layers": list(coverage.duplicated),
                     "grouped_layers": len(coverage.grouped)},
        "patterns": [{**e.to_dict(), "fused_paired_ms": paired[e.switch][0].median,
                      "graph_changed": e.patterns != fused_patterns,
                      "clear": e.patterns != fused_patterns
                      and fusion.separated(*paired[e.switch])
                      and abs(e.cost_ms) > (noise_ms or 0.0)}
                     for e in effects],
        # Ratios with a 95% interval (mxprof.timing.stats.Ratio): rounds are the processes.
        "gain_ratio": fusion_ratios.latency_ratio(unfused_samples, fused_samples, "gain"),
        "pattern_ratios": {sw: fusion_ratios.latency_ratio([res], [ref], "pattern cost")
                           for sw, (ref, res) in paired_samples.items()},
        "findings": [f.to_dict() for f in findings],
        "failed_workers": failed,
        "output_sum": {"unfused": unfused["output_sum"], "fused": fused["output_sum"]},
        "primitive_ms": {"unfused": _primitive_total(unfused_trace),
                         "fused": _primitive_total(fused_trace)},
    }


def _stats(samples_ns) -> dict:
    from mxprof.timing.stats import summarize

    return summarize(samples_ns).to_dict("ms")


def _primitive_total(trace: fusion_trace.Trace) -> float:
    return sum(p.ms for p in trace.steady()) / max(trace.iterations, 1)


def _n(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)

def summary_line(report: dict) -> str:
    """One line for `mxprof profile`: total gain, best pattern, and the worst finding."""
    line = (f"fusion: {_n(report['unfused_ms'], '.2f')} -> {_n(report['fused_ms'], '.2f')} ms "
            f"({_n(report['gain_percent'], '+.1f')}%), {len(report['groups'])} fused nodes")
    if report.get("gain_ratio"):
        line += f", fused vs unfused speed {report['gain_ratio']['text']}"
    if report["patterns"]:
        best = max(report["patterns"], key=lambda p: p["cost_ms"])
        ratio = (report.get("pattern_ratios") or {}).get(best["switch"])
        if ratio and not ratio["significant"]:  # inside the noise: no cost to print
            line += f"; {best['pattern']} switch off: {ratio['text']}"
        else:
            line += f"; {best['pattern']} worth {_n(best['cost_ms'], '.2f')} ms"
    high = [f for f in report["findings"] if f["severity"] == "high"]
    if high:
        line += f"; WARNING {high[0]['title']} ({high[0]['graph']})"
    return line
