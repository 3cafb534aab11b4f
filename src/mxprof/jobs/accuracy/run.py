"""Run the accuracy check: one worker process per configuration, then compare their outputs.

Configurations (each in a fresh process, environment set before libmxnet loads):
- mkldnn-off    reference CPU kernels (MXNET_MKLDNN_ENABLED=0), hybridized: the reference.
               For a network with RNN layers it is MKL-DNN with MXNET_USE_MKLDNN_RNN=0 instead
               (RNN layers on MXNet's own kernels): in MXNet 1.9.1 a 2-layer gluon.rnn.LSTM
               aborts with MKL-DNN off ("Check failed: out_data.size() == num_outputs (2 vs.
               1)"); the report's `reference` entry says which path ran and why;
- mkldnn        MKL-DNN kernels, hybridized, no graph fusion;
- mkldnn-fused  MKL-DNN with subgraph fusion (`optimize_for(backend='MKLDNN')`);
- int8-<mode>   quantized with mxnet.contrib.quantization, calibration none/naive/entropy.
The reference runs first; when the weights are random it saves them, and every other
configuration loads that file, so all of them see identical weights and identical inputs.

Latency: with `processes` N > 1, every configuration that ran is timed in N - 1 more worker
processes (timing only, no inputs evaluated), round after round in plan order, so the rounds
interleave A B C A B C (`mxprof.workers.schedule`); each configuration's latency and every
speedup pool its N processes (`mxprof.timing.pooled`: hierarchical bootstrap over processes,
then calls).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from mxprof.errors import WorkerError
from mxprof.files import make_temp_dir
from mxprof.jobs.accuracy import metrics as metrics
from mxprof.jobs.accuracy.records import (
    REFERENCE,
    AccuracyReport,
    ConfigResult,
    pooled_latency_stats,
)
from mxprof.mx.inputs import random_arrays
from mxprof.mx.models import ModelSpec
from mxprof.workers.environment import probe_onednn_version
from mxprof.workers.process import worker_env as process_env
from mxprof.workers.protocol import WorkerSpec
from mxprof.workers.protocol import run_worker as run_worker_process
from mxprof.workers.schedule import interleave

FP32_CONFIGS = ("mkldnn-off", "mkldnn", "mkldnn-fused")


@dataclass(frozen=True)
class ConfigPlan:
    """What one configuration is: how the graph is built and whether MKL-DNN is on."""

    name: str
    kind: str  # plain | fused | int8
    mkldnn: bool
    calib_mode: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()

    def env(self) -> dict[str, str]:
        return {"MXNET_MKLDNN_ENABLED": "1" if self.mkldnn else "0", **dict(self.extra_env)}


# The reference for networks with RNN layers (see the module docstring).
RNN_REFERENCE = ConfigPlan(REFERENCE, "plain", True, extra_env=(("MXNET_USE_MKLDNN_RNN", "0"),))
_RNN_OPS = ("RNN",)


def has_rnn_layers(model: dict) -> bool:
    """True when the network runs the RNN operator: mxprof's own RNN models (GNMT), whose
    worker switches to the RNN reference by itself (accuracy/worker.py run_bound), so the
    report must name that reference too; or an exported symbol holding an RNN node (the zoos'
    vision models have none)."""
    if model.get("source") == "mxprof" or model.get("rnn") is not None:
        from mxprof.mx.models import ModelSpec, has_rnn
        return has_rnn(ModelSpec.from_dict(model))
    path = model.get("symbol_path")
    if not path:
        return False
    try:
        with open(path) as f:
            graph = json.load(f)
    except (OSError, ValueError):
        return False  # a broken file is reported by the worker that loads it
    return any(n.get("op") in _RNN_OPS for n in graph.get("nodes", ()))


def reference_for(model: dict, plans: list[ConfigPlan]) -> tuple[list[ConfigPlan], dict]:
    """The plans with the reference path chosen for `model`, and the report's account of it."""
    if not has_rnn_layers(model):
        return plans, {"config": REFERENCE, "env": {"MXNET_MKLDNN_ENABLED": "0"},
                       "why": "MXNet's own CPU kernels for every operator"}
    plans = [RNN_REFERENCE if p.name == REFERENCE else p for p in plans]
    return plans, {"config": REFERENCE, "env": RNN_REFERENCE.env(),
                   "why": "the network has RNN layers, which MXNet 1.9.1 cannot run with "
                          "MXNET_MKLDNN_ENABLED=0 (2-layer LSTM: 'Check failed: "
                          "out_data.size() == num_outputs'); RNN layers use MXNet's own "
                          "kernels (MXNET_USE_MKLDNN_RNN=0), other operators MKL-DNN"}


