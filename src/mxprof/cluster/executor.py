"""`DaskExecutor`: the cells of a sweep on a Dask cluster, one benchmark at a time per host.

It implements mxprof.workers.executor.Executor. Each cell (a `WorkerSpec`) is submitted with
the resources `host=1` and its machine class (`xeon=1`): Dask counts resources, so a host
(one `mxprof worker`, one thread, `host=1`) never runs two cells at once, and a cell only runs
on a worker of its class. The worker runs it through the one worker protocol
(mxprof.cluster.remote.run_cell: a subprocess with its own OpenMP/BLAS variables, on the
host's benchmark CPUs, its binding resolved there) and the result comes back to the client,
which yields `(index, RemoteResult)` in completion order with `Started`/`Finished` events that
name the host.

Connecting (`DaskExecutor(address, classes)`, `address` "tcp://host:8786", "tls://...", or
"local" for mxprof.cluster.local) asks every worker for its versions and host facts; a worker
that runs another mxprof or MXNet than this client is refused there and then (ClusterError,
naming both), and a worker that joins later with other versions is closed by a worker plugin
(mxprof.cluster.guard) before it takes a cell.

Faults:
- a worker that dies mid-cell (SIGKILL, a lost host): Dask's scheduler re-runs the cell on
  another worker of the class, or on the same one when its nanny brings it back; the killed
  run returned nothing, so the cell completes once (a late duplicate is dropped here);
- an interrupted client (Ctrl-C, SIGTERM, the generator closed) cancels its cells and ends
  the benchmarks of its sweep still running on the hosts (`remote.stop`): Dask cannot stop a
  running task, and a benchmark left running would share its host with the next cell;
- a cell whose task fails (a worker lost `distributed.scheduler.allowed-failures` times, an
  error in the worker code) is submitted again, up to `attempts` (3) in all; then it is a
  failed result with the last reason. A benchmark that crashes is not retried: its crash is
  the cell's result (status crashed/failed/timeout), as on this machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mxprof.cluster import remote
from mxprof.errors import UsageError
from mxprof.events import Finished, Note, OnEvent, Started, ignore
from mxprof.workers.process import ProcessOutcome
from mxprof.workers.protocol import WorkerResult, WorkerSpec

SCHEMES = ("tcp://", "tls://")
ATTEMPTS = 3


class ClusterError(UsageError):
    """The cluster cannot run this sweep (unreachable, no worker of a class, other versions):
    raised before any cell starts, exit status 2."""


@dataclasses.dataclass(frozen=True)
class RemoteResult(WorkerResult):
    """A WorkerResult with where it ran: `host` is the worker's `remote.describe()` (versions,
    class, hygiene, fingerprint), `attempts` how many submissions it took."""

    host: Mapping[str, Any] | None = None
    attempts: int = 1


def portable(ws: WorkerSpec, base: Mapping[str, str]) -> tuple[WorkerSpec, list[str]]:
    """The cell as sent: only the variables the job set (those differing from `base`, the
    client's environment) and the names it removed; the host rebuilds the rest."""
    env = {k: v for k, v in ws.env.items() if base.get(k) != v and k != "PYTHONPATH"}
    removed = [k for k in base if k not in ws.env]
    return dataclasses.replace(ws, env=env), removed


class DaskExecutor:
    """Cells on a Dask cluster (module docstring). Use as a context manager, or `close()`."""

    def __init__(self, address: str = "local", classes: Sequence[str] | None = None, *,
                 attempts: int = ATTEMPTS, connect_timeout: float | None = None):
        from mxprof.errors import require_extra
        require_extra("--cluster", "cluster")
        if connect_timeout is None:  # Dask's own setting (DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT)
            import dask.config
            import distributed  # noqa: F401 - registers its configuration with dask.config
            from dask.utils import parse_timedelta
            connect_timeout = parse_timedelta(
                dask.config.get("distributed.comm.timeouts.connect"), default="s")
        self.attempts = attempts
        self.versions = remote.versions()
        self._cluster = None
        if address == "local":
            from mxprof.cluster.local import share_cpus, start_local
            wanted = tuple(classes or ("local",))
            try:
                cpus = share_cpus(len(wanted))
            except ValueError as exc:
                raise ClusterError(f"--cluster local: {exc}") from None
            self._cluster = start_local(wanted, cpus=cpus)
            address = self._cluster.scheduler_address
        elif not address.startswith(SCHEMES):
            raise ClusterError(f"--cluster {address!r}: give tcp://HOST:PORT, tls://HOST:PORT "
                               "or local")
        self.address = address
        self.client = self._connect(address, connect_timeout)
        try:
            self.workers = self._check_workers(connect_timeout)
            self.classes = self._classes(classes)
            from mxprof.cluster.guard import VersionGuard
            self.client.register_plugin(VersionGuard(self.versions))
        except BaseException:
            self.close()
            raise

    def _connect(self, address: str, timeout: float):
        from distributed import Client
        try:
            return Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None

    def _check_workers(self, timeout: float) -> dict[str, dict[str, Any]]:
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            raise ClusterError(f"no Dask worker joined {self.address} within {timeout:g} s: "
                               "start them with `mxprof worker`") from None
        found = self.client.run(remote.describe)
        other = {a: d for a, d in found.items() if d["versions"] != self.versions}
        if other:
            lines = [f"worker {a} ({d['hostname']}) runs {remote.describe_versions(d['versions'])}"
                     for a, d in sorted(other.items())]
            raise ClusterError("refused: " + "; ".join(lines) + "; this client runs "
                               + remote.describe_versions(self.versions)
                               + ": install the same versions on every host")
        return found

    def _classes(self, wanted: Sequence[str] | None) -> list[str]:
        have = sorted({d["machine_class"] for d in self.workers.values() if d["machine_class"]})
        if not wanted:
            if not have:
                raise ClusterError("the cluster's workers have no machine class: start them "
                                   "with `mxprof worker SCHEDULER --class NAME`")
            return have
        missing = [c for c in wanted if c not in have]
        if missing:
            raise ClusterError(f"no worker of class {', '.join(missing)} on {self.address}; "
                               f"it has: {', '.join(have) or 'none'}")
        return list(dict.fromkeys(wanted))

    def hosts(self, machine_class: str) -> list[dict[str, Any]]:
        """`remote.describe()` of every worker of that class (connect time)."""
        return [d for d in self.workers.values() if d["machine_class"] == machine_class]

    @property
    def dashboard_link(self) -> str | None:
        """The scheduler's dashboard page when it answers (Dask's dashboard needs bokeh where
        the scheduler runs; without it the HTTP server serves no /status page)."""
        import urllib.request
        link = self.client.dashboard_link
        try:
            with urllib.request.urlopen(link, timeout=2) as page:
                return link if page.status == 200 else None
        except (OSError, ValueError):
            return None

    def run(self, cells: Sequence[WorkerSpec], on_event: OnEvent = ignore, *,
            labels: Sequence[str] | None = None,
            classes: Sequence[str] | None = None) -> Iterator[tuple[int, WorkerResult]]:
        """Run every cell on a worker of its class (`classes[i]`; default: the only class);
        yields (index, RemoteResult) as each completes."""
        import os
        if classes is None:
            if len(self.classes) != 1:
                raise ClusterError(f"the cluster has classes {', '.join(self.classes)}: "
                                   "say which class runs each cell")
            classes = [self.classes[0]] * len(cells)
        labels = list(labels) if labels else [c.name for c in cells]
        sweep = _Sweep(self, cells, labels, list(classes), os.environ, on_event)
        yield from sweep.run()

    def close(self) -> None:
        client, cluster = getattr(self, "client", None), self._cluster
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Sweep:
    """One `run` call: submissions, retries, events, and each index yielded once."""

    def __init__(self, ex: DaskExecutor, cells, labels, classes, base_env, on_event):
        self.ex, self.cells, self.labels, self.classes = ex, cells, labels, classes
        self.sent = [portable(c, base_env) for c in cells]
        self.on_event = on_event
        self.total = len(cells)
        self.events: queue.Queue = queue.Queue()
        self.attempt = [0] * self.total
        self.began: dict[int, float] = {}
        self.done: set[int] = set()
        self.id = uuid.uuid4().hex[:12]

    def submit(self, i: int):
        self.attempt[i] += 1
        cell, removed = self.sent[i]
        return self.ex.client.submit(
            remote.run_cell, cell, removed, self.ex.versions, i, self.labels[i], self.id,
            key=f"mxprof-cell-{i}-{self.attempt[i]}-{uuid.uuid4().hex[:8]}", pure=False,
            resources={"host": 1, self.classes[i]: 1},
            # In the plan's order on each class (Dask runs higher priorities first): a sweep
            # interleaves the processes of its configurations so drifting load hits each side.
            priority=self.total - i)

    def run(self) -> Iterator[tuple[int, WorkerResult]]:
        from distributed import as_completed
        client = self.ex.client
        client.subscribe_topic(remote.CELL_TOPIC, lambda event: self.events.put(event[1]))
        live = {}  # future key -> (index, future): the futures must stay referenced
        for i in range(self.total):
            f = self.submit(i)
            live[f.key] = (i, f)
        pending = as_completed([f for _, f in live.values()], loop=client.loop)
        try:
            while len(self.done) < self.total:
                self.drain()
                batch = pending.next_batch(block=False)
                if not batch:
                    time.sleep(0.1)
                    continue
                for f in batch:
                    i, _ = live.pop(f.key)
                    out = self.collect(i, f)
                    if out is None:
                        retry = self.submit(i)
                        live[retry.key] = (i, retry)
                        pending.add(retry)
                    elif i not in self.done:
                        self.done.add(i)
                        yield out
        finally:
            client.unsubscribe_topic(remote.CELL_TOPIC)
            for _, f in live.values():
                f.cancel()
            if live:  # interrupted: end this sweep's benchmarks still running on the hosts
                with contextlib.suppress(Exception):
                    client.run(remote.stop, self.id)

    def drain(self) -> None:
        while True:
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                return
            i = msg["index"]
            self.began[i] = time.monotonic()
            self.on_event(Started(label=self.labels[i], index=i + 1, total=self.total,
                                  host=_host_name(msg)))

    def collect(self, i: int, future) -> tuple[int, WorkerResult] | None:
        """(i, result) for a finished or finally failed cell; None to submit it again."""
        seconds = time.monotonic() - self.began.get(i, time.monotonic())
        if future.status == "finished":
            part = future.result()
            result = RemoteResult(self.cells[i], part["status"], part["outcome"], part["data"],
                                  part["error"], host=part["host"], attempts=self.attempt[i])
            self.on_event(Finished(label=self.labels[i], status=result.status,
                                   seconds=result.outcome.wall_s, index=i + 1,
                                   total=self.total, error=result.error,
                                   host=_host_name(part["host"])))
            return i, result
        reason = _reason(future)
        final = self.attempt[i] >= self.ex.attempts or "VersionMismatch" in reason
        if not final:
            self.on_event(Note(text=f"{self.labels[i]}: attempt {self.attempt[i]} failed on the "
                               f"cluster ({reason}); submitted again", level="warning"))
            return None
        error = f"failed {self.attempt[i]} time(s) on the cluster: {reason}"
        outcome = ProcessOutcome("error", None, error, "", seconds)
        result = RemoteResult(self.cells[i], "failed", outcome, None, error,
                              attempts=self.attempt[i])
        self.on_event(Finished(label=self.labels[i], status="failed", seconds=seconds,
                               index=i + 1, total=self.total, error=error))
        return i, result


def _reason(future) -> str:
    try:
        exc = future.exception()
    except Exception as e:  # noqa: BLE001 - a cancelled future raises instead of returning
        exc = e
    return f"{type(exc).__name__}: {exc}" if exc else future.status


def _host_name(info: Mapping[str, Any] | None) -> str | None:
    """'xeon@10.0.0.5:40123': the class and the worker's address (one line per host)."""
    if not info:
        return None
    where = (info.get("address") or info.get("hostname") or "?").split("://")[-1]
    return f"{info.get('machine_class')}@{where}"
