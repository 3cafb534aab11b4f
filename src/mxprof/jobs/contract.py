"""The one contract every job follows: plan, run with typed events, one typed result.

Every measuring job (profile, fusion, accuracy, compare, ceilings, int8, and the sweeps) is a
folder `mxprof/jobs/<job>/` whose package exposes

    Options                      a msgspec Struct of the job's options, with the defaults the
                                 CLI and the notebook API share (one place for each default)
    plan(options) -> Plan        what will run, checked before anything starts: raises
                                 UsageError for bad input (unknown model, bad shape, an output
                                 that cannot be written); `--dry-run` prints this plan
    run(plan, on_event) -> Result
                                 runs the plan; reports progress only through `on_event`
                                 (mxprof.events: Started, Finished, Note); returns the job's one
                                 typed Result; a failed worker is a failed row in it, never an
                                 exception; KeyboardInterrupt propagates after the partial
                                 result was handed to `on_partial` (see below)

and `diff`, which reads files only, has the same shape with an empty step list.

A command (mxprof.commands.<job>) parses arguments into Options, calls plan/run, hands the
Result to the renderers declared for its kind (mxprof.render.outputs) and maps the Result's
status to an exit code; it holds no loop over workers. The notebook function (mxprof.api) builds
the same Options and calls the same plan/run, so both give the same report.

A Result is a msgspec Struct deriving from `Result` below: `kind` names the file kind (the key
of mxprof.render.outputs.OUTPUTS and of mxprof.jobs.results.FILES), `schema` its version;
renderers take the Struct, never guess a kind from keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import msgspec

from mxprof.events import OnEvent
from mxprof.schema import SCHEMA


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a plan: a worker, a cell or a phase, and what it costs beforehand.

    `seconds` is the estimate `--dry-run` adds up (process start, first call, timed calls);
    `what` says what runs in it ("timing pass, batch 1 and 8, MKL-DNN on").
    """

    label: str
    what: str
    seconds: float = 0.0


class Plan(msgspec.Struct, kw_only=True):
    """Base of every job's plan: the steps in the order they run, and notes for the header.

    A job's plan subclasses this with what `run` needs (worker specs, the model, the binding);
    everything `--dry-run` shows comes from `steps` and `notes`.
    """

    kind: str
    steps: list[Step] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)

    @property
    def estimate_s(self) -> float:
        return sum(s.seconds for s in self.steps)


class Result(msgspec.Struct, kw_only=True):
    """Base of every job's result file: `kind` and `schema` are in every file."""

    kind: str
    schema: int = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        from mxprof.schema import Record
        return Record.to_dict(self)  # type: ignore[arg-type]

    @property
    def failed(self) -> bool:
        """True when a worker, cell or check failed: the command exits 1 (mxprof.errors)."""
        return False


Opt = TypeVar("Opt", contravariant=True)
P = TypeVar("P", bound=Plan)
R = TypeVar("R", bound=Result)


class Job(Protocol[Opt, P, R]):
    """What `mxprof.jobs.<job>` provides (a module satisfies it structurally)."""

    def plan(self, options: Opt) -> P: ...

    def run(self, plan: P, on_event: OnEvent, *,
            on_partial: Callable[[R], None] | None = None) -> R: ...


def option_default(options: type, name: str) -> Any:
    """The default of field `name` of a job's Options Struct: a command's argparse default
    reads it here, so the CLI and the notebook API share one default."""
    for field in msgspec.structs.fields(options):
        if field.name == name:
            if field.default is not msgspec.NODEFAULT:
                return field.default
            if field.default_factory is not msgspec.NODEFAULT:
                return field.default_factory()
            break
    raise KeyError(f"{options.__qualname__} has no default for {name!r}")
