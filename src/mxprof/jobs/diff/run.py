"""Run a diff plan: the headline ratios, the layers, the primitives, the environment (pure).

The headline latency ratio is mxprof.timing.pooled.ratio over each file's per-process timing
samples (median A / median B with the hierarchical bootstrap's 95% interval; above 1 means B
is faster); the throughput ratio the same over the batch times per image, so two batch sizes
still compare. Files without samples give the plain ratio and no interval.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

import numpy as np

from mxprof._version import __version__
from mxprof.events import Note, OnEvent, ignore
from mxprof.jobs.diff import changes
from mxprof.jobs.diff import layers as L
from mxprof.jobs.diff.plan import DiffPlan
from mxprof.jobs.diff.records import DiffResult, LayerDiff, Side

Json = dict[str, Any]


def _side(path: str, report: Json) -> Side:
    env = report.get("environment") or {}
    rows = report.get("layers") or []
    groups = next((r.get("samples_ms") for r in rows if r.get("samples_ms")), None)
    lat = report.get("latency_ms") or {}
    return Side(path=path, model=report["model"]["name"],
                input_shape=tuple(report["model"].get("input_shape") or ()),
                created=report.get("created"),
                mxnet=(env.get("mxnet") or {}).get("version"),
                onednn=env.get("onednn_version"), **_where(report),
                latency_ms=lat.get("median"),
                layer_iterations=max((len(g) for g in groups), default=None) if groups else None,
                layer_processes=len(groups) if groups else None)


def _where(report: Json) -> Json:
    """The CPU, cores, CPU list and OpenMP threads a profile's workers ran with (what their
    runtime reported, else what was asked for)."""
    env = report.get("environment") or {}
    mx, aff = env.get("mxnet") or {}, env.get("affinity") or {}
    threads = mx.get("openmp_threads") or env.get("threads") \
        or (report.get("protocol") or {}).get("threads")
    return {"cpu_model": env.get("cpu_model"), "cores": env.get("physical_cores"),
            "cpus": mx.get("allowed_cpus") or aff.get("cpus"),
            "threads": threads if isinstance(threads, int) else None}


def _per_image(thr: Json | None) -> Json | None:
    """The batch-time dict scaled to ms per image (so different batch sizes compare)."""
    if not thr or not thr.get("batch_ms"):
        return None
    from mxprof.timing.pooled import samples_of
    groups = samples_of(thr["batch_ms"])
    if not groups:
        return None
    batch = float(thr["batch_size"])
    return {"samples_ms_per_process": [(g / 1e6 / batch).tolist() for g in groups]}


def headline(a: Json, b: Json) -> dict[str, Any]:
    from mxprof.timing.pooled import ratio
    lat = ratio(a.get("latency_ms"), b.get("latency_ms"), "latency")
    thr = ratio(_per_image(a.get("throughput")), _per_image(b.get("throughput")), "throughput")
    ips = tuple((r.get("throughput") or {}).get("images_per_s") for r in (a, b))
    return {"latency": lat.to_dict() if lat else None,
            "latency_ms": tuple((r.get("latency_ms") or {}).get("median") for r in (a, b)),
            "throughput": thr.to_dict() if thr else None, "images_per_s": ips}


def _with_roofline(d: LayerDiff, roof_a: dict, roof_b: dict) -> LayerDiff:
    import msgspec
    ea, ba = roof_a.get(d.name, (None, None))
    eb, bb = roof_b.get(d.name_b or d.name, (None, None))
    return msgspec.structs.replace(d, efficiency_a=ea, efficiency_b=eb, bound_a=ba, bound_b=bb)


def _layer_notes(plan: DiffPlan, diffs: list[LayerDiff]) -> list[str]:
    notes = []
    for side, path, report in (("A", plan.options.a, plan.a), ("B", plan.options.b, plan.b)):
        if not report.get("layers"):
            notes.append(f"{side} ({path}) has no per-layer times (its layers pass did not run)")
        elif not any(r.get("samples_ms") for r in report["layers"]):
            notes.append(f"{side} ({path}) has no per-iteration layer samples (written before "
                         "mxprof kept them): layer differences are shown without an interval")
    for side, path, report in (("A", plan.options.a, plan.a), ("B", plan.options.b, plan.b)):
        prims = report.get("primitives") or {}
        if (prims.get("totals") or {}).get("exec_count") and not prims.get("work"):
            notes.append(f"{side} ({path}): its primitives could not be attributed to layers "
                         f"(oneDNN {prims.get('onednn_version') or '?'} prints no timestamps "
                         "in its verbose lines): per-layer primitive changes need both files "
                         "attributed; its per-kind times are every line of its log over the "
                         "pass's iterations, the warm-up call's included")
    notes += [n for side, path, report in (("A", plan.options.a, plan.a),
                                           ("B", plan.options.b, plan.b))
              for n in [_disagreement(side, path, report)] if n]
    shift = _common_shift(diffs, plan.options.threshold)
    if shift:
        notes.append(shift)
    if diffs and all(d.significant is not None for d in diffs):
        procs = {d.pooled for d in diffs}
        if any("x 1 process," in p or p.endswith("x 1 process") for p in procs):
            notes.append("a side's layers come from one process: the intervals cover the "
                         "iteration-to-iteration noise only, not the run-to-run spread "
                         "(profile with --processes 2 or more)")
    return notes


def _incomplete_notes(plan: DiffPlan) -> list[str]:
    """A note per side whose profile stopped early (interrupted, a worker failed): what it
    lacks is left out of the comparison, never read as removed by the other build."""
    notes = []
    for side, path, report in (("A", plan.options.a, plan.a), ("B", plan.options.b, plan.b)):
        if report.get("complete") is False:
            notes.append(f"{side} ({path}) is an incomplete profile (interrupted, or a worker "
                         "failed): only the parts it holds are compared")
        if report.get("findings") is None:
            notes.append(f"{side} ({path}) has no findings (its diagnosis did not run): "
                         "findings are not compared")
    return notes


def _common_shift(diffs: list[LayerDiff], threshold: float) -> str | None:
    """A note when (nearly) every layer moved the same way by more than `threshold`: the
    machine's state (load, CPU frequency) or something every layer pays (thread wake-ups,
    the OpenMP runtime) changed, more likely than single layers."""
    ratios = np.array([d.ratio for d in diffs if d.ratio])
    if len(ratios) < 4:
        return None
    median = float(np.median(ratios))
    same = np.mean(ratios < 1) if median < 1 else np.mean(ratios > 1)
    if same < 0.75 or abs(np.log(median)) < np.log(1 + threshold):
        return None
    return (f"{100 * same:.0f}% of the layers moved the same way (median A/B {median:.2f}x): "
            "a change every layer pays (machine load, CPU frequency, threads, the OpenMP "
            "runtime: see the environment rows) is more likely than changes of single layers")


DISAGREE = 1.5  # per-process figures further apart than this: a disturbed process


def _disagreement(side: str, path: str, report: Json) -> str | None:
    """A note when one file's processes disagree (one disturbed by load or its OpenMP
    runtime): its intervals are then wide, and few layers can be called significant."""
    rows = [r.get("samples_ms") for r in report.get("layers") or () if r.get("samples_ms")]
    parts = []
    if rows and min(len(g) for g in rows) > 1:
        sums = [sum(float(np.median(g[i])) for g in rows if len(g) > i)
                for i in range(min(len(g) for g in rows))]
        if min(sums) > 0 and max(sums) / min(sums) > DISAGREE:
            parts.append("summed layer medians " + " vs ".join(f"{v:.3g}" for v in sums) + " ms")
    lat = (report.get("latency_ms") or {}).get("per_process_median_ms") or []
    if len(lat) > 1 and min(lat) > 0 and max(lat) / min(lat) > DISAGREE:
        parts.append("latency medians " + " vs ".join(f"{v:.3g}" for v in lat) + " ms")
    if not parts:
        return None
    return (f"{side} ({path}): its processes disagree ({'; '.join(parts)}): one was disturbed "
            "(machine load, its OpenMP threads); the intervals cover that, so they are wide")


def run(plan: DiffPlan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[DiffResult], None] | None = None) -> DiffResult:
    """The DiffResult of `plan` (mxprof.jobs.diff.plan); never raises for what the files lack:
    a missing section leaves its part empty and a note says so."""
    o, a, b = plan.options, plan.a, plan.b
    pairs, only_a, only_b = L.match_layers(a.get("layers") or [], b.get("layers") or [], o.match)
    if not (a.get("layers") and b.get("layers")):
        # One side never ran its layers pass (interrupted, --passes): its layers are unknown,
        # not "fused away"; _layer_notes says which side lacks them.
        only_a, only_b = [], []
    diffs = L.compare_layers(pairs, threshold=o.threshold, floor=o.floor)
    roof_a, roof_b = changes.roofline_of(a), changes.roofline_of(b)
    if roof_a or roof_b:
        diffs = [_with_roofline(d, roof_a, roof_b) for d in diffs]
    names = {ra["name"]: rb["name"] for ra, rb in pairs}
    notes = [*plan.notes, *_incomplete_notes(plan), *_layer_notes(plan, diffs)]
    for n in notes:
        on_event(Note(text=n))
    m = sum(1 for d in diffs if d.significant is not None)
    return DiffResult(
        tool=f"mxprof {__version__} diff",
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        a=_side(o.a, a), b=_side(o.b, b), match=o.match, threshold=o.threshold,
        **headline(a, b), layers=diffs,
        layers_diff_ms=float(np.sum([d.diff_ms for d in diffs])) if diffs else None,
        significant_share=L.significant_share(diffs),
        only_a=L.one_sided(only_a), only_b=L.one_sided(only_b),
        primitives=changes.primitive_changes(a, b, names),
        primitive_totals=changes.primitive_totals(a, b),
        findings=(changes.finding_changes(a, b)
                  if a.get("findings") is not None and b.get("findings") is not None else []),
        environment=changes.environment_changes(a, b),
        method=L.method(o.threshold, o.floor, m), notes=notes)
