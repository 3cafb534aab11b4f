"""The companion checks of a profile: the one-line fusion summary and the output equivalence.

`run_checks(spec, checks, ...)` runs each in its own workers, on the main run's model (weights
included), threads, CPUs, memory nodes, wait policy and timing protocol (`spec`, its first
`RunSpec`), and records a failure as a result instead of raising: the measurements of the main
run must survive a failed companion. `started(label)` and `finished(label, status)` report
progress. Every worker of a check binds itself (mxprof.cpu.placement.bind_self), as the main
run's workers do; this process is never bound.
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
