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

import msgspec

from mxprof.jobs.profile.checks import CHECKS
from mxprof.jobs.profile.spec import PASSES, Protocol, RunSpec
from mxprof.mx.models import ModelSpec


def plan_specs(model: ModelSpec, *, batch_size: int, protocol: Protocol,
               passes: Sequence[str] = PASSES, reference: bool = True,
               threads: int | None = None, cpus: str | None = None,
               membind: str | None = None, physical_only: bool = False,
               hooks: dict[tuple[str, str], str] | None = None, processes: int = 1,
               wait_policy: str | None = None, threads_why: str | None = None,
               breakdown_batch: int = 1) -> list[RunSpec]:
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
                    wait_policy=wait_policy, threads_why=threads_why,
                    breakdown_batch=breakdown_batch if breakdown_batch != 1 else msgspec.UNSET)
            for c, p in order]


def _thread_choice(threads, cpus: str | None, physical_only: bool):
    from mxprof.cpu.openmp import choose_threads
    selected = None
    if cpus is not None or physical_only:
        from mxprof.cpu.binding import select_cpus
        from mxprof.cpu.topology import read_topology
        selected = select_cpus(read_topology(), cpus, physical_only=physical_only)
    return choose_threads(threads, selected)


def run_profile(model: ModelSpec, *, batch_size: int = 8, protocol: Protocol | None = None,
                passes: Sequence[str] = PASSES, reference: bool = True,
                checks: Sequence[str] = CHECKS, threads: int | str | None = None,
                cpus: str | None = None, membind: str | None = None,
                physical_only: bool = False, timeout: float = 600.0,
                workdir: str | None = None,
                progress: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Run every worker of one profile, then the checks; the schema-1 report (a dict).

    `threads`: a count, "runtime" (MXNet's own), or None for one per physical core of the
    CPUs the workers may use (`mxprof.cpu.openmp.choose_threads`, as the CLI)."""
    from mxprof.jobs.profile.report import build_report
    from mxprof.jobs.profile.runner import run_specs

    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(sorted(unknown))}; choose from "
                         f"{','.join(CHECKS)}")
    choice = _thread_choice(threads, cpus, physical_only)
    specs = plan_specs(model, batch_size=batch_size, protocol=protocol or Protocol(min_time=1.0),
                       passes=passes, reference=reference, threads=choice.threads, cpus=cpus,
                       membind=membind, physical_only=physical_only, threads_why=choice.why)
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
