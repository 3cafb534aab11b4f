"""What changed besides the times (pure): primitives per layer, roofline, findings, environment.

- `primitive_changes(a, b, names)`: per matched layer (`names`: A layer -> B layer), from each
  file's primitive work rows (`primitives.work`, every primitive the primitives pass timed) and
  its reorders (`primitives.reorders.layers`): an implementation that changed for a primitive
  kind (`brgconv:avx512_core` -> `ref:any`; "reference" when B's is a reference kernel and A's
  was not), memory layouts that changed, reorders added or gone, primitive kinds added or gone.
- `primitive_totals(a, b)`: per-kind ms per iteration, the reorder share, and the creation count
  and ms of each file (creation lines are only in verbose logs of level 2; zero otherwise).
- `roofline_of(report)`: layer -> (efficiency, bound) from the roofline section.
- `finding_changes(a, b)`: findings whose rule is in one file only.
- `environment_changes(a, b)`: versions, ISA, CPU, threads, wait policy, binding, flags
  (MXNET_*, DNNL_*, MKLDNN_*, KMP_*, OMP_*), batch and shape, machine load; only what differs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from mxprof.jobs.diff.records import EnvChange, FindingChange, PrimitiveChange

Json = dict[str, Any]
FLAG_PREFIXES = ("MXNET_", "DNNL_", "MKLDNN_", "KMP_", "OMP_", "GOMP_", "MKL_")


def _is_reference(impl: str | None) -> bool:
    return bool(impl) and impl.startswith("ref")


def _work_by_layer(report: Json) -> dict[str | None, list[Json]]:
    out: dict[str | None, list[Json]] = defaultdict(list)
    for row in (report.get("primitives") or {}).get("work") or ():
        out[row.get("layer")].append(row)
    return out


def _reorders_by_layer(report: Json) -> dict[str, set[str]]:
    reorders = (report.get("primitives") or {}).get("reorders") or {}
    return {r["layer"]: set(r.get("conversions") or ()) for r in reorders.get("layers") or ()}


def _by_kind(rows: list[Json]) -> dict[str, list[Json]]:
    out: dict[str, list[Json]] = defaultdict(list)
    for r in rows:
        if r.get("kind") != "reorder":
            out[str(r.get("kind"))].append(r)
    return out


def _ms(rows: list[Json]) -> float:
    return sum(float(r.get("ms") or 0.0) for r in rows)


def _layer_changes(layer: str, rows_a: list[Json], rows_b: list[Json]) -> list[PrimitiveChange]:
    out = []
    kinds_a, kinds_b = _by_kind(rows_a), _by_kind(rows_b)
    for kind in sorted(set(kinds_a) | set(kinds_b)):
        ka, kb = kinds_a.get(kind, []), kinds_b.get(kind, [])
        base = dict(layer=layer, kind=kind, ms_a=_ms(ka) if ka else None,
                    ms_b=_ms(kb) if kb else None)
        if not ka or not kb:
            impls = ", ".join(sorted({str(r.get("impl")) for r in ka or kb}))
            out.append(PrimitiveChange(what="primitive gone" if ka else "primitive added",
                                       a=impls if ka else None, b=None if ka else impls, **base))
            continue
        impl_a = ", ".join(sorted({str(r.get("impl")) for r in ka}))
        impl_b = ", ".join(sorted({str(r.get("impl")) for r in kb}))
        if impl_a != impl_b:
            became_ref = any(_is_reference(r.get("impl")) for r in kb) and not any(
                _is_reference(r.get("impl")) for r in ka)
            out.append(PrimitiveChange(what="reference" if became_ref else "implementation",
                                       a=impl_a, b=impl_b, **base))
        mds_a = sorted({str(r.get("mds")) for r in ka if r.get("mds")})
        mds_b = sorted({str(r.get("mds")) for r in kb if r.get("mds")})
        if mds_a and mds_b and mds_a != mds_b:
            out.append(PrimitiveChange(what="layout", a="; ".join(mds_a), b="; ".join(mds_b),
                                       **base))
    return out


def primitive_changes(a: Json, b: Json, names: dict[str, str]) -> list[PrimitiveChange]:
    """Primitive changes of every matched layer (A name -> B name), in A's layer order."""
    work_a, work_b = _work_by_layer(a), _work_by_layer(b)
    if not work_a or not work_b:
        return []
    reo_a, reo_b = _reorders_by_layer(a), _reorders_by_layer(b)
    out = []
    for name_a, name_b in names.items():
        out += _layer_changes(name_a, work_a.get(name_a, []), work_b.get(name_b, []))
        conv_a, conv_b = reo_a.get(name_a, set()), reo_b.get(name_b, set())
        ms_a = _ms([r for r in work_a.get(name_a, []) if r.get("kind") == "reorder"])
        ms_b = _ms([r for r in work_b.get(name_b, []) if r.get("kind") == "reorder"])
        for c in sorted(conv_b - conv_a):
            out.append(PrimitiveChange(layer=name_a, what="reorder added", kind="reorder", b=c,
                                       ms_a=ms_a or None, ms_b=ms_b or None))
        for c in sorted(conv_a - conv_b):
            out.append(PrimitiveChange(layer=name_a, what="reorder gone", kind="reorder", a=c,
                                       ms_a=ms_a or None, ms_b=ms_b or None))
    return out


