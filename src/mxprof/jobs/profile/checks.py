"""The companion checks of a profile: the one-line fusion summary and the output equivalence.

Two layouts. "shared" (the default): `with_companions(specs, checks)` asks the timing
processes the main run starts anyway to take the checks' measurements after their timed calls
(mxprof.jobs.profile.companions: the fused graph timed in every MKL-DNN timing process, the
outputs of the fixed inputs from the first timing process of each configuration, the same
weights everywhere), and `shared_checks(results, checks)` turns them into the same two check
results with no worker of their own. "legacy": `run_checks(spec, checks, ...)` runs each in its
own workers, on the main run's model (weights included), threads, CPUs, memory nodes, wait
policy and timing protocol (`spec`, its first `RunSpec`). Both record a failure as a result
instead of raising: the measurements of the main run must survive a failed companion.
`started(label)` and `finished(label, status)` report progress. Every worker of a legacy check
binds itself (mxprof.cpu.placement.bind_self), as the main run's workers do; this process is
never bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxprof.jobs.profile.spec import RunSpec

CHECKS = ("fusion", "equivalence")


def _nothing(*_args) -> None:
    return None


def binding_of(spec: RunSpec):
    """The main workers' CPUs and memory nodes (lists or None), --physical-only applied.
    Raises ValueError for a CPU or node list the machine does not have."""
    from mxprof.cpu.binding import select_cpus, select_nodes
    from mxprof.cpu.topology import read_topology
    if spec.cpus is None and spec.membind is None and not spec.physical_only:
        return None, None
    topology = read_topology()
    cpus = (select_cpus(topology, spec.cpus, physical_only=spec.physical_only)
            if spec.cpus is not None or spec.physical_only else None)
    nodes = None if spec.membind is None else select_nodes(topology, spec.membind)
    return cpus, nodes


def placement_of(spec: RunSpec):
    """The main workers' mxprof.cpu.placement.Placement, as their spec carries it."""
    from mxprof.cpu.placement import Placement
    return Placement(cores=spec.cpus, membind=spec.membind, physical_only=spec.physical_only,
                     threads=spec.threads, threads_why=spec.threads_why or "runtime default",
                     wait_policy=spec.wait_policy or "passive")


def fusion_summary(spec: RunSpec, *, timeout: float, started=_nothing) -> dict[str, Any]:
    """{"status", "summary", ...}: unfused vs fused on the main run's timing protocol."""
    model = spec.model
    started("fusion summary: unfused and fused workers")
    try:
        from mxprof.jobs.fusion.assemble import FusionOptions
        from mxprof.jobs.fusion.job import run_fusion
        rep = run_fusion(FusionOptions(
            model=model.name, shape=model.batch_shape(1), switches=(), processes=1,
            spec=model.to_dict(),  # its inputs and its weights (--params), whatever the source
            warmup=spec.protocol.warmup, iterations=spec.protocol.iterations or 10,
            min_time_s=0.0 if spec.protocol.iterations else spec.protocol.min_time,
            trace_iterations=2, threads=spec.threads, timeout_s=timeout,
            wait_policy=spec.wait_policy, placement=placement_of(spec).to_dict()))
    except Exception as exc:  # noqa: BLE001 - the main report must survive a failed companion
        return {"status": "failed", "summary": f"fusion: failed ({exc})"}
    return {"status": "ok", "summary": rep["summary"],
            **{k: rep.get(k) for k in ("unfused_ms", "fused_ms", "gain_percent")},
            "groups": len(rep.get("groups") or ()),
            "weights": (rep.get("environment") or {}).get("weights"),
            "findings": [f.get("title") for f in rep.get("findings") or ()]}


