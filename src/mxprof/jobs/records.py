"""Row shapes that several result files share: a Ratio, a MachineLoad and a pooled latency as
written to JSON (mxprof.jobs.results gathers the files; mxprof.schema is the record model)."""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.cpu.load import MachineLoad
from mxprof.schema import Record
from mxprof.timing.stats import Ratio

Json = dict[str, Any]


class RatioRow(Ratio, frozen=True, kw_only=True):
    """A Ratio as written: with its sentence."""

    text: str


class MachineLoadRow(MachineLoad, frozen=True, kw_only=True):
    """A MachineLoad as written: with the busy-machine sentence (None when not busy)."""

    warning: str | None = None


class PooledLatency(Record, frozen=True):
    """A latency (or batch time) in ms over one or more processes (mxprof.timing.pooled)."""

    median: float
    n: int
    mean: float | None = None
    p90: float | None = None
    p99: float | None = None
    min: float | None = None
    max: float | None = None
    stdev: float | None = None
    ci95_low: float | None = None
    ci95_high: float | None = None
    q1: float | None = None
    q3: float | None = None
    processes: int = 1
    n_per_process: list[int] = msgspec.field(default_factory=list)
    within_stdev: float | None = None
    between_stdev: float | None = None
    ci_method: str | None = None
    notes: list[str] = msgspec.field(default_factory=list)
    warnings: list[str] = msgspec.field(default_factory=list)
    first_call_ms: float | None = None
    protocol: Json | None = None
    per_process_median_ms: list[float] = msgspec.field(default_factory=list)
    samples_ms_per_process: list[list[float]] = msgspec.field(default_factory=list)
    samples_ms: list[float] = msgspec.field(default_factory=list)
