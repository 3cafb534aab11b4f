"""What every sweep shares (compare's and accuracy's): the append-only results file, the host
fingerprint that keys a record, and the account of a Dask cluster.

Results file: one JSON line per finished record, appended whole and fsync'd
(mxprof.jsonio.append_line), read back line by line, skipping a damaged line with a warning (a
file written by an interrupted run may end in half a line) and a line that does not decode as
the sweep's line Struct, naming the field. Each sweep's file names its record `kind` and line
Struct by subclassing `ResultsLog` (compare: mxprof.jobs.compare.results_log; accuracy:
mxprof.jobs.accuracy.sweep). Resuming: `done_keys` are the keys whose last line has status
"ok"; when a key appears more than once, the last line wins.

Keys: `reuse_fingerprint` is the part of a host fingerprint (mxprof.host.environment) that
changes a measurement, plus mxprof's version and the worker protocol's; on a cluster a record
is keyed by the fingerprint of the host that ran it and its machine class (`environment_of`),
and rows are grouped by class (`class_label`), one column group per class.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mxprof.files import InputFileError, input_lines
from mxprof.jsonio import append_line
from mxprof.schema import ResultFileError, decode


class ResultsFileError(ValueError):
    """A file that is not a results file at all (as opposed to a damaged line in one)."""


def read_lines(path: str | os.PathLike, *, kind: str, line: type, what: str,
               stream: bool = True) -> tuple[list[dict[str, Any]], list[str]]:
    """All well-formed records of `kind` (each decoding as `line`), in file order, and warnings
    for the lines skipped. `what` names the sweep in messages ("compare").

    The file is read one line at a time (mxprof.files.input_lines): a device or a folder is
    refused before a byte is read (ResultsFileError), a FIFO is read when `stream`."""
    path = Path(path)
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    try:
        for number, raw in enumerate(input_lines(path, "results file", stream=stream), 1):
            _read_line(path, number, raw, (kind, line, what), records, warnings)
    except InputFileError as exc:
        raise ResultsFileError(str(exc)) from None
    if not records and any("truncated last line" not in w for w in warnings):
        raise ResultsFileError(f"{path} holds no mxprof {what} records ({warnings[0]}); "
                               f"give the file written by `{what} --results`")
    return records, warnings


def _read_line(path: Path, number: int, raw: bytes, expected: tuple[str, type, str],
               records: list[dict[str, Any]], warnings: list[str]) -> None:
    kind, struct, what = expected
    text = raw.decode("utf-8", errors="replace")
    if not text.strip():
        return
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        where = "unreadable line" if raw.endswith(b"\n") else "truncated last line"
        warnings.append(f"{path}:{number}: {where} ignored (an interrupted write?)")
        return
    if not isinstance(record, dict) or record.get("kind") != kind:
        warnings.append(f"{path}:{number}: not an mxprof {what} record; ignored")
        return
    try:  # a line of the wrong shape is named, field and all, and skipped like a torn one
        decode(record, struct, source=f"{path}:{number}", what=f"{what} results-log")
    except ResultFileError as e:
        warnings.append(f"{e}; ignored")
        return
    records.append(record)


def latest_by_key(records: Iterable[dict[str, Any]], identity=None) -> list[dict[str, Any]]:
    """One record per key (or per `identity(record)`), the last written, in order of first
    appearance."""
    identity = identity or (lambda r: r["key"])
    by_key: dict[Any, dict[str, Any]] = {}
    for r in records:
        k = identity(r)
        by_key.pop(k, None)
        by_key[k] = r
    return list(by_key.values())


def done_keys(records: Iterable[dict[str, Any]]) -> set[str]:
    return {r["key"] for r in latest_by_key(records) if r.get("status") == "ok"}


class ResultsLog:
    """The results file of one sweep: read once at start, then one append per finished
    record. A sweep subclasses it with its record `kind`, line Struct and name."""

    kind: ClassVar[str]
    line: ClassVar[type]
    what: ClassVar[str]

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        _check_writable(self.path)
        if self.path.exists() or self.path.is_symlink():
            # Appended to as well as read: a FIFO is no results file here.
            self.records, self.warnings = read_lines(self.path, kind=self.kind, line=self.line,
                                                     what=self.what, stream=False)

    @property
    def done(self) -> set[str]:
        return done_keys(self.records)

    def append(self, record: dict[str, Any]) -> None:
        if record.get("kind") != self.kind or "key" not in record:
            raise ValueError(f"not a {self.what} record: needs kind and key")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_line(self.path, record)
        self.records.append(record)


def _check_writable(path: Path) -> None:
    """ResultsFileError unless every finished record can be appended to `path`, said before any
    worker starts (a read-only cache folder stopped a sweep with a traceback at its first
    record); creates nothing, so a dry run can look too."""
    existing = next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())
    if existing != path and not existing.is_dir():
        raise ResultsFileError(f"{existing} is a file, not a folder the results file {path} "
                               "can be made in: give --results PATH, or point MXPROF_CACHE "
                               "at a folder")
    if not os.access(existing, os.W_OK):
        what = "file" if existing == path else "folder"
        raise ResultsFileError(
            f"the {what} {existing} cannot be written here, and each finished run is appended "
            "to the results file at once: give --results PATH in a writable folder, or point "
            "MXPROF_CACHE at one")


def reuse_fingerprint(env: dict[str, Any]) -> dict[str, Any]:
    """The parts of a host fingerprint (mxprof.host.environment) that change a measurement,
    plus mxprof's version and the worker protocol's."""
    from mxprof._version import __version__
    from mxprof.workers.protocol import PROTOCOL_VERSION

    keep = ("cpu_model", "isa", "logical_cpus", "physical_cores", "sockets", "numa_nodes",
            "affinity", "python", "platform", "packages", "env")
    return {**{k: env.get(k) for k in keep}, "mxprof": __version__,
            "protocol": PROTOCOL_VERSION}


def environment_of(fingerprint: dict[str, Any], machine_class: str,
                   wait_policy: str | None = None) -> dict[str, Any]:
    """What keys a record run on the host with `fingerprint`, of `machine_class`."""
    env = {**reuse_fingerprint(fingerprint), "machine_class": machine_class}
    if wait_policy and wait_policy != "auto":
        env["wait_policy"] = wait_policy
    return env


def machine_of(env: dict[str, Any]) -> dict[str, Any]:
    """The part of an environment fingerprint that names the machine."""
    return {"hostname": env.get("hostname"), "cpu_model": env.get("cpu_model"),
            "logical_cpus": env.get("logical_cpus")}


def machine_label(machine: dict[str, Any]) -> str:
    cpu = (machine.get("cpu_model") or "?").replace("(R)", "").replace("(TM)", "")
    cpu = " ".join(w for w in cpu.split() if w not in ("CPU", "Intel", "AMD", "Processor"))
    return f"{machine.get('hostname') or '?'} ({cpu}, {machine.get('logical_cpus') or '?'} CPUs)"


def class_label(machine_class: str, machine: dict[str, Any]) -> str:
    """'xeon (Xeon Platinum 8375C, 36 CPUs)': a column group is a class, not one host."""
    return f"{machine_class} ({machine_label(machine).split(' (', 1)[-1]}"


def host_prints(executor, machine_class: str) -> list[dict[str, Any]]:
    """The fingerprints of the cluster's hosts of `machine_class` (connect time)."""
    return [h["fingerprint"] for h in executor.hosts(machine_class) if h.get("fingerprint")]


