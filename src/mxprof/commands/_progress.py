"""One progress display for every long command: what runs now, done/total, elapsed, time left.

On a terminal (stderr is a TTY) it is a rich progress bar; otherwise one plain line per event
on stderr (``mxprof profile: [3/11] done mkldnn layers: ok (12.3 s; elapsed 40 s, about
1 min left)``), so a CI log or ``2> log`` shows that a run of many minutes is alive.
The estimate of what is left is the mean time of the finished workers times those remaining.
"""

from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Use as a context manager and hand `on_event` to a job's `run(plan, on_event)`: it
    consumes the typed events of mxprof.events (Started, Finished, Note), so no command parses
    English back out of a progress string. `start(label)`, `done(label, status)` and
    `note(text)` remain for the commands not yet on the job contract."""

    def __init__(self, command: str, total: int, *, done_before: int = 0, stream=None,
                 tty: bool | None = None):
        """`done_before`: of `total`, how many were done by an earlier run (a resumed sweep)."""
        self.command, self.total = command, max(total, 0)
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.finished = self.done_before = done_before
        self.started_at = time.monotonic()
        self._worker_started = self.started_at
        self._bar = self._task = None

    def __enter__(self) -> Progress:
        if self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar
            self._bar = Bar(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
                            TimeRemainingColumn(), console=Console(file=self.stream),
                            transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task(f"mxprof {self.command}", total=self.total or None,
                                            completed=self.done_before)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def _left(self) -> str:
        elapsed = time.monotonic() - self.started_at
        text = f"elapsed {format_duration(elapsed)}"
        ran = self.finished - self.done_before
        if ran > 0 and self.finished < self.total:
            left = elapsed / ran * (self.total - self.finished)
            text += f", about {format_duration(left)} left"
        return text

    def _line(self, text: str) -> None:
        if self._bar is not None:
            from rich.markup import escape
            self._bar.console.print(escape(text), highlight=False)
        else:
            print(f"mxprof {self.command}: {text}", file=self.stream, flush=True)

    def start(self, label: str) -> None:
        self._worker_started = time.monotonic()
        n = min(self.finished + 1, self.total)
        if self._bar is not None:
            from rich.markup import escape
            self._bar.update(self._task, description=escape(f"[{n}/{self.total}] {label}"))
        else:  # one [n/total] line per worker: the one that says how it ended
            self._line(f"running {label} ({n} of {self.total}; {self._left()})")

    def done(self, label: str, status: str = "ok") -> None:
        self.finished += 1
        took = time.monotonic() - self._worker_started
        if self._bar is not None:
            self._bar.update(self._task, completed=self.finished)
            if status != "ok":
                self._line(f"{label}: {status} ({took:.1f} s)")
        else:
            self._line(f"[{self.finished}/{self.total}] done {label}: {status} ({took:.1f} s; "
                       f"{self._left()})")

    def note(self, text: str) -> None:
        self._line(text)

    def on_event(self, event) -> None:
        """One mxprof.events record: Started -> start, Finished -> done with its status (and
        the one-line error when not ok), Note -> a line ("warning: " first for a warning)."""
        from mxprof.events import Finished, Started
        if isinstance(event, Started):
            self.start(event.label)
        elif isinstance(event, Finished):
            status = event.status if event.ok or not event.error else \
                f"{event.status}: {event.error}"
            self.done(event.label, status)
        else:
            self.note(("warning: " if event.level == "warning" else "") + event.text)

    __call__ = on_event