def primitive_totals(a: Json, b: Json) -> Json:
    """{"by_kind": {kind: [ms A, ms B]}, "reorder_share": [A, B], "create_count": [A, B],
    "create_ms": [A, B], "outside_reorders": [A, B]}; {} when a file has no primitives pass."""
    pa, pb = a.get("primitives"), b.get("primitives")
    if not pa or not pb:
        return {}
    ta, tb = pa.get("totals") or {}, pb.get("totals") or {}
    kinds_a, kinds_b = _kinds(pa, ta), _kinds(pb, tb)
    return {
        "by_kind": {k: [kinds_a.get(k), kinds_b.get(k)]
                    for k in sorted(set(kinds_a) | set(kinds_b),
                                    key=lambda k: -(kinds_a.get(k) or kinds_b.get(k) or 0))},
        "reorder_share": [pa.get("reorder_share"), pb.get("reorder_share")],
        "create_count": [ta.get("create_count"), tb.get("create_count")],
        "create_ms": [ta.get("create_ms"), tb.get("create_ms")],
        "outside_reorders": [(pa.get("reorders") or {}).get("outside_count"),
                             (pb.get("reorders") or {}).get("outside_count")],
    }


def _kinds(prims: Json, totals: Json) -> dict[str, float]:
    """ms per iteration by primitive kind: the timed iterations' table, or (a log whose lines
    could not be attributed to iterations: no timestamps) every exec line of the log over the
    pass's iterations, warm-up included."""
    rows = prims.get("by_kind") or ()
    if rows:
        return {r["kind"]: r["ms"] for r in rows}
    n = max(int(prims.get("iterations") or 1), 1)
    return {k: v["ms"] / n for k, v in (totals.get("by_kind") or {}).items()}


def roofline_of(report: Json) -> dict[str, tuple[float | None, str | None]]:
    return {str(r.get("layer")): (r.get("efficiency"), r.get("bound"))
            for r in (report.get("roofline") or {}).get("layers") or ()}


def finding_changes(a: Json, b: Json) -> list[FindingChange]:
    fa = {f["rule"]: f for f in a.get("findings") or ()}
    fb = {f["rule"]: f for f in b.get("findings") or ()}
    out = [FindingChange(rule=r, title=f.get("title", r), side="A only",
                         layers=list(f.get("layers") or ()))
           for r, f in fa.items() if r not in fb]
    out += [FindingChange(rule=r, title=f.get("title", r), side="B only",
                          layers=list(f.get("layers") or ())) for r, f in fb.items() if r not in fa]
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def _facts(report: Json) -> dict[str, Any]:
    env = report.get("environment") or {}
    mx = env.get("mxnet") or {}
    aff = env.get("affinity") or {}
    proto = report.get("protocol") or {}
    model = report.get("model") or {}
    facts = {
        "MXNet version": mx.get("version") or (env.get("packages") or {}).get("mxnet"),
        "MXNet library": mx.get("library"),
        "MKL-DNN compiled / enabled": f"{mx.get('mkldnn_compiled')} / {mx.get('mkldnn_enabled')}"
        if mx else None,
        "oneDNN version": env.get("onednn_version")
        or (report.get("primitives") or {}).get("onednn_version"),
        "oneDNN ISA": ((report.get("primitives") or {}).get("header") or {}).get("isa"),
        "CPU model": env.get("cpu_model"),
        "ISA": env.get("isa"),
        "logical CPUs / cores / sockets": f"{env.get('logical_cpus')} / "
                                          f"{env.get('physical_cores')} / {env.get('sockets')}",
        "host": env.get("hostname"),
        "OpenMP threads": proto.get("threads"),
        "OpenMP runtime": mx.get("openmp_runtime") or aff.get("openmp_runtime"),
        "wait policy": (env.get("wait_policy") or {}).get("policy"),
        "CPUs bound": aff.get("cpus"),
        "memory bound": aff.get("membind"),
        "batch size": proto.get("batch_size"),
        "input shape": model.get("input_shape"),
        "weights": model.get("weights"),
        "python": env.get("python"),
        "numpy": (env.get("packages") or {}).get("numpy"),
    }
    flags = {**(env.get("env") or {}), **(aff.get("openmp_env") or {})}
    for key, value in flags.items():
        if key.startswith(FLAG_PREFIXES):
            facts[key] = value
    facts["machine load (busy workers)"] = _load_text(report)
    return facts


def _load_text(report: Json) -> str | None:
    loads = [r for r in report.get("machine_load") or () if r]
    if not loads:
        return None
    busy = sum(1 for r in loads if r.get("busy"))
    worst = max(float(r.get("other_cpu_fraction") or 0.0) for r in loads)
    return f"{busy} of {len(loads)} busy; others used up to {100 * worst:.0f}% of the CPUs"


def environment_changes(a: Json, b: Json) -> list[EnvChange]:
    """Every fact of `_facts` that differs (a flag set on one side only included)."""
    fa, fb = _facts(a), _facts(b)
    out = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        va, vb = _text(fa.get(key)), _text(fb.get(key))
        if va != vb:
            out.append(EnvChange(what=key, a=va, b=vb))
    return out
