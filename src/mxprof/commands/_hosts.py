"""Progress of a sweep on a cluster: one line per host with its current cell, done/total, time
left, from the typed events (mxprof.events) the DaskExecutor emits with `host` set.

On a terminal a rich live table (one row per host, a footer with the totals); otherwise one
plain line per event on stderr (``mxprof compare: xeon@10.0.0.5:40123: [3/12] done resnet18_v1
bs=2 mkldnn [current] on xeon: ok (14.2 s; elapsed 1 min, about 3 min left)``).
"""

from __future__ import annotations

import sys
import time

from mxprof.commands._progress import format_duration
from mxprof.events import Event, Finished, Note, Started


class HostProgress:
    """An `on_event` for a sweep of `total` cells (`done_before` of them from the results
    file); use as a context manager."""

    def __init__(self, command: str, total: int, *, done_before: int = 0, stream=None):
        self.command, self.total, self.done_before = command, total, done_before
        self.finished = done_before
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.hosts: dict[str, list] = {}  # host -> [current cell, cells done there]
        self.started_at = time.monotonic()
        self._live = None

    def __enter__(self) -> HostProgress:
        if self.tty:
            from rich.console import Console
            from rich.live import Live
            self._live = Live(self._table(), console=Console(file=self.stream),
                              refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def left(self) -> str:
        elapsed = time.monotonic() - self.started_at
        text = f"elapsed {format_duration(elapsed)}"
        ran = self.finished - self.done_before
        if ran > 0 and self.finished < self.total:
            text += f", about {format_duration(elapsed / ran * (self.total - self.finished))} left"
        return text

    def __call__(self, event: Event) -> None:
        if isinstance(event, (Started, Finished)) and event.total:
            self.total = self.done_before + event.total
        if isinstance(event, Started):
            host = self.hosts.setdefault(event.host or "this machine", ["", 0])
            host[0] = event.label
            self._line(f"{event.host}: running {event.label} ({self.left()})")
        elif isinstance(event, Finished):
            self.finished += 1
            host = self.hosts.setdefault(event.host or "(lost)", ["", 0])
            host[0], host[1] = "", host[1] + 1
            status = event.status + (f": {event.error}" if event.error else "")
            self._line(f"{event.host or 'cluster'}: [{self.finished}/{self.total}] done "
                       f"{event.label}: {status} ({event.seconds:.1f} s; {self.left()})",
                       always=event.status != "ok")
        elif isinstance(event, Note):
            self._line(("warning: " if event.level == "warning" else "") + event.text,
                       always=True)
        if self._live is not None:
            self._live.update(self._table())

    def note(self, text: str) -> None:
        self(Note(text=text))

    def _line(self, text: str, always: bool = False) -> None:
        if self._live is not None:
            if always:
                from rich.markup import escape
                self._live.console.print(escape(text), highlight=False)
            return
        print(f"mxprof {self.command}: {text}", file=self.stream, flush=True)

    def _table(self):
        from rich.table import Table
        table = Table(title=f"mxprof {self.command}: {self.finished}/{self.total} cells, "
                            f"{self.left()}", title_justify="left")
        for column in ("host", "running", "done here"):
            table.add_column(column)
        for name, (current, done) in sorted(self.hosts.items()):
            table.add_row(name, current or "idle", str(done))
        return table


# --- the cluster options of every sweep command (compare, accuracy) --------------------------

def add_cluster(p, what: str) -> None:
    """`--cluster ADDRESS` and `--classes LIST`; `what` names the command's cell."""
    c = p.add_argument_group("cluster (the `cluster` extra: Dask distributed)")
    c.add_argument("--cluster", metavar="ADDRESS", default=None,
                   help=f"run {what} on a Dask cluster: tcp://HOST:8786, tls://HOST:8786, or "
                        "local (a scheduler and one worker per class on 127.0.0.1); one "
                        "benchmark at a time per host; start hosts with `mxprof worker`")
    c.add_argument("--classes", metavar="LIST", default=None,
                   help="machine classes to run every cell on, e.g. xeon,epyc (default: every "
                        "class the cluster has; with local: one worker per class)")


def classes_of(args) -> tuple[str, ...]:
    """The machine classes `--classes` names, () for every class the cluster has."""
    return tuple(c for c in (args.classes or "").replace(" ", "").split(",") if c)
