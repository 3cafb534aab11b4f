"""The one Placement of a job (mxprof.cpu.placement), resolved in its `plan`, as a job reports it.

`resolve(cores, membind, threads, wait_policy)` is `mxprof.cpu.placement.resolve` for a job's
plan: a bad option is a `UsageError` (exit status 2) naming it, raised before any worker starts.
Every worker spec of the job carries the result (`spec_of`), and every worker binds itself from
it (`mxprof.cpu.placement.bind_self`); no parent binds itself for its workers. `notes` is what
a plan says of it: the binding and its warnings (`warning: ...` notes, which the commands also
print on stderr, mxprof.commands._job.announce).
"""

from __future__ import annotations

from typing import Any

from mxprof.cpu.placement import Placement
from mxprof.errors import UsageError


def resolve(cores: str | None = None, membind: str | None = None,
            threads: int | str | None = None, wait_policy: str = "auto", *,
            decide_wait: bool = True) -> Placement:
    """The job's Placement (`decide_wait`: see mxprof.cpu.placement.resolve); UsageError
    naming the bad option."""
    from mxprof.cpu.placement import resolve as resolve_placement
    try:
        return resolve_placement(cores, membind, threads=threads, wait_policy=wait_policy,
                                 decide_wait=decide_wait)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def spec_of(placement: Placement) -> dict[str, Any] | None:
    """What a worker spec carries (`placement`): None when nothing is bound."""
    return placement.to_dict() if placement.bound else None


def threads_text(placement: Placement) -> str:
    """'2, one per physical core (mxprof default; ...)': the count and where it came from."""
    count = placement.threads if placement.threads is not None else "unset"
    return f"{count}, {placement.threads_why}"


def describe(placement: Placement) -> str:
    """The plan's note: 'binding: cores 0-1, membind not bound, OpenMP threads 2, ...'."""
    return (f"binding: cores {placement.cores or 'not bound'}, membind "
            f"{placement.membind or 'not bound'}, OpenMP threads {threads_text(placement)}")


def notes(placement: Placement) -> list[str]:
    """A plan's binding notes: `describe(placement)`, then 'warning: ...' when the OpenMP team
    is larger than its CPUs (Placement.oversubscription; the command says it on stderr too)."""
    return [describe(placement), *warnings(placement)]


def warnings(placement: Placement) -> list[str]:
    """The placement's warnings as plan notes ('warning: 8 OpenMP threads on 2 CPUs: ...')."""
    text = placement.oversubscription
    return [f"warning: {text}"] if text else []
