"""The steps every job command shares, written once: the binding options handed to a job's
Options, plan -> (--dry-run) -> run under the progress display, the partial --json of an
interrupted run, `--load`, and the tail that writes the files and shows the result.

A command (profile, fusion, accuracy, compare, int8, diff) is then its own arguments and
renderer around these:

    result = _job.load(args, KIND, Result.from_dict) if args.load else \\
        _job.plan_and_run(KIND, job.plan, job.run, options_of(args), args,
                           on_partial=_job.partial(args))
    if result is None:
        return EXIT_OK                                    # --dry-run printed the plan
    return _job.finish(args, result, KIND, show) or exit_status(result)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from mxprof.errors import EXIT_OK, EXIT_USAGE


def binding(args, **override: Any) -> dict[str, Any]:
    """The binding options of a job's Options (its `plan` resolves them into the one
    Placement, mxprof.cpu.placement): --cores, --membind, --threads, --wait-policy, each
    replaced by an `override` of the same name (compare's --threads list is a sweep axis)."""
    return {"cores": getattr(args, "cores", None), "membind": getattr(args, "membind", None),
            "threads": getattr(args, "threads", None),
            "wait_policy": getattr(args, "wait_policy", "auto") or "auto", **override}


def print_dry_run(command: str, plan, notes: list[str] | None = None, *,
                  unit: str = "worker(s)") -> None:
    """--dry-run: the plan's steps (one per `unit`), its notes (or `notes`) and the estimated
    time."""
    print_plan(command, [(s.label, s.what) for s in plan.steps], plan.estimate_s,
               tuple(plan.notes if notes is None else notes), unit=unit)


def print_plan(command: str, rows: list[tuple[str, str]], estimate_s: float,
               notes: tuple[str, ...] = (), unit: str = "worker(s)") -> None:
    """The --dry-run output: one line per worker (or per `unit`: a sweep's models) with what
    it runs, and a rough total."""
    print(f"mxprof {command}, dry run: {len(rows)} {unit} planned, nothing was run")
    width = max((len(label) for label, _ in rows), default=0)
    for i, (label, what) in enumerate(rows, 1):
        print(f"  {i:>3}. {label:<{width}}  {what}")
    for note in notes:
        print(f"  {note}")
    from mxprof.commands._progress import format_duration
    print(f"estimated time: about {format_duration(estimate_s)} (rough: worker start-up and "
          "model load included, machine load not)")


def announce(placement, notes=()) -> None:
    """The wait policy the plan's Placement chose and why, once on stderr; then its
    oversubscription warning and the other warnings among the plan's `notes` (a sweep's
    points each have their Placement: compare --threads 1,8) as `mxprof: warning:` lines."""
    from mxprof.commands._options.binding import announce_wait
    announce_wait((placement.wait_policy, placement.wait_why))
    own = [f"warning: {placement.oversubscription}"] if placement.oversubscription else []
    for note in dict.fromkeys([*own, *warnings(notes)]):
        print(f"mxprof: {note}", file=sys.stderr)


def warnings(notes) -> list[str]:
    """The plan notes that are warnings ('warning: 8 OpenMP threads on 2 CPUs: ...',
    mxprof.jobs.binding.notes): a run says them on stderr, a dry run in its plan."""
    return [n for n in notes if n.startswith("warning: ")]


def plan_and_run(command: str, plan_of: Callable[[Any], Any], run: Callable[..., Any],
                 options, args, *,
                 total: Callable[[Any], int] | None = None,
                 on_partial: Callable[[Any], None] | None = None,
                 display: Callable[[Any], Any] | None = None, unit: str = "worker(s)"):
    """`plan_of(options)` (a job's `plan`), printed (its steps counted in `unit`) and None
    for --dry-run; else the wait policy announced (unless the plan's placement is None: a
    cluster's hosts choose their own) and `run(plan, on_event, on_partial=)` (the job's `run`)
    with the progress display consuming its events. The display is `display(plan)` (a context
    manager whose value is the on_event: a sweep's per-host lines, commands._hosts), default a
    Progress over `total(plan)` workers (default the plan's steps). Raises UsageError from the
    plan."""
    from mxprof.commands._progress import Progress
    plan = plan_of(options)
    if args.dry_run:
        print_dry_run(command, plan, unit=unit)
        return None
    if plan.placement is not None:
        announce(plan.placement)
    if display is None:
        bar = Progress(command, len(plan.steps) if total is None else total(plan))
    else:
        bar = display(plan)
    with bar as on_event:
        return run(plan, on_event, on_partial=on_partial)


def partial(args, *, say: bool = True) -> Callable[[Any], None] | None:
    """on_partial for a job's run: the --json file rewritten with what was measured so far
    (an interrupted run keeps it); None without --json or with `--json -` (stdout is final).
    `say`: tell on stderr that a partial result was written."""
    if not args.json or args.json == "-":
        return None

    def keep(result) -> None:
        from mxprof.render.json_ import write_result
        write_result(result, args.json)
        if say:
            print(f"mxprof: partial result written to {args.json}", file=sys.stderr)
    return keep


def load(args, kind: str, decode: Callable[[dict], Any], *, kind_field: str | None = None):
    """--load: the outputs checked against the loaded file, the saved `kind` result read and
    validated (`_outputs.load_result`), then `decode(data)`. Raises UsageError."""
    from mxprof.commands._outputs import check_outputs, load_result
    check_outputs(args, kind, inputs=(args.load,))
    return decode(load_result(kind, args.load, kind_field=kind_field))


def stdout_taken(args, kind: str) -> bool:
    """Whether an output of `kind` goes to stdout (`--json -`): the terminal tables then go
    to stderr."""
    from mxprof.render.outputs import formats_of
    return any(getattr(args, f.name, None) == "-" for f in formats_of(kind))


def finish(args, result, kind: str, show: Callable[[Any, TextIO], None]) -> int:
    """Files first (a closed stdout, `mxprof ... | head`, must not lose a long run's
    results; `-` on stdout), then `show(result, stream)` (stderr when stdout holds an
    output), then each file that could not be written: EXIT_USAGE when one could not,
    else EXIT_OK (the caller's own status follows: `finish(...) or status`)."""
    from mxprof.commands._outputs import write_outputs
    errors = write_outputs(args, result, kind)
    show(result, sys.stderr if stdout_taken(args, kind) else sys.stdout)
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else EXIT_OK
