"""Run a profile plan (mxprof.jobs.contract): workers, machine load, checks, diagnosis, fixes.

`run(plan, on_event, on_partial=None) -> ProfileResult` is the whole job, the same for the CLI
and the notebook:
1. the worker processes of `plan.groups`, one after another (mxprof.jobs.profile.runner), each
   with its OpenMP wait policy decided right before it starts (runner.Waits), each
   announced as a `Started`/`Finished` event and recorded with the machine load around it
   (mxprof.cpu.load); after each, the partial result goes to `on_partial` (the CLI writes it as
   its --json file, so an interrupted run keeps what it measured);
2. the companion checks (mxprof.jobs.profile.checks): in the shared layout from what the timing
   processes measured for them (before the work folder, which holds their outputs, goes); in
   the legacy layout each its own step, in workers of its own;
3. the diagnosis: the machine ceilings (cached per machine and binding), the roofline and the
   findings; when the roofline says the cached roofs are refuted (`Roofline.roof_refuted`:
   timed primitives beat them), the ceilings are measured once more and the diagnosis redone;
4. with `try_fixes`, each fixable finding timed before and after its fix.
The result's `cost` (mxprof.jobs.profile.cost): this call's wall, the time inside the model's
own calls, their ratio and the seconds per phase.
A failed worker is a failed row of the result, never an exception; a failed diagnosis is a note.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from mxprof.events import Finished, Note, OnEvent, Started, ignore
from mxprof.jobs.profile.plan import ProfilePlan
from mxprof.jobs.profile.records import ProfileResult
from mxprof.jobs.profile.spec import RunResult


def failed(runs_ok: list[bool], checks: dict[str, Any] | None) -> bool:
    """A worker failed, or a companion check did (an equivalence outside tolerance included);
    a skipped check is not a failure. The exit status 1 of `mxprof profile`."""
    return not all(runs_ok) or any(c.get("status") == "failed" for c in (checks or {}).values())


class _Run:
    """One run's state: the results so far, the machine load of each worker, the events."""

    def __init__(self, plan: ProfilePlan, on_event: OnEvent,
                 on_partial: Callable[[ProfileResult], None] | None):
        self.plan, self.on_event, self.on_partial = plan, on_event, on_partial
        self.total = plan.workers + len(plan.check_steps)
        self.step = 0
        self.results: dict[int, RunResult] = {}
        self.loads: list[dict | None] = []

    def started(self, label: str) -> float:
        self.step += 1
        self.on_event(Started(label=label, index=self.step, total=self.total))
        return time.monotonic()

    def finished(self, label: str, status: str, began: float, error: str | None = None) -> None:
        self.on_event(Finished(label=label, status=status, seconds=time.monotonic() - began,
                               index=self.step, total=self.total, error=error))

    def done(self) -> list[RunResult]:
        """The results so far, in plan order."""
        return [self.results[i] for i in sorted(self.results)]

    def report(self) -> dict[str, Any]:
        from mxprof.jobs.profile.report import build_report
        report = build_report(self.done(), planned=len(self.plan.specs))
        _add_machine_load(report, self.loads)
        return report

    def partial(self) -> None:
        if self.on_partial is None:
            return
        try:
            self.on_partial(ProfileResult.from_report(self.report()))
        except Exception as exc:  # noqa: BLE001 - a partial file must never stop the run
            self.on_event(Note(text=f"partial result not written: {exc!r}", level="warning"))

    def in_plan(self, event) -> None:
        """An executor's event, counted over the whole plan (workers, then checks)."""
        if isinstance(event, (Started, Finished)):
            self.step = event.index
            event = msgspec.structs.replace(event, total=self.total)
        self.on_event(event)

    def workers(self, workdir: Path, executor) -> None:
        """Each process of the plan as one cell of `executor`, in plan order
        (runner.run_groups: wait policy decided right before each starts, shared weights),
        with the machine load recorded around each and the partial result handed on after
        it."""
        from mxprof.jobs.profile.runner import run_groups

        def after(group: tuple[int, ...], ran: list[RunResult]) -> None:
            self.results.update(zip(group, ran, strict=True))
            self.partial()

        run_groups(self.plan.specs, workdir, timeout=self.plan.options.timeout,
                   groups=self.plan.groups, python=self.plan.options.python,
                   layout=self.plan.layout, executor=executor, on_event=self.in_plan,
                   around=self._load, on_worker=after)

    @contextmanager
    def _load(self, label: str) -> Iterator[None]:
        """One busy-machine record around a worker, named after it (mxprof.cpu.load)."""
        from mxprof.cpu.load import LoadMonitor
        monitor = LoadMonitor.start()
        yield
        if monitor is not None:
            rec = monitor.stop(f"{label} (worker {len(self.loads) + 1})")
            self.loads.append(rec.to_dict() if rec else None)