def equivalence(spec: RunSpec, *, timeout: float, started=_nothing) -> dict[str, Any]:
    """Reference vs MKL-DNN vs fused outputs on 4 random inputs, same weights and binding."""
    started("equivalence check: reference, MKL-DNN and fused workers")
    try:
        from mxprof.jobs.accuracy.execute import equivalence_summary, plan_configs, run_accuracy
        from mxprof.jobs.accuracy.metrics import Tolerance
        placement = placement_of(spec)
        eq = run_accuracy(spec.model.to_dict(), plan_configs(["mkldnn", "mkldnn-fused"], []),
                          inputs={"kind": "random", "count": 4, "seed": 0}, batch_size=4,
                          calib_count=4, timing={"batch": 1, "warmup": 0, "iterations": 0},
                          tolerance=Tolerance(), threads=spec.threads, placement=placement.to_dict() if placement.bound else None,
                          timeout=timeout, wait_policy=spec.wait_policy)
    except Exception as exc:  # noqa: BLE001 - the main report must survive a failed companion
        return {"status": "failed", "lines": [f"failed ({exc})"]}
    configs = [c for c in eq.configs if c.name != "mkldnn-off"]
    ok = all(c.ok for c in eq.configs) and all(c.within_tolerance is not False for c in configs)
    # What the check really ran with, so a reader can see it matched the main run.
    return {"status": "ok" if ok else "failed", "inputs": 4, "weights": eq.weights,
            "binding": (eq.environment or {}).get("binding"), "threads": spec.threads,
            "lines": equivalence_summary(eq),
            "configs": [{"name": c.name, "max_abs_diff": c.max_abs_diff,
                         "max_rel_diff": c.max_rel_diff, "top1_agreement": c.top1_agreement,
                         "within_tolerance": c.within_tolerance} for c in configs]}


def run_checks(spec: RunSpec, checks: Sequence[str], *, timeout: float, started=_nothing,
               finished=_nothing) -> dict[str, Any]:
    """{check: result} for each of `checks` ("fusion", "equivalence"); see the module
    docstring. Raises ValueError for an unknown check."""
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(sorted(unknown))}; choose from "
                         f"{','.join(CHECKS)}")
    out: dict[str, Any] = {}
    if "fusion" in checks:
        out["fusion"] = fusion_summary(spec, timeout=timeout, started=started)
        finished("fusion summary", out["fusion"]["status"])
    if "equivalence" in checks:
        out["equivalence"] = equivalence(spec, timeout=timeout, started=started)
        finished("equivalence check", out["equivalence"]["status"])
    return out


# ---- the "shared" layout: the checks from the timing processes --------------------------


def with_companions(specs: Sequence[RunSpec], checks: Sequence[str]) -> list[RunSpec]:
    """`specs` with the companion measurements `checks` need (see the module docstring): the
    fused timing in every MKL-DNN timing spec (fusion, and equivalence for the fused outputs),
    the outputs in the first timing spec of each configuration (equivalence)."""
    import msgspec
    out, first_seen = [], set()
    for spec in specs:
        wanted: list[str] = []
        if spec.pass_name == "primitives" and "fusion" in checks:
            wanted.append("fusion_trace")
        if spec.pass_name == "timing":
            if spec.mkldnn and checks:
                wanted.append("fused")
            if "equivalence" in checks and spec.config not in first_seen:
                wanted.append("outputs")
            first_seen.add(spec.config)
        out.append(msgspec.structs.replace(spec, companions=tuple(wanted)) if wanted else spec)
    return out


def _companions(results, key: str) -> list:
    return [r for r in results if r.ok and r.companions and key in r.companions]


def shared_fusion(results) -> dict[str, Any]:
    """The fusion summary from the MKL-DNN timing processes: their unfused latency and the
    fused latency timed after it in the same processes, paired by process."""
    from mxprof.jobs.fusion.report import summary_line
    from mxprof.timing.pooled import pooled_latency, ratio
    runs = [r for r in _companions(results, "fused") if r.latency]
    if not runs:
        return {"status": "failed", "summary": "fusion: failed (no MKL-DNN timing process "
                "measured the fused graph)"}
    unfused = pooled_latency([r.latency for r in runs])
    fused = pooled_latency([r.companions["fused"]["latency"] for r in runs])
    groups = runs[0].companions["fused"]["groups"]
    gain = ratio(unfused, fused, "gain")
    u, f = unfused["median"], fused["median"]
    traced = _companions(results, "fusion_trace")
    findings = _output_mismatch(results) + (
        traced[0].companions["fusion_trace"]["findings"] if traced else [])
    rep = {"unfused_ms": u, "fused_ms": f, "gain_percent": 100 * (u - f) / u,
           "groups": groups, "gain_ratio": gain.to_dict() if gain else None, "patterns": [],
           "findings": findings}
    return {"status": "ok", "summary": summary_line(rep),
            **{k: rep[k] for k in ("unfused_ms", "fused_ms", "gain_percent")},
            "groups": len(groups), "weights": runs[0].weights,
            "findings": [f["title"] for f in findings],
            "processes": len(runs), "source": "the MKL-DNN timing processes: fused timed "
            "after unfused in each" + ("; findings from the primitives process's verbose "
                                       "log" if traced else "; no primitives pass: "
                                       "findings from the outputs only")}


