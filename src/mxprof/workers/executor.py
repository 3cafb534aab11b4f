"""Where worker specs run: one executor interface for this machine and for a cluster.

A sweep (compare, accuracy over many models, the int8 search, profile's passes) is a list of
cells, each cell one `WorkerSpec` (mxprof.workers.protocol) that carries its own binding. An
executor runs cells and yields `(index, WorkerResult)` as each ends, emitting `Started` and
`Finished` events (mxprof.events) on the way:

- `LocalExecutor` runs them here, one at a time in the given order (timing processes must never
  overlap on one machine), with the machine load recorded around each (mxprof.cpu.load).
- `mxprof.cluster.DaskExecutor` (the `cluster` extra) runs each on a Dask worker of the cell's
  machine class, at most one per host, and yields in completion order.

Jobs never start worker processes themselves: they hand cells to an executor. A job that needs
results in plan order collects the yielded pairs by index.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from mxprof.events import Finished, OnEvent, Started, ignore
from mxprof.workers.protocol import WorkerResult, WorkerSpec, run_worker


class Executor(Protocol):
    """Runs cells; yields (index into `cells`, result) as each ends; never raises for a
    worker's failure (that is the result's status)."""

    def run(self, cells: Sequence[WorkerSpec], on_event: OnEvent = ignore, *,
            labels: Sequence[str] | None = None) -> Iterator[tuple[int, WorkerResult]]: ...


class LocalExecutor:
    """Cells one after another on this machine, in order."""

    def run(self, cells: Sequence[WorkerSpec], on_event: OnEvent = ignore, *,
            labels: Sequence[str] | None = None) -> Iterator[tuple[int, WorkerResult]]:
        total = len(cells)
        for i, cell in enumerate(cells):
            label = labels[i] if labels else cell.name
            on_event(Started(label=label, index=i + 1, total=total))
            began = time.monotonic()
            result = run_worker(cell)
            on_event(Finished(label=label, status=result.status, index=i + 1, total=total,
                              seconds=time.monotonic() - began, error=result.error))
            yield i, result


def renumbered(on_event: OnEvent, offset: int, total: int) -> OnEvent:
    """`on_event` for a job that hands its cells to the executor in several batches (each
    batch depends on the one before): Started/Finished count over the whole job, `offset`
    cells before this batch, `total` in all."""
    import msgspec

    def relay(event) -> None:
        if isinstance(event, (Started, Finished)):
            event = msgspec.structs.replace(event, index=event.index + offset, total=total)
        on_event(event)

    return relay
