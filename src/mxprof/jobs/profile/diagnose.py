"""Why a profiled model is slow: the roofline section and the findings (pure functions).

Inputs, all from one profile report (`mxprof.jobs.profile.report.build_report`):
`primitives.work` (per-primitive calls, ms, flops, bytes per layer, from the verbose pass),
`primitives.subnormals` (parameters holding subnormal values), `threads` (busy threads during
the batch-1 timing), `layers` (per-layer ms, execution order), `latency_ms`, `environment.isa`;
and the machine ceilings (`mxprof.jobs.ceilings.machine_ceilings`).

`diagnose(report, ceilings)` -> findings, most costly first, over the primitives placed on the
roofline (`mxprof.jobs.profile.roofline_section.primitive_frame`; the report's roofline
section is built there too). Each rule returns findings only with evidence from this run:

- `subnormal_parameters`: parameters with nonzero |x| < 1.18e-38 (FP32's smallest normal).
- `same_shape_below_roof`: a convolution / inner product / matmul far below its roof (< 1/3 of
  the efficiency, fastest execution) while the same kind, implementation and shape reaches at
  least 25% of it in another layer.
- `reference_kernels`: `ref:` / `*_ref:` kernels, `gemm:blas` convolutions, `simple:` reorders
  on a machine with AVX2 or AVX-512 (oneDNN has jit kernels there).
- `plain_layouts`, `weights_reordered_every_call`, `per_call_reorders`: layouts and reorders
  (the primitive tests of `mxprof.onednn.findings`, shared with `fusion`).
- `threads_idle`: fewer threads busy than CPUs bound (`mxprof.cpu.threads`).
- `outside_onednn`: layers that ran no oneDNN compute primitive (reorders aside), when they hold
  >= 5% of the layer time.
- `small_gemm_below_roof`: inner products / matmuls at batch <= 4 below 30% of their roof, with
  the batch at which the roofline model puts them on the compute roof.
"""

from __future__ import annotations

import re
from typing import Any

from mxprof.jobs.ceilings import roof
from mxprof.jobs.profile.roofline_section import primitive_frame
from mxprof.onednn import findings as shared
from mxprof.onednn.findings import Finding

OUTSIDE_SHARE = 0.05  # below 5% of the layer time, MXNet's own kernels are not worth a line
SAME_SHAPE_RATIO = 3.0
SMALL_BATCH, SMALL_EFFICIENCY = 4, 0.30


# ---- rules ---------------------------------------------------------------------------------

def _layer_order(report) -> list[str]:
    return [str(r["name"]) for r in report.get("layers") or []]


def subnormal_parameters(report, prims) -> list[Finding]:
    subs = (report.get("primitives") or {}).get("subnormals") or []
    if not subs:
        return []
    order = _layer_order(report)
    hit: list[str] = []
    for s in subs:
        stem = re.escape(s["param"].split(":")[-1].rsplit("_", 1)[0])
        own = [i for i, name in enumerate(order) if re.search(rf"(^|_){stem}(_|$)", name)]
        # The layer holding the parameter and the one after it, which reads its output.
        hit += [order[j] for i in own for j in (i, i + 1) if j < len(order)]
    layers = tuple(dict.fromkeys(hit)) or tuple(s["param"] for s in subs)
    ms = _subnormal_stake(report, subs)
    evidence = "; ".join(f"{s['param']}: {s['subnormal']:,} of {s['size']:,} values subnormal "
                         f"({s['share']:.0%})" for s in subs[:6])
    return [Finding(
        "subnormal_parameters", "parameters hold subnormal numbers", layers, evidence,
        "zero them before inference: for each parameter p, "
        "p.set_data(mx.nd.where(p.data().abs() < 1.18e-38, mx.nd.zeros_like(p.data()), "
        "p.data())); MXNet 1.9.1 has no flush-to-zero switch",
        {"ms_per_iter": ms, "estimate": "per parameter, the time of the layer holding it times "
                                        "the share of its values that are subnormal (the "
                                        "assists scale with the subnormal operands; the whole "
                                        "layers' time would be the upper bound)"})]