def _output_mismatch(results) -> list[dict[str, Any]]:
    """The fusion job's output check (fused vs unfused, first output, its tolerance) on the
    outputs the first MKL-DNN timing process saved; [] when they match or were not saved."""
    from mxprof.jobs.fusion.assemble import output_mismatch
    for r in _companions(results, "outputs"):
        saved = r.companions["outputs"]
        if "mkldnn" in saved and "mkldnn-fused" in saved:
            found = output_mismatch(saved["mkldnn"][0], saved["mkldnn-fused"][0])
            return [found.to_dict()] if found else []
    return []


def shared_equivalence(results, spec: RunSpec) -> dict[str, Any]:
    """The equivalence check from the outputs the timing processes saved (same weights,
    same fixed inputs): MKL-DNN and fused against the reference kernels."""
    import numpy as np

    from mxprof.jobs.accuracy.metrics import Tolerance, compare_outputs, not_meaningful
    saved: dict[str, list[str]] = {}
    for r in _companions(results, "outputs"):
        saved.update(r.companions["outputs"])
    if "mkldnn-off" not in saved:
        return {"status": "failed", "lines": ["failed (no reference outputs: the MKL-DNN off "
                                              "timing process failed or did not run)"]}
    ref = [np.load(p) for p in saved["mkldnn-off"]]
    configs, lines = [], []
    for name in ("mkldnn", "mkldnn-fused"):
        if name not in saved:
            lines.append(f"{name} vs mkldnn-off: failed (no outputs)")
            configs.append({"name": name, "max_abs_diff": None, "max_rel_diff": None,
                            "top1_agreement": None, "within_tolerance": False})
            continue
        c = compare_outputs(name, [np.load(p) for p in saved[name]], "mkldnn-off", ref,
                            Tolerance())
        verdict = not_meaningful(c) or ("within tolerance" if c.within_tolerance
                                        else "OUTSIDE tolerance")
        agree = "-" if c.top1_agreement is None else f"{c.top1_agreement:.3f}"
        lines.append(f"{name} vs mkldnn-off: max abs diff {c.max_abs_diff:.2e}, max rel diff "
                     f"{c.max_rel_diff:.2e}, top-1 agreement {agree} over {c.count} inputs, "
                     f"{verdict}")
        configs.append({"name": name, "max_abs_diff": c.max_abs_diff,
                        "max_rel_diff": c.max_rel_diff, "top1_agreement": c.top1_agreement,
                        "within_tolerance": c.within_tolerance})
    ok = all(c["within_tolerance"] is not False for c in configs)
    first = next((r for r in results if r.ok), None)
    return {"status": "ok" if ok else "failed", "inputs": len(ref[0]),
            "weights": first.weights if first else None,
            "binding": (first.environment if first else {}).get("binding"),
            "threads": spec.threads, "lines": lines, "configs": configs,
            "source": "outputs of the timing processes after their timed calls"}


def shared_checks(results, checks: Sequence[str]) -> dict[str, Any]:
    """{check: result} for `checks` from the main run's `results` ("shared" layout)."""
    out: dict[str, Any] = {}
    if not results:
        return out
    try:
        if "fusion" in checks:
            out["fusion"] = shared_fusion(results)
        if "equivalence" in checks:
            out["equivalence"] = shared_equivalence(results, results[0].spec)
    except Exception as exc:  # noqa: BLE001 - the main report must survive a failed companion
        for name in checks:
            out.setdefault(name, {"status": "failed", "summary": f"{name}: failed ({exc!r})",
                                  "lines": [f"failed ({exc!r})"]})
    return out
