"""The profile job as a library call: which workers to run, and the companion checks.

`plan_specs(model, ...)` lists the `RunSpec`s of one profile (MKL-DNN on, and off unless
`reference=False`), headline timings first so that an interrupted run keeps what matters most;
`run_checks(model, checks, ...)` runs the one-line fusion summary and the output-equivalence
check in their own workers, recording a failure instead of raising. `run_profile` does the
whole job and returns the schema-1 report. The CLI (`mxprof.commands.profile`) and the notebook
API (`mxprof.api`) run the same workers through these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mxprof.jobs.profile.spec import PASSES, Protocol, RunSpec
from mxprof.mx.models import ModelSpec

CHECKS = ("fusion", "equivalence")


def plan_specs(model: ModelSpec, *, batch_size: int, protocol: Protocol,
               passes: Sequence[str] = PASSES, reference: bool = True,
               threads: int | None = None, cpus: str | None = None,
               membind: str | None = None, physical_only: bool = False,
               hooks: dict[tuple[str, str], str] | None = None) -> list[RunSpec]:
    """One RunSpec per (configuration, pass); timing always runs, primitives only with MKL-DNN.

    Raises ValueError for an unknown pass name.
    """
    unknown = set(passes) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown pass(es) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(PASSES)}")
    configs = [("mkldnn", True)] + ([("reference", False)] if reference else [])
    chosen = [p for p in PASSES if p in passes or p == "timing"]
    per = {"mkldnn": chosen, "reference": [p for p in chosen if p != "primitives"]}
    order = [(c, "timing") for c, _ in configs] + [
        (c, p) for c, _ in configs for p in per[c] if p != "timing"]
    mk = dict(configs)
    hooks = hooks or {}
    return [RunSpec(model=model, config=c, mkldnn=mk[c], pass_name=p, batch_size=batch_size,
                    protocol=protocol, threads=threads, cpus=cpus, membind=membind,
                    physical_only=physical_only, test_hook=hooks.get((c, p)))
            for c, p in order]


def run_checks(model: ModelSpec, checks: Sequence[str], *, threads: int | None,
               timeout: float, progress: Callable[[str], None] = lambda m: None) -> dict:
    """{check: result} for "fusion" and "equivalence"; a failed check is a result, not an error."""
    out: dict[str, Any] = {}
    if "fusion" in checks:
        if model.source == "symbol":
            out["fusion"] = {"status": "skipped",
                             "summary": "fusion: not run for --symbol models (zoo names only)"}
        else:
            progress("fusion summary: unfused and fused workers")
            try:
                from mxprof.jobs.fusion.run import FusionOptions, run_fusion
                rep = run_fusion(FusionOptions(
                    model=model.name, shape=model.batch_shape(1), switches=(), rounds=1,
                    warmup=3, iterations=10, min_time_s=1.0, trace_iterations=2,
                    threads=threads, timeout_s=timeout))
                out["fusion"] = {"status": "ok", "summary": rep["summary"],
                                 **{k: rep.get(k) for k in ("unfused_ms", "fused_ms",
                                                            "gain_percent")},
                                 "groups": len(rep.get("groups") or ()),
                                 "findings": [f.get("title") for f in rep.get("findings") or ()]}
            except Exception as exc:  # the main report must survive a failed companion
                out["fusion"] = {"status": "failed", "summary": f"fusion: failed ({exc})"}
    if "equivalence" in checks:
        progress("equivalence check: reference, MKL-DNN and fused workers")
        try:
            from mxprof.jobs.accuracy.run import equivalence_summary, quick_equivalence
            eq = quick_equivalence(model.to_dict(), num_inputs=4, threads=threads,
                                   timeout=timeout)
            configs = [c for c in eq.configs if c.name != "mkldnn-off"]
            out["equivalence"] = {
                "status": "ok" if all(c.ok for c in configs) else "failed",
                "inputs": 4, "lines": equivalence_summary(eq),
                "configs": [{"name": c.name, "max_abs_diff": c.max_abs_diff,
                             "max_rel_diff": c.max_rel_diff, "top1_agreement": c.top1_agreement,
                             "within_tolerance": c.within_tolerance} for c in configs]}
        except Exception as exc:
            out["equivalence"] = {"status": "failed", "lines": [f"failed ({exc})"]}
    return out


def run_profile(model: ModelSpec, *, batch_size: int = 8, protocol: Protocol | None = None,
                passes: Sequence[str] = PASSES, reference: bool = True,
                checks: Sequence[str] = CHECKS, threads: int | None = None,
                cpus: str | None = None, membind: str | None = None,
                physical_only: bool = False, timeout: float = 600.0,
                workdir: str | None = None,
                progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Run every worker of one profile, then the checks; the schema-1 report (a dict)."""
    from mxprof.jobs.profile.report import build_report
    from mxprof.jobs.profile.runner import run_specs

    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(sorted(unknown))}; choose from "
                         f"{','.join(CHECKS)}")
    specs = plan_specs(model, batch_size=batch_size, protocol=protocol or Protocol(min_time=1.0),
                       passes=passes, reference=reference, threads=threads, cpus=cpus,
                       membind=membind, physical_only=physical_only)
    if not any(s.pass_name == "primitives" for s in specs):
        from mxprof.workers.environment import onednn_version
        onednn_version(probe=True)
    results = run_specs(specs, timeout=timeout, workdir=workdir, progress=False,
                        on_result=lambda r: progress(f"{r.spec.label}: {r.status}"))
    report = build_report(results, planned=len(specs))
    if checks:
        report["checks"] = run_checks(model, checks, threads=threads, timeout=timeout,
                                      progress=progress)
    return report