def _subnormal_stake(report, subs) -> float:
    """What zeroing the subnormal parameters saves, estimated: each parameter's layer time
    times its subnormal share. The layer is the one whose name the parameter's starts with."""
    times = {str(r["name"]): float(r["ms"] or 0.0) for r in report.get("layers") or []}
    total = 0.0
    for s in subs:
        stem = s["param"].split(":")[-1].rsplit("_", 1)[0]
        own = [ms for name, ms in times.items() if re.search(rf"(^|_){re.escape(stem)}(_|$)",
                                                               name)]
        total += (max(own) if own else 0.0) * float(s["share"])
    return total


def same_shape_below_roof(report, prims) -> list[Finding]:
    if prims is None:
        return []
    out = []
    heavy = prims[prims["kind"].isin(["convolution", "deconvolution", "inner_product", "matmul"])]
    # The fastest execution, not the mean: a call preempted on a shared machine is not a cause;
    # a layer slow in every iteration is.
    col = "min_exec_ms" if "min_exec_ms" in heavy.columns else "median_exec_ms"
    eff = heavy["roof_ms"] / (heavy[col] * heavy["calls"])
    heavy = heavy.assign(steady_efficiency=eff)
    for (kind, impl, problem), g in heavy.groupby(["kind", "impl", "problem"], sort=False):
        g = g[g["steady_efficiency"].notna()]
        if g["layer"].nunique() < 2:
            continue
        best = float(g["steady_efficiency"].max())
        slow = g[g["steady_efficiency"] < best / SAME_SHAPE_RATIO]
        if slow.empty or best < 0.25:
            continue
        lost = float((slow["ms"] - slow["roof_ms"] / best).sum())
        out.append(Finding(
            "same_shape_below_roof", f"{kind} {problem} runs far slower in some layers",
            tuple(str(x) for x in slow["layer"]),
            f"{impl} reaches {best:.0%} of its roof in one layer and "
            f"{float(slow['steady_efficiency'].min()):.1%} in {', '.join(map(str, slow['layer'][:4]))}",
            "same shape and kernel, different speed in every iteration: the inputs differ. "
            "Check for subnormal values (parameters: see subnormal_parameters; activations "
            "after PReLU/LeakyReLU with tiny slopes) and zero them"
            + _load_caveat(),
            {"ms_per_iter": lost, "estimate": "ms above the time at the best layer's efficiency"}))
    return out


def _load_caveat() -> str:
    """On an overloaded machine (load average above the CPU count) whole primitives get
    preempted: say so beside a timing-based finding."""
    import os
    try:
        load, cpus = os.getloadavg()[0], len(os.sched_getaffinity(0))
    except (OSError, AttributeError):
        return ""
    return (f"; note: load average {load:.1f} on {cpus} CPUs now, so other processes may "
            "explain it: re-run on a quiet machine first" if load > cpus else "")


def _above_roof_ms(rows) -> float:
    return float((rows["ms"] - rows["roof_ms"]).clip(lower=0).sum())


def reference_kernels(report, prims) -> list[Finding]:
    isa = set((report.get("environment") or {}).get("isa") or ())
    if prims is None or not isa & {"avx2", "avx512f"}:
        return []
    slow = prims[[shared.is_reference_impl(str(k), str(i))
                  for k, i in zip(prims["kind"], prims["impl"])]]
    if slow.empty:
        return []
    parts = [f"{r.kind} {r.impl} in {r.layer} ({r.layer_op}), {r.ms:.3f} ms/iter"
             for r in slow.itertuples()]
    ops = sorted({str(o) for o in slow["layer_op"]})
    mixed = any(k == "sum" and len(set(shared.memory_tags(str(m)).values())) > 1
                for k, m in zip(slow["kind"], slow["mds"]))
    fix = (f"the operator(s) {', '.join(ops)} get inputs in different layouts, so oneDNN falls "
           "back to a reference sum: fuse the sum into the convolution (optimize_for with "
           "backend='MKLDNN') or keep both branches in one layout" if mixed else
           f"the operator(s) {', '.join(ops)} with these attributes have no jit kernel in this "
           "oneDNN for this shape, layout or data type: change the attribute or replace the "
           "operator (the implementation names the kernel oneDNN fell back to)")
    return [Finding(
        "reference_kernels", "reference (unoptimised) oneDNN kernels run",
        tuple(str(x) for x in slow["layer"]), "; ".join(parts[:6]) +
        f"; the machine has {', '.join(sorted(isa & {'avx2', 'avx512f', 'avx512_vnni'}))}",
        fix,
        {"ms_per_iter": _above_roof_ms(slow),
         "estimate": "ms above the roof of these primitives"})]


