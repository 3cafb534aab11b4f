"""Records that cross the process boundary: what a worker runs and what it found (schema 1).

A `RunSpec` is one pass of one model in one configuration (MKL-DNN on or off). Most passes
need a process of their own because MXNet, OpenMP and oneDNN read their settings once, when the
library loads (the operators pass joins a timing process: mxprof.jobs.profile.runner says why):
- "timing":    latency at batch 1 and throughput at the batch size; bulk execution on (the way
               inference is deployed), no profiler, no verbose output;
- "operators": MXNet's profiler per operator type with bulk execution off, so operators are not
               merged (its own latency is recorded, to show the cost), and a trace of one call;
- "layers":    per-layer times from the per-layer hooks (mxprof.mx.layers), under its LAYER_ENV
               (NaiveEngine, bulk off: MXNet's profiler double-counts operators under
               NaiveEngine, hence apart);
- "primitives": DNNL_VERBOSE=1 on a few iterations, the log captured at the file-descriptor
               level, each primitive attributed to its layer by the layer windows of the same run.
A `RunResult` is what the worker writes (or, for a crash or timeout, what the runner writes).
Both are frozen msgspec records (mxprof.schema.Record): `to_dict()`/`from_dict()` are msgspec's
encoder and strict decoder; files go through mxprof.jsonio.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.cpu.openmp import WaitDecision
from mxprof.mx.models import ModelSpec
from mxprof.schema import SCHEMA, Record

PASSES = ("timing", "operators", "layers", "primitives")

# Test-only fault injection (profile --test-hook), passed to the worker as a fault of the one
# worker protocol (mxprof.workers.protocol): "abort" is SIGABRT before any result (a native
# crash), "hang" sleeps forever (the runner's timeout), "raise" raises.
TEST_HOOKS = ("abort", "hang", "raise")


class Protocol(Record, frozen=True):
    """How to time: fixed iteration counts, or enough iterations to fill `min_time` seconds."""

    warmup: int = 2
    iterations: int | None = None  # None: from min_time
    min_time: float = 2.0  # seconds of timed calls per measurement
    min_iterations: int = 10  # the timer flags fewer than 10 samples as unstable
    max_iterations: int = 10_000
    throughput_warmup: int = 1
    # The timer's own rule (see POOLED_MIN_SAMPLES) for one process; `for_processes` spreads it
    # over the processes whose calls are pooled into one figure.
    throughput_min_iterations: int = 10

    @classmethod
    def for_processes(cls, processes: int, **fields: Any) -> Protocol:
        """The protocol whose pooled throughput figure over `processes` processes has at least
        POOLED_MIN_SAMPLES calls: ceil(10 / processes) per process (4 for the default 3).

        Throughput calls are the protocol's longest (resnet50_v1 at batch 8 without MKL-DNN:
        about 0.66 s each on 2 cores); 10 per process put 30 in the pooled figure, 20 more than
        its rule asks, and cost a default profile about 18 s of its 100."""
        per = -(-POOLED_MIN_SAMPLES // max(processes, 1))
        return cls(throughput_min_iterations=per, **fields)


# The timer's own rule, mxprof.timing.stats.MIN_SAMPLES (not imported: workers read this module
# before numpy may start its threads; a test holds the two equal): a default protocol never
# produces a figure its statistics call unstable for want of samples.
POOLED_MIN_SAMPLES = 10


class RunSpec(Record, frozen=True):
    model: ModelSpec
    config: str  # "mkldnn" (MKL-DNN on) or "reference" (MKL-DNN off)
    mkldnn: bool
    pass_name: str  # one of PASSES
    batch_size: int = 8
    protocol: Protocol = Protocol()
    threads: int | None = None
    cpus: str | None = None
    membind: str | None = None
    physical_only: bool = False
    breakdown_iterations: int = 20
    test_hook: str | None = None
    schema: int = SCHEMA


    # "auto" | "active" | "passive" as asked (None: auto); auto is decided per worker by the
    # runner right before it starts (mxprof.jobs.profile.runner.wait_decision).
    wait_policy: str | None = None
    # Where `threads` came from, as reports print it after the count
    # (mxprof.cpu.openmp.ThreadChoice.why): "one per physical core (mxprof default; ...)".
    threads_why: str | None = None
    # What a timing spec also measures in its process for the companion checks (the "shared"
    # layout, mxprof.jobs.profile.companions): "outputs", "fused".
    companions: tuple[str, ...] = ()
    # The batch of the operators, layers and primitives passes (--breakdown-batch); unset
    # (not written, so compare run keys stay as they were) is 1: see `breakdown`.
    breakdown_batch: int | msgspec.UnsetType = msgspec.UNSET

    @property
    def breakdown(self) -> int:
        """The breakdown passes' batch: --breakdown-batch, 1 by default."""
        return 1 if self.breakdown_batch is msgspec.UNSET else self.breakdown_batch

    @property
    def label(self) -> str:
        return f"{self.model.name} {self.config} {self.pass_name}"


class RunResult(Record, frozen=True):
    """One worker's findings. Missing pieces are named in `missing`, never filled with guesses."""

    spec: RunSpec
    status: str  # "ok" | "failed" | "timeout"
    wall_s: float
    error: str | None = None
    stderr_tail: str | None = None
    returncode: int | None = None
    environment: dict[str, Any] = msgspec.field(default_factory=dict)
    weights: str | None = None  # "pretrained" | "user" | "random"
    weights_path: str | None = None
    param_count: int | None = None
    latency: dict[str, Any] | None = None  # stats in ms + protocol
    throughput: dict[str, Any] | None = None
    operators: dict[str, Any] | None = None
    layers: dict[str, Any] | None = None
    primitives: dict[str, Any] | None = None
    trace: list[dict[str, Any]] | None = None  # one iteration as Chrome trace events
    notes: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    schema: int = SCHEMA
    # Seconds per phase of this pass: start (binding, fingerprint), import (MXNet), build
    # (model), first_call, warmup, timed (timing pass), pass (the whole pass); the first three
    # only for the first pass of a process (mxprof.jobs.profile.worker).
    phases: dict[str, float] = msgspec.field(default_factory=dict)
    # The other passes that ran in the same process (mxprof.jobs.profile.runner.JOINS).
    shared_with: tuple[str, ...] = ()
    # How this worker's OpenMP threads waited, decided right before it started, and why (for
    # auto: other processes' share of its CPUs over the window; mxprof.cpu.openmp).
    wait: WaitDecision | None = None
    # What the timing pass measured for the companion checks (mxprof.jobs.profile.companions).
    companions: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def from_dict(cls, d: Any) -> RunResult:
        if isinstance(d, dict) and d.get("schema", SCHEMA) != SCHEMA:
            raise ValueError(f"run result schema {d.get('schema')} is not {SCHEMA}")
        return super().from_dict(d)
