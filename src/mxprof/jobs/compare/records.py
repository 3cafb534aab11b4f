"""The files of `mxprof compare` as Structs (schema 1): the rows of `--json` (and `merge`) and
the lines of the results log (`--results`), validated when read back.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.jobs.contract import Result
from mxprof.jobs.profile.spec import RunResult
from mxprof.jobs.records import PooledLatency, RatioRow
from mxprof.schema import Record

Json = dict[str, Any]


class CompareRow(Record, frozen=True, kw_only=True):
    """One row of `mxprof compare`: a latency, a throughput, or a failed run (`metric`)."""

    machine: str
    machine_class: str | None = None  # compare --cluster: the class of the host that ran it
    hostname: str | None = None
    cpu_model: str | None = None
    build: str
    mxnet: str | None = None
    onednn: str | None = None  # the oneDNN version the worker ran (None: not probed)
    affinity: str | None = None  # the CPUs the worker was allowed (sched_getaffinity)
    physical_cores: int | None = None
    wait_policy: str | None = None
    model: str
    label: str
    category: str | None = None
    input_shape: list[int]
    inputs: str | None = None  # per-sample shapes fed, e.g. "3x224x224" (rows key on it)
    config: str
    mkldnn: bool
    instances: int = 1
    threads: int | None = None
    threads_asked: int | None = None  # --threads as asked (None: the default), a sweep axis
    cpus: str | None = None
    membind: str | None = None
    weights: str | None = None
    status: str
    key: str
    notes: list[str] = msgspec.field(default_factory=list)
    metric: str  # "latency" | "throughput" | "failed"
    batch_size: int
    from_batch: int | None = None
    latency_ms: float | None = None
    q1_ms: float | None = None
    q3_ms: float | None = None
    stdev_ms: float | None = None
    images_per_s: float | None = None
    images_per_s_low: float | None = None
    images_per_s_high: float | None = None
    batch_ms: float | None = None
    iterations: int | None = None
    warmup: int | None = None
    min_time_s: float | None = None
    timer: str | None = None
    stats: PooledLatency | None = None
    per_instance_latency_ms: list[float] | None = None
    per_instance_images_per_s: list[float] | None = None
    instance_cpus: list[str] | None = None
    instance_bindings: list[Json] | None = None
    error: str | None = None
    stderr_tail: str | None = None
    speedup: float | None = None
    speedup_ratio: RatioRow | None = None
    vs_build: Json | None = None
    # The busy-machine rule (mxprof.cpu.load) over the cell's processes: busy when any was.
    machine_load: Json | None = None
    busy: bool = False
    other_cpu_fraction: float | None = None


class CompareResult(Result, Record, frozen=True, kw_only=True):
    """`mxprof compare --json` (and `merge --json`): the compare job's one Result. Files
    written before the kind was "compare" say "mxprof-compare".

    The rows stay the JSON objects `mxprof.jobs.compare.rows` builds (pooled figures, ratios
    and per-instance lists, more keys than a CompareRow names), so the file holds every one
    of them; `CompareFile` is the same file with its rows checked as CompareRow."""

    kind: str = "compare"
    rows: list[Json]
    notes: list[str] = msgspec.field(default_factory=list)
    # The fastest configuration per model, machine and configuration when a sweep has several
    # (mxprof.jobs.compare.best), with its ratio over the runner-up.
    best: list[Json] = msgspec.field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A run failed (its row's metric is "failed"): the command exits 1."""
        return any(r.get("metric") == "failed" for r in self.rows)


class CompareFile(CompareResult, frozen=True, kw_only=True):
    """`mxprof compare --json` as `--load` checks it (and its published schema)."""

    rows: list[CompareRow]


class ResultsLine(Record, frozen=True, kw_only=True):
    """One line of the compare results log: one finished run, with its workers' results.

    Required: what reading a line needs (kind, schema, key, status, results); the rest is
    what `plan.make_record` writes today, optional for lines of earlier versions.
    """

    kind: str
    schema: int
    key: str
    status: str
    base_key: str | None = None
    process: int = 0
    finished_at: str | None = None
    build: Json | None = None  # mxprof.host.builds.Build
    machine: Json | None = None
    instance_cpus: list[str] = msgspec.field(default_factory=list)
    machine_class: str | None = None  # compare --cluster: the class it ran on
    worker: Json | None = None  # compare --cluster: the Dask worker, its hygiene, attempts
    results: list[RunResult]
    machine_load: Json | None = None  # mxprof.cpu.load.MachineLoad during the run