def layouts_and_reorders(report, prims) -> list[Finding]:
    if prims is None:
        return []
    out = []
    tags = [shared.memory_tags(str(m)) for m in prims["mds"]]
    plain = prims[[k in ("convolution", "deconvolution") and
                   any(shared.is_plain(t.get(a, "")) for a in ("src", "wei"))
                   for k, t in zip(prims["kind"], tags)]]
    if not plain.empty:
        out.append(Finding(
            "plain_layouts", "convolutions run on plain NCHW/OIHW layouts",
            tuple(str(x) for x in plain["layer"]),
            f"{plain['calls'].sum():.0f} convolutions per iteration with plain src or weights "
            f"({', '.join(sorted(set(plain['impl'])))})",
            "oneDNN is fastest on the blocked layouts it picks itself: plain tensors mean "
            "MKL-DNN is off for the operator or an unsupported shape/dtype forced the generic path",
            {"ms_per_iter": _above_roof_ms(plain),
             "estimate": "ms above the roof of these convolutions"}))
    reorders = prims[prims["kind"] == "reorder"]
    weights = reorders[[shared.is_weight_reorder("reorder", str(m)) for m in reorders["mds"]]]
    if not weights.empty:
        out.append(Finding(
            "weights_reordered_every_call", "weights are reordered on every call",
            tuple(str(x) for x in weights["layer"]),
            f"{weights['calls'].sum():.0f} weight reorders per iteration, "
            f"{weights['ms'].sum():.3f} ms per iteration, in every timed iteration",
            "hybridize(static_alloc=True, static_shape=True) (with optimize_for for fused "
            "graphs) so the reordered weights are kept between calls",
            {"ms_per_iter": float(weights["ms"].sum()), "estimate": "their whole time"}))
    data = reorders.drop(weights.index)
    total = float(prims["ms"].sum()) or 1.0
    if data["calls"].sum() >= 3 and data["ms"].sum() / total >= 0.10:
        out.append(Finding(
            "per_call_reorders", "data reorders take a large share of the primitive time",
            tuple(str(x) for x in data["layer"]),
            f"{data['calls'].sum():.0f} data reorders per iteration, {data['ms'].sum():.3f} ms "
            f"= {data['ms'].sum() / total:.0%} of the primitive time",
            "neighbouring layers disagree on layouts: an operator outside oneDNN (see "
            "outside_onednn) or a fused graph that changes layout; keep the graph in oneDNN",
            {"ms_per_iter": float(data["ms"].sum()), "estimate": "their whole time"}))
    return out


def threads_idle(report, prims) -> list[Finding]:
    th = report.get("threads") or {}
    busy, cpus = th.get("busy_threads"), th.get("cpus_bound")
    if not busy or not cpus or busy >= cpus:
        return []
    lat = (report.get("latency_ms") or {}).get("median") or 0.0
    configured = (report.get("protocol") or {}).get("threads")
    return [Finding(
        "threads_idle", "fewer threads busy than CPUs bound", (),
        f"{busy} thread(s) busy (>= {th.get('busy_share', 0.25):.0%} of the busiest one's CPU "
        "time) "
        f"of {cpus} CPUs bound during the batch-1 timing; parallelism {th.get('parallelism') or 0:.2f}; "
        f"OpenMP threads {configured or 'runtime default'}",
        f"run with --threads {cpus} (OMP_NUM_THREADS={cpus}), one per bound CPU",
        {"ms_per_iter": lat * (1 - busy / cpus),
         "estimate": "latency x idle share, if the work scaled perfectly (an upper bound)"})]


