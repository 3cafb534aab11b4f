"""What a running job tells whoever watches it: typed events, one vocabulary for every display.

A job's `run(plan, on_event)` (mxprof.jobs.contract) calls `on_event` with these records and
nothing else: the CLI's progress display (mxprof.commands._progress), a notebook callback, the
Dask client's per-host lines and the tests all consume the same three kinds. No display parses
English back out of a string: a status is a field, not a word inside a sentence.

- `Started(label, index, total)`: a step (one worker, one cell, one candidate) begins; `index`
  counts from 1 over the `total` steps of the plan, `host` names where it runs (a Dask worker's
  host) or is None for this machine.
- `Finished(label, status, seconds, ...)`: that step ended; `status` is a worker status
  (mxprof.workers.protocol: ok | failed | crashed | timeout | error) or `skipped` (already in a
  results file); `error` is the one-line reason when not ok.
- `Note(text, level)`: anything else worth a line; `level` "warning" for what may invalidate a
  figure (a busy machine, a refuted roof), "note" otherwise.

This module is a leaf: it imports nothing from mxprof, so every layer may emit events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Union

import msgspec

STATUSES = ("ok", "failed", "crashed", "timeout", "error", "skipped")


class Started(msgspec.Struct, frozen=True, tag="started", kw_only=True):
    label: str
    index: int
    total: int
    host: str | None = None


class Finished(msgspec.Struct, frozen=True, tag="finished", kw_only=True):
    label: str
    status: str
    seconds: float
    index: int = 0
    total: int = 0
    error: str | None = None
    host: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


class Note(msgspec.Struct, frozen=True, tag="note", kw_only=True):
    text: str
    level: Literal["note", "warning"] = "note"


Event = Union[Started, Finished, Note]
OnEvent = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default `on_event`: a run nobody watches."""


class Recorder:
    """An `on_event` that keeps every event (tests, and a notebook that wants the log)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def printer(write: Callable[[str], None] = print) -> OnEvent:
    """An `on_event` that writes one plain line per event (a notebook's `progress=print`)."""

    def on_event(event: Event) -> None:
        if isinstance(event, Started):
            write(f"[{event.index}/{event.total}] {event.label}"
                  + (f" on {event.host}" if event.host else ""))
        elif isinstance(event, Finished):
            write(f"[{event.index}/{event.total}] {event.label}: {event.status} "
                  f"({event.seconds:.1f} s)" + (f": {event.error}" if event.error else ""))
        else:
            write(("warning: " if event.level == "warning" else "") + event.text)

    return on_event
