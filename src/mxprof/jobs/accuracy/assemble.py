"""One accuracy run's report from its workers' outputs: labelled top-1/top-5, differences and
agreement with the reference, latency pooled over each configuration's timing processes, and
what the inputs and weights make of those figures (mxprof.jobs.accuracy.execute runs the
workers; this reads what they left in the work folder).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mxprof.jobs.accuracy import metrics as metrics
from mxprof.jobs.accuracy.records import (
    REFERENCE,
    AccuracyReport,
    ConfigResult,
    pooled_latency_stats,
)
from mxprof.mx.models import ModelSpec


def _load_outputs(out_dir: Path, count: int) -> list[np.ndarray]:
    return [np.load(out_dir / f"output_{i}.npy", mmap_mode="r") for i in range(count)]


def assemble(work, model, plans, inputs, results, errors, tolerance,
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