def outside_onednn(report, prims) -> list[Finding]:
    layers = report.get("layers") or []
    if prims is None or not layers:
        return []
    # Reorders do not count: they are what MXNet runs to hand its own kernels plain tensors.
    inside = set(prims.loc[prims["kind"] != "reorder", "layer"].astype(str))
    out_rows = [r for r in layers if str(r["name"]) not in inside and (r["ms"] or 0) > 0]
    total = sum(float(r["ms"] or 0.0) for r in layers) or 1.0
    ms = sum(float(r["ms"]) for r in out_rows)
    if ms / total < OUTSIDE_SHARE:
        return []
    out_rows.sort(key=lambda r: -float(r["ms"]))
    lat = (report.get("latency_ms") or {}).get("median")
    of_latency = f" and {ms / lat:.0%} of the {lat:.2f} ms latency" if lat else ""
    return [Finding(
        "outside_onednn", "layers run outside oneDNN",
        tuple(str(r["name"]) for r in out_rows),
        f"{len(out_rows)} layers ran no oneDNN compute primitive: {ms:.3f} ms = {ms / total:.0%} "
        f"of the layer time{of_latency}; " + ", ".join(f"{r['name']} ({r['op']}, {float(r['ms']):.3f} ms)"
                                   for r in out_rows[:5]),
        "these operators run MXNet's own CPU kernels: replace them with oneDNN-backed ones "
        "(e.g. PReLU -> Activation/LeakyReLU('leaky'), or fold them into a neighbour)",
        {"ms_per_iter": ms, "estimate": "their whole time (no roof known for them)"})]


def _batch_at_roof(row, ceilings) -> int | None:
    """Smallest batch whose intensity reaches the ridge (peak / bandwidth), weights fixed."""
    m = re.search(r"mb(\d+)ic(\d+).*?oc(\d+)", str(row.problem))
    if not m or ceilings is None:
        return None
    ic, oc = int(m.group(2)), int(m.group(3))
    size = row.bytes / max(int(m.group(1)) * ic + ic * oc + int(m.group(1)) * oc, 1)
    ridge = ceilings.peak(str(row.compute)) / ceilings.bandwidth_gbs
    for b in (2 ** k for k in range(13)):
        if 2 * b * ic * oc / (size * (b * ic + ic * oc + b * oc)) >= ridge:
            return b
    return None


def small_gemm_below_roof(report, prims, ceilings=None) -> list[Finding]:
    if prims is None:
        return []
    out = []
    for row in prims[prims["kind"].isin(["inner_product", "matmul"])].itertuples():
        m = re.search(r"mb(\d+)", str(row.problem))
        if not m or int(m.group(1)) > SMALL_BATCH or not row.efficiency or \
                row.efficiency >= SMALL_EFFICIENCY:
            continue
        at = _batch_at_roof(row, ceilings)
        out.append(Finding(
            "small_gemm_below_roof", f"small {row.kind} far below its roof",
            (str(row.layer),),
            f"{row.problem} ({row.impl}) at {row.efficiency:.1%} of its roof, "
            f"{row.attained_gflops or 0:.2f} GFLOP/s, {row.ms:.3f} ms/iter",
            "batch requests: at batch 1 the weights are read for one row each call"
            + (f"; the roofline model puts it on the compute roof from batch {at}" if at else ""),
            {"ms_per_iter": max(float(row.ms - row.roof_ms), 0.0),
             "estimate": "ms above the roof"}))
    return out


RULES = (subnormal_parameters, same_shape_below_roof, reference_kernels, layouts_and_reorders,
         threads_idle, outside_onednn)


def diagnose(report: dict[str, Any], ceilings_result: dict[str, Any] | None = None
             ) -> list[Finding]:
    """Every rule over one report; most costly (effect ms per iteration) first."""
    ceilings = roof(ceilings_result) if ceilings_result else None
    prims = primitive_frame(report, ceilings)
    found: list[Finding] = []
    for rule in RULES:
        found += rule(report, prims)
    found += small_gemm_below_roof(report, prims, ceilings)
    return sorted(found, key=lambda f: -f.cost_ms)