def plan_configs(names: list[str], int8_modes: list[str]) -> list[ConfigPlan]:
    """The reference first, then the requested FP32 configurations, then INT8 ones."""
    known = {"mkldnn-off": ConfigPlan("mkldnn-off", "plain", False),
             "mkldnn": ConfigPlan("mkldnn", "plain", True),
             "mkldnn-fused": ConfigPlan("mkldnn-fused", "fused", True)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown configuration(s) {', '.join(unknown)}: "
                         f"choose from {', '.join(FP32_CONFIGS)}")
    plans = [known[REFERENCE]] + [known[n] for n in FP32_CONFIGS if n in names and n != REFERENCE]
    plans += [ConfigPlan(f"int8-{m}", "int8", True, m) for m in int8_modes]
    return plans


# Inherited settings that would change what a configuration is (MXNET_SUBGRAPH_BACKEND would
# fuse the "unfused" mkldnn configuration); the verbose and MKL-DNN switches always go.
_DROPPED_ENV = ("MXNET_SUBGRAPH_BACKEND",)


def worker_env(plan_env: dict[str, str], threads: int | None,
               wait_policy: str | None = None) -> dict[str, str]:
    """The whole environment of one worker: inherited, minus verbose/MKL-DNN switches, plus ours
    (OpenMP threads and the wait policy the parent resolved)."""
    return process_env(drop=_DROPPED_ENV, threads=threads, extra=plan_env,
                       wait_policy=wait_policy)


def run_worker(spec: dict, env: dict[str, str], timeout: float) -> dict:
    """Run one configuration in a fresh interpreter (mxprof.workers.protocol); its result, or
    WorkerError naming the configuration and why (a crash adds the worker's stderr tail)."""
    out_dir = Path(spec["out_dir"])
    res = run_worker_process(WorkerSpec(
        module="mxprof.jobs.accuracy.worker", name=spec["config"]["name"], spec=spec,
        workdir=out_dir, env=env, timeout=timeout, tail_lines=8))
    if res.ok:
        return res.data
    detail = f"\n{res.detail}" if res.detail else ""
    raise WorkerError(f"{res.error}{detail}")


def _load_outputs(out_dir: Path, count: int) -> list[np.ndarray]:
    return [np.load(out_dir / f"output_{i}.npy", mmap_mode="r") for i in range(count)]


def run_accuracy(model: dict, plans: list[ConfigPlan], *, inputs: dict, batch_size: int,
                 calib_count: int, timing: dict, tolerance: metrics.Tolerance,
                 threads: int | None = None, binding: dict | None = None,
                 timeout: float = 1800.0, progress=None,
                 wait_policy: str | None = None, processes: int = 1,
                 on_partial=None) -> AccuracyReport:
    """Run every planned configuration and compare it with the reference.

    `inputs` is {"kind": "random", "count": N, "seed": S} or {"kind": "dataset", "path": P,
    "preprocess": Preprocess dict, "limit": N or None}. `binding` ({"cpus": "0-17",
    "membind": "0" or None}) pins every worker before it loads MXNet. `wait_policy`: the
    OpenMP wait policy the parent resolved (mxprof.cpu.openmp.resolve_wait_policy).
    `processes`: timing worker processes per configuration (the first also evaluates the
    inputs; see the module docstring). Interrupted (KeyboardInterrupt), `on_partial(report)`
    gets the report of the configurations that finished (the others "interrupted" or "not
    run") before the interrupt goes on, so `--json` keeps them.
    """
    from mxprof.cpu.load import LoadMonitor
    work = make_temp_dir("accuracy")
    monitor = LoadMonitor.start()
    plans, reference = reference_for(model, plans)
    try:
        base_spec = {"batch_size": batch_size, "timing": timing, "seed": 0, "bind": binding,
                     "processes": processes if timing.get("iterations") else 1}
        report = _run(work, model, plans, inputs, base_spec, calib_count, tolerance,
                      (threads, wait_policy), timeout, progress or (lambda msg: None),
                      on_partial or (lambda report: None))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timed = {**{k: timing.get(k) for k in ("batch", "warmup", "iterations")},
             "processes": processes}
    report = msgspec.structs.replace(report, reference=reference,
                                     timing=timed if timing.get("iterations") else None)
    machine = monitor.stop(f"mxprof accuracy {model.get('name', '?')}") if monitor else None
    if machine is not None:  # the one busy-machine record, kept with the result
        report = msgspec.structs.replace(report, environment={**report.environment,
                                                          "machine_load": machine.to_dict()})
    note = busy_machine_note(machine)
    if note and timing.get("iterations"):
        report = msgspec.structs.replace(report, notes=(*report.notes, note))
    return report


