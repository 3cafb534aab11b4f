"""The profile job as a library call: which workers to run, and the companion checks.

`plan_specs(model, ...)` lists the `RunSpec`s of one profile (MKL-DNN on, and off unless
`reference=False`), headline timings first so that an interrupted run keeps what matters most;
`run_profile` does the whole job, the companion checks of `mxprof.jobs.profile.checks`
included, and returns the schema-1 report. The CLI (`mxprof.commands.profile`) and the notebook
API (`mxprof.api`) run the same workers through these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mxprof.jobs.profile.checks import CHECKS
from mxprof.jobs.profile.spec import PASSES, Protocol, RunSpec
from mxprof.mx.models import ModelSpec


def plan_specs(model: ModelSpec, *, batch_size: int, protocol: Protocol,
               passes: Sequence[str] = PASSES, reference: bool = True,
               threads: int | None = None, cpus: str | None = None,
               membind: str | None = None, physical_only: bool = False,
               hooks: dict[tuple[str, str], str] | None = None, processes: int = 1,
               wait_policy: str | None = None) -> list[RunSpec]:
    """One RunSpec per (configuration, pass); timing always runs, primitives only with MKL-DNN.

    Timing runs in `processes` workers per configuration, interleaved (A B A B...) so drifting
    load hits both sides (mxprof.workers.schedule). Raises ValueError for an unknown pass name.
    """
    from mxprof.workers import schedule
    unknown = set(passes) - set(PASSES)
    if unknown:
        raise ValueError(f"unknown pass(es) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(PASSES)}")
    configs = [("mkldnn", True)] + ([("reference", False)] if reference else [])
    chosen = [p for p in PASSES if p in passes or p == "timing"]
    per = {"mkldnn": chosen, "reference": [p for p in chosen if p != "primitives"]}
    # Headline timings first, so an interrupted run still has the numbers that matter most.
    order = [(c, "timing") for _, c in schedule.interleave([c for c, _ in configs], processes)] + [
        (c, p) for c, _ in configs for p in per[c] if p != "timing"]
    mk = dict(configs)
    hooks = hooks or {}
    return [RunSpec(model=model, config=c, mkldnn=mk[c], pass_name=p, batch_size=batch_size,
                    protocol=protocol, threads=threads, cpus=cpus, membind=membind,
                    physical_only=physical_only, test_hook=hooks.get((c, p)),
                    wait_policy=wait_policy)
            for c, p in order]


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
        from mxprof.jobs.profile.checks import run_checks
        report["checks"] = run_checks(specs[0], checks, timeout=timeout, started=progress,
                                      finished=lambda name, status: progress(f"{name}: {status}"))
    return report