def _add_machine_load(report: dict, loads: list) -> None:
    from mxprof.cpu.load import busy_summary
    report["machine_load"] = loads
    note = busy_summary(loads)
    if note:
        report["notes"].append(note)


def _checks(state: _Run, report: dict) -> None:
    from mxprof.jobs.profile.checks import run_checks
    began = [0.0]

    def started(label: str) -> None:
        began[0] = state.started(label.split(":")[0])

    def finished(label: str, status: str) -> None:
        state.finished(label, status, began[0])

    report["checks"] = run_checks(state.plan.specs[0], state.plan.check_steps,
                                  timeout=state.plan.options.timeout, started=started,
                                  finished=finished)


def _ceilings(plan: ProfilePlan, on_event: OnEvent, *, refresh: bool) -> dict | None:
    from mxprof.jobs.ceilings import machine_ceilings
    if not any(s.pass_name == "primitives" for s in plan.specs) and not plan.options.python:
        return None
    spec = plan.specs[0]
    return machine_ceilings(spec.cpus, spec.threads, refresh=refresh,
                            timeout=plan.options.timeout)


def _roof_refuted(report: dict, ceilings: dict | None) -> bool:
    """Cached roofs that this run's timed primitives beat (the roofline's typed verdict)."""
    hit = bool(ceilings and (ceilings.get("cache") or {}).get("hit"))
    return hit and bool((report.get("roofline") or {}).get("roof_refuted"))


def _diagnose(plan: ProfilePlan, report: dict, on_event: OnEvent) -> None:
    """Ceilings + roofline + findings; see the module docstring, step 3."""
    from mxprof.jobs.profile.report import diagnosis
    if any(s.pass_name == "primitives" for s in plan.specs):
        on_event(Note(text="machine ceilings (cached per machine and binding; "
                           "--refresh-ceilings)"))
    try:
        ceilings = _ceilings(plan, on_event, refresh=plan.options.refresh_ceilings)
        report.update(diagnosis(report, ceilings))
        if _roof_refuted(report, ceilings):
            # A cached roof below what this run's primitives attain was measured under more
            # load than now: measure it once more rather than print efficiencies over 100%.
            on_event(Note(text="machine ceilings: the cached roofs are below what this run "
                               "attains; measuring them again", level="warning"))
            report.update(diagnosis(report, _ceilings(plan, on_event, refresh=True)))
    except Exception as exc:  # noqa: BLE001 - the measurements must survive a failed diagnosis
        report["notes"].append(f"diagnosis failed: {exc!r}")
        return
    if plan.options.try_fixes and report.get("findings"):
        from mxprof.jobs.profile.try_fixes import try_fixes
        on_event(Note(text="--try-fixes: timing each fixable finding before and after its fix"))
        try_fixes(report, plan.specs[0], timeout=plan.options.timeout,
                  workdir=plan.options.workdir)


def run(plan: ProfilePlan, on_event: OnEvent = ignore, *,
        on_partial: Callable[[ProfileResult], None] | None = None,
        executor=None) -> ProfileResult:
    """Run `plan` (module docstring); the typed result. `executor`: where the worker cells
    run (mxprof.workers.executor; default a LocalExecutor, one after another here).
    KeyboardInterrupt propagates, after the workers that ended were handed to `on_partial`."""
    from mxprof.files import temp_dir
    from mxprof.workers.executor import LocalExecutor
    began = time.monotonic()
    state = _Run(plan, on_event, on_partial)
    if not any(s.pass_name == "primitives" for s in plan.specs) and not plan.options.python:
        # Workers name oneDNN from this cache (one probe process per libmxnet, then
        # cached); the primitives pass reads it from its own verbose log instead.
        from mxprof.host.environment import onednn_version
        onednn_version(probe=True)
    with temp_dir("run") as tmp:
        folder = Path(plan.options.workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        state.workers(folder, executor or LocalExecutor())
        report = state.report()
        if plan.checks and plan.layout == "shared":
            # Before the folder goes: the outputs the timing processes saved live there.
            from mxprof.jobs.profile.checks import shared_checks
            report["checks"] = shared_checks(state.done(), plan.checks)
    if plan.check_steps:
        state.partial()
        _checks(state, report)
    if plan.options.diagnosis:
        _diagnose(plan, report, on_event)
    from mxprof.jobs.profile.cost import cost_section
    cost = cost_section(state.done(), time.monotonic() - began, plan.layout)
    return msgspec.structs.replace(ProfileResult.from_report(report), cost=cost)