def calibration_account(source: str, requested: int, batch_size: int) -> dict:
    """What INT8 calibration really sees: mxprof.mx.quantize batches the N examples by
    min(batch, N) and drops a last partial batch (last_batch_handle='discard', so padded
    repeats do not skew the thresholds)."""
    batch = min(batch_size, requested)
    used = (requested // batch) * batch
    account = {"source": source, "count": used, "requested": requested, "batch": batch}
    if used < requested:
        account["source"] = (f"{source}: {used} of {requested} used in batches of {batch}, the "
                             f"last partial batch of {requested - used} dropped")
    else:
        account["source"] = f"{source}: all {used} used in batches of {batch}"
    return account


def busy_machine_note(machine) -> str | None:
    """The one busy-machine rule (`mxprof.cpu.load`): latencies and speedups are then biased;
    accuracy and equivalence figures are not."""
    if machine is None or not machine.busy:
        return None
    return f"{machine.warning()}; accuracy and equivalence figures are unaffected"


def _run(work, model, plans, inputs, base_spec, calib_count, tolerance, openmp, timeout,
         progress, on_partial) -> AccuracyReport:
    calibration = None
    if inputs["kind"] == "random":
        # One way to draw inputs in every job: each input's dtype and range (mxprof.mx.inputs).
        specs = ModelSpec.from_dict(model).input_specs
        seed = inputs.get("seed", 0)
        base_spec["inputs_npy"] = []
        for i, array in enumerate(random_arrays(specs, inputs["count"], seed=seed)):
            np.save(work / f"inputs_{i}.npy", array)
            base_spec["inputs_npy"].append(str(work / f"inputs_{i}.npy"))
        if any(p.kind == "int8" for p in plans):
            np.save(work / "calib.npy", random_arrays(specs, calib_count, seed=seed + 1)[0])
            calibration = calibration_account(f"random inputs ({random_inputs_text(model)})",
                                              calib_count, base_spec["batch_size"])
    else:
        base_spec["data"] = {"path": inputs["path"], "preprocess": inputs["preprocess"],
                             "limit": inputs.get("limit")}
        if any(p.kind == "int8" for p in plans):
            calibration = calibration_account(
                f"first {calib_count} records of {inputs['path']} (also part of the "
                "evaluation set)", calib_count, base_spec["batch_size"])
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    samples: dict[str, list] = {}
    try:
        last_spec, model_used = _first_processes(work, model, plans, inputs, base_spec,
                                                 calib_count, (openmp, timeout), progress,
                                                 results, errors)
        samples.update({name: [r["timing"]["samples_ms"]] for name, r in results.items()})
        failures = _more_timing(work, [p for p in plans if p.name in results], last_spec,
                                model_used, samples, (openmp, timeout), progress)
    except KeyboardInterrupt:
        for plan in plans:
            if plan.name not in results and plan.name not in errors:
                errors[plan.name] = "interrupted"
                break
        for name, r in results.items():
            samples.setdefault(name, [r["timing"]["samples_ms"]])
        on_partial(_assemble(work, model, plans, inputs, results, errors, tolerance,
                             calibration, samples))
        raise
    report = _assemble(work, model, plans, inputs, results, errors, tolerance, calibration,
                       samples)
    if failures:
        report = msgspec.structs.replace(report, notes=(*report.notes, *failures))
    if results and not report.environment.get("onednn_version") and any(p.mkldnn for p in plans):
        progress("reading the oneDNN version")
        version = probe_onednn_version()
        report = msgspec.structs.replace(report, environment={**report.environment,
                                                          "onednn_version": version})
    return report


def _first_processes(work, model, plans, inputs, base_spec, calib_count, how, progress,
                     results, errors):
    """The first process of every configuration (it also evaluates the inputs), in plan
    order; fills `results` and `errors`; -> (the spec each ran, the model the later ones
    load: the reference's saved weights)."""
    (openmp, timeout), last_spec, model_used = how, {}, dict(model)
    for plan in plans:
        spec = {**base_spec, "model": model_used, "out_dir": str(work / plan.name),
                "config": {"name": plan.name, "kind": plan.kind, "calib_mode": plan.calib_mode}}
        if plan.kind == "int8" and plan.calib_mode != "none":
            spec["calib"] = ({"npy": str(work / "calib.npy")} if inputs["kind"] == "random"
                             else {"count": calib_count, "start": 0})
        if plan.name == REFERENCE and not model.get("params_path"):
            spec["save_params"] = str(work / "weights.params")
        progress(f"running {plan.name}")
        started = time.monotonic()
        try:
            results[plan.name] = run_worker(spec, worker_env(plan.env(), *openmp), timeout)
        except WorkerError as exc:
            errors[plan.name] = str(exc)
            progress(f"{plan.name} failed: {str(exc).splitlines()[0]}")
            continue
        progress(f"{plan.name} done in {time.monotonic() - started:.1f} s")
        if "save_params" in spec:
            model_used = {**model, "params_path": spec["save_params"]}
        last_spec[plan.name] = spec
    return last_spec, model_used


def _more_timing(work, plans, specs, model_used, samples, how, progress) -> list[str]:
    """Rounds 2..N of the timing processes (see the module docstring): each configuration's
    per-call ms appended to `samples[name]`; a failed process is left out and named in the
    returned notes (its configuration keeps the processes that ran)."""
    (openmp, timeout), failures = how, []
    rounds = specs[plans[0].name]["processes"] - 1 if plans else 0
    for rnd, plan in interleave(plans, rounds):
        label = f"{plan.name} #{rnd + 2}"
        spec = {**specs[plan.name], "model": model_used, "timing_only": True,
                "out_dir": str(work / f"{plan.name}-timing-{rnd + 2}")}
        spec.pop("save_params", None)
        progress(f"running {label}")
        started = time.monotonic()
        try:
            result = run_worker(spec, worker_env(plan.env(), *openmp), timeout)
        except WorkerError as exc:
            why = str(exc).splitlines()[0]
            progress(f"{label} failed: {why}")
            failures.append(f"timing process {label} failed, its latency pools the others: "
                            f"{why}")
            continue
        progress(f"{label} done in {time.monotonic() - started:.1f} s")
        samples[plan.name].append(result["timing"]["samples_ms"])
    return failures


def _assemble(work, model, plans, inputs, results, errors, tolerance,
              calibration, samples) -> AccuracyReport:
    ref = results.get(REFERENCE)
    ref_out = _load_outputs(work / REFERENCE, ref["outputs"]) if ref else None
    outs = {n: _load_outputs(work / n, r["outputs"]) for n, r in results.items()}
    # Labels from any configuration that ran (the same records in the same order in each):
    # a failed or timed-out reference must not take labelled top-1/top-5 with it.
    labelled = next((n for n, r in results.items() if r["labels"]), None)
    labels = np.load(work / labelled / "labels.npy") if labelled else None
    configs, comparisons = [], []
    for plan in plans:
        r = results.get(plan.name)
        if r is None:
            err = errors.get(plan.name) or "not run"
            configs.append(ConfigResult(plan.name, plan.kind, plan.mkldnn, plan.calib_mode,
                                        ok=False, error=err))
            continue
        config, cmp = _config_result(plan, outs[plan.name], ref_out, labels, tolerance,
                                     samples[plan.name])
        configs.append(config)
        if cmp is not None and plan.name != REFERENCE:
            comparisons.append(cmp)
    # The pairs the issue names beside "vs reference": fused vs unfused, INT8 vs FP32 fused.
    pairs = [("mkldnn-fused", "mkldnn")]
    pairs += [(p.name, "mkldnn-fused") for p in plans if p.kind == "int8"]
    for a, b in pairs:
        if a in outs and b in outs:
            comparisons.append(metrics.compare_outputs(a, outs[a], b, outs[b], tolerance))
    any_result = ref or next(iter(results.values()), None)
    weights = any_result["weights"] if any_result else None
    notes = _input_notes(weights, inputs, model)
    count = len(next(iter(outs.values()))[0]) if outs else inputs.get("count", 0)
    env = dict(any_result["environment"]) if any_result else {}
    binding = any_result.get("binding") if any_result else None
    if binding:
        env["binding"] = binding
        notes += [f"binding: {w}" for w in binding.get("warnings", ())]
    return AccuracyReport(
        model={k: v for k, v in model.items() if v is not None},
        param_count=any_result["param_count"] if any_result else None, weights=weights,
        inputs={**inputs, "count": count, "labelled": labels is not None},
        tolerance=tolerance, configs=tuple(configs), comparisons=tuple(comparisons),
        calibration=calibration,
        environment=env, notes=tuple(notes),
        reference_note=ref.get("reference_note") if ref else None)


def _config_result(plan, outs, ref_out, labels, tolerance, per_process_ms):
    """(ConfigResult, its Comparison with the reference or None) of one configuration that ran:
    labelled top-1/top-5, differences and agreement with the reference, latency over its
    timing processes (`per_process_ms`: per-call ms, one list per process)."""
    fields: dict = {}
    if labels is not None and metrics.is_classifier_output(outs[0]):
        fields["top1"] = metrics.topk_accuracy(outs[0], labels, 1)
        fields["top5"] = metrics.topk_accuracy(outs[0], labels, 5)
    cmp = None
    if ref_out is not None:
        cmp = metrics.compare_outputs(plan.name, outs, REFERENCE, ref_out, tolerance)
        fields.update(max_abs_diff=cmp.max_abs_diff, max_rel_diff=cmp.max_rel_diff,
                      top1_agreement=cmp.top1_agreement, top5_agreement=cmp.top5_agreement,
                      within_tolerance=None if plan.kind == "int8" else cmp.within_tolerance)
    groups = [p for p in per_process_ms if len(p)]
    return ConfigResult(plan.name, plan.kind, plan.mkldnn, plan.calib_mode, ok=True,
                        latency=pooled_latency_stats(groups),
                        samples_ms=tuple(v for p in groups for v in p), **fields), cmp


def _input_notes(weights: str | None, inputs: dict, model: dict) -> list[str]:
    notes = []
    if weights == "random":
        notes.append("weights are random (no --params, no local pretrained file): labelled "
                     "top-1/top-5 are meaningless here; only equivalence between "
                     "configurations is checked")
    if inputs["kind"] == "random":
        notes.append(f"inputs are random ({random_inputs_text(model)}): agreement and error "
                     "figures hold for these inputs; pass --data for labelled accuracy")
    return notes


def random_inputs_text(model: dict) -> str:
    """What the random inputs are, per input: `data:N,3,224,224:float32 image`."""
    return "; ".join(i.short() for i in ModelSpec.from_dict(model).input_specs)


def quick_equivalence(model: dict, *, num_inputs: int = 8, batch_size: int = 8,
                      threads: int | None = None, int8: bool = False,
                      timeout: float = 600.0) -> AccuracyReport:
    """The short check `profile` runs: reference vs MKL-DNN vs fused on random inputs.

    `model` is a ModelSpec dict (mxprof.mx.models); the weights are whatever it loads (random init
    included). No timing. With `int8`, a naive-calibrated INT8 configuration joins.
    """
    plans = plan_configs(["mkldnn", "mkldnn-fused"], ["naive"] if int8 else [])
    return run_accuracy(model, plans, inputs={"kind": "random", "count": num_inputs, "seed": 0},
                        batch_size=min(batch_size, num_inputs), calib_count=num_inputs,
                        timing={"batch": 1, "warmup": 0, "iterations": 0},
                        tolerance=metrics.Tolerance(), threads=threads, timeout=timeout)


def equivalence_summary(report: AccuracyReport) -> list[str]:
    """One line per configuration against the reference, for other commands' reports."""
    lines = []
    for c in report.configs:
        if c.name == REFERENCE:
            continue
        if not c.ok:
            lines.append(f"{c.name} vs {REFERENCE}: failed ({c.error})")
            continue
        verdict = {True: "within tolerance", False: "OUTSIDE tolerance",
                   None: "INT8, judged by agreement"}[c.within_tolerance]
        agree = "-" if c.top1_agreement is None else f"{c.top1_agreement:.3f}"
        comp = next((m for m in report.comparisons if m.config == c.name), None)
        reason = metrics.not_meaningful(comp) if comp is not None else None
        if reason:
            verdict = reason
        lines.append(f"{c.name} vs {REFERENCE}: max abs diff {c.max_abs_diff:.2e}, max rel diff "
                     f"{c.max_rel_diff:.2e}, top-1 agreement {agree} over "
                     f"{report.inputs.get('count')} inputs, {verdict}")
    return lines
