"""Append-only results file: one JSON line per finished run, so a sweep loses nothing.

Every line is a complete record (`mxprof.jobs.compare.plan.RunRecord.to_dict()`): the run's key, its build,
its worker results and their environment fingerprints. A line is written with one `write` of
the whole text and fsync'd before the next run starts, so a killed sweep leaves at most one
truncated last line. Reading skips such a line with a warning; appending first ends it with a
newline so the next record starts on a line of its own.

Resuming: `done_keys` gives the keys of runs that finished with status "ok"; a sweep skips
those and runs the rest (failed and timed-out runs are tried again). When a key appears more
than once, the last line wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

KIND = "mxprof-compare-run"


class ResultsFileError(ValueError):
    """A file that is not a results file at all (as opposed to a damaged line in one)."""


def read_lines(path: str | os.PathLike) -> tuple[list[dict[str, Any]], list[str]]:
    """All well-formed records, in file order, and warnings for the lines that were skipped."""
    path = Path(path)
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    lines = text.split("\n")
    complete = text.endswith("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = number == len(lines)
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            where = "truncated last line" if last and not complete else "unreadable line"
            warnings.append(f"{path}:{number}: {where} ignored (an interrupted write?)")
            continue
        if not isinstance(record, dict) or record.get("kind") != KIND:
            warnings.append(f"{path}:{number}: not an mxprof compare record; ignored")
            continue
        records.append(record)
    if not records and any("truncated last line" not in w for w in warnings):
        raise ResultsFileError(f"{path} holds no mxprof compare records ({warnings[0]}); "
                               "give the file written by `compare --results`")
    return records, warnings


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
        if self.path.exists():
            self.records, self.warnings = read_lines(self.path)

    @property
    def done(self) -> set[str]:
        return done_keys(self.records)

    def append(self, record: dict[str, Any]) -> None:
        if record.get("kind") != KIND or "key" not in record:
            raise ValueError("not a compare record: needs kind and key")
        line = json.dumps(record, separators=(",", ":"), default=_jsonable) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if _ends_without_newline(self.path):
                line = "\n" + line  # close a truncated line left by a killed writer
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        self.records.append(record)


def _ends_without_newline(path: Path) -> bool:
    size = path.stat().st_size
    if size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) != b"\n"


def _jsonable(obj):
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
