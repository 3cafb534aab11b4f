"""Append-only results file: one JSON line per finished run, so a sweep loses nothing.

Every line is a complete record (`mxprof.jobs.compare.matrix.make_record`): the run's key, its
build, its worker results and their environment fingerprints. A line is appended whole or not at
all and fsync'd before the next run starts (mxprof.jsonio.append_line). Reading skips a
damaged line with a warning (files written by older versions could end in half a line), and
so a line that does not decode as mxprof.jobs.compare.records.ResultsLine, naming the field.

Where: `--results PATH`, else `default_results_path(sweep_key(planned))`, a file per sweep
under the user's cache folder ($MXPROF_CACHE, else $XDG_CACHE_HOME/mxprof, else
~/.cache/mxprof; then compare/<sweep key>.jsonl), never the current directory.

Resuming: `done_keys` gives the keys of runs that finished with status "ok"; a sweep skips
those and runs the rest (failed and timed-out runs are tried again). When a key appears more
than once, the last line wins. A run's key covers the whole environment fingerprint
(`reuse_fingerprint`: package versions, the build's MXNet, mxprof's version, the worker
protocol, the MXNet/OpenMP/oneDNN variables, affinity, platform), so a new MXNet build or mxprof
version is never answered with old numbers; `reuse_notes` says which results were reused, from
which file and when they were measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mxprof.files import InputFileError, input_lines
from mxprof.jobs.compare.records import ResultsLine
from mxprof.jsonio import append_line
from mxprof.schema import ResultFileError, decode

KIND = "mxprof-compare-run"


class ResultsFileError(ValueError):
    """A file that is not a results file at all (as opposed to a damaged line in one)."""


def read_lines(path: str | os.PathLike, *, stream: bool = True
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """All well-formed records, in file order, and warnings for the lines that were skipped.

    The file is read one line at a time (mxprof.files.input_lines): a device or a folder is
    refused before a byte is read (ResultsFileError), a FIFO is read when `stream`."""
    path = Path(path)
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    try:
        for number, raw in enumerate(input_lines(path, "results file", stream=stream), 1):
            _read_line(path, number, raw, records, warnings)
    except InputFileError as exc:
        raise ResultsFileError(str(exc)) from None
    if not records and any("truncated last line" not in w for w in warnings):
        raise ResultsFileError(f"{path} holds no mxprof compare records ({warnings[0]}); "
                               "give the file written by `compare --results`")
    return records, warnings


def _read_line(path: Path, number: int, raw: bytes, records: list[dict[str, Any]],
               warnings: list[str]) -> None:
    line = raw.decode("utf-8", errors="replace")
    if not line.strip():
        return
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        where = "unreadable line" if raw.endswith(b"\n") else "truncated last line"
        warnings.append(f"{path}:{number}: {where} ignored (an interrupted write?)")
        return
    if not isinstance(record, dict) or record.get("kind") != KIND:
        warnings.append(f"{path}:{number}: not an mxprof compare record; ignored")
        return
    try:  # a line of the wrong shape is named, field and all, and skipped like a torn one
        decode(record, ResultsLine, source=f"{path}:{number}", what="compare results-log")
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
    """The results file of one sweep: read once at start, then one append per finished run."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.records: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        if self.path.exists() or self.path.is_symlink():
            # Appended to as well as read: a FIFO is no results file here.
            self.records, self.warnings = read_lines(self.path, stream=False)

    @property
    def done(self) -> set[str]:
        return done_keys(self.records)

    def append(self, record: dict[str, Any]) -> None:
        if record.get("kind") != KIND or "key" not in record:
            raise ValueError("not a compare record: needs kind and key")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        append_line(self.path, record)
        self.records.append(record)


def default_results_path(key: str) -> Path:
    """The results file of the sweep whose `sweep_key` is `key`, under the cache folder."""
    from mxprof.cache import cache_root

    return cache_root() / "compare" / f"{key}.jsonl"


def sweep_key(planned: Iterable[Any]) -> str:
    """What the user asked for (models, shapes, configurations, batches, builds, protocol,
    binding, instances), not the environment: the same sweep run again after an MXNet upgrade
    lands in the same file, where its old lines are kept but not reused (their keys differ)."""
    what = sorted(json.dumps([{k: v for k, v in p.spec.to_dict().items() if k != "test_hook"},
                              [p.build.name, p.build.python, p.build.pip_spec],
                              list(p.instance_cpus)], sort_keys=True, default=str)
                  for p in planned)
    return hashlib.sha256("\n".join(what).encode()).hexdigest()[:16]


def reuse_fingerprint(env: dict[str, Any]) -> dict[str, Any]:
    """The parts of a host fingerprint (mxprof.host.environment) that change a measurement,
    plus mxprof's version and the worker protocol's."""
    from mxprof._version import __version__
    from mxprof.workers.protocol import PROTOCOL_VERSION

    keep = ("cpu_model", "isa", "logical_cpus", "physical_cores", "sockets", "numa_nodes",
            "affinity", "python", "platform", "packages", "env")
    return {**{k: env.get(k) for k in keep}, "mxprof": __version__,
            "protocol": PROTOCOL_VERSION}


def reuse_notes(path: Path, reused: list[dict[str, Any]], labels: dict[str, str]) -> list[str]:
    """One line naming the file and the measurement times, then one line per reused run."""
    if not reused:
        return []
    times = sorted(r.get("finished_at") or "?" for r in reused)
    span = times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"
    return [f"reused {len(reused)} result(s) from {path}, measured {span} (same key: same "
            "spec, build, machine and environment fingerprint; --fresh runs them again)",
            *[f"reused: {labels.get(r['key'], r['key'])} (measured {r.get('finished_at')})"
              for r in reused]]