def cluster_notes(executor, finished) -> list[str]:
    """The cluster, its hosts with how each keeps the Dask worker off the benchmark CPUs, the
    dashboard link, and what the results file already held."""
    hosts = [f"host {d['machine_class']}: {d['hostname']} ({a}), {d['hygiene']['how']}"
             for a, d in sorted(executor.workers.items())
             if d["machine_class"] in executor.classes]
    link = executor.dashboard_link
    return [f"cluster {executor.address}: classes {', '.join(executor.classes)}", *hosts,
            *([f"Dask dashboard: {link}"] if link else []),
            *([f"reused {len(finished)} run(s) from the results file (same host fingerprint "
               "and class; --fresh runs them again)"] if finished else [])]


# --- where a sweep runs: the one place a sweep opens its cluster ----------------------------

def require_cluster(command: str, cluster: str | None) -> None:
    """UsageError (exit 2) at plan time when `cluster` is set and the `cluster` extra (Dask
    distributed) is not installed; `command` names the sweep ("accuracy")."""
    if cluster:
        from mxprof.errors import require_extra
        require_extra(f"{command} --cluster", "cluster")


@contextlib.contextmanager
def executor_of(cluster: str | None, classes: Sequence[str] = ()) -> Iterator[Any]:
    """The executor a sweep's `run` hands its cells to, closed on exit: a DaskExecutor
    connected to `cluster` (a scheduler address or "local") for `classes` (() for every class
    it has), or None without a cluster (each job's own LocalExecutor on this machine).
    Connecting raises mxprof.cluster.ClusterError (a UsageError: exit 2) before any cell
    starts when the cluster cannot run the sweep."""
    if cluster is None:
        yield None
        return
    from mxprof.cluster import DaskExecutor
    with DaskExecutor(cluster, list(classes) or None) as executor:
        yield executor
