"""The `mxprof profile --json` file as Structs (schema 1): what `--load` validates against.

The report is built as a dict by mxprof.jobs.profile.report.build_report; its table sections
(layers, primitives, roofline) are the rows of mxprof.jobs.profile.sections and `findings` are
mxprof.onednn.findings.Finding records. Still JSON objects: operators, coverage, trace, threads,
checks and try_fixes (built by other jobs as dicts).
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.host.environment import Environment
from mxprof.jobs.profile.sections import LayerRow, Primitives, Roofline
from mxprof.jobs.profile.spec import Protocol
from mxprof.jobs.records import MachineLoadRow, PooledLatency, RatioRow
from mxprof.mx.models import ModelSpec
from mxprof.onednn.findings import Finding
from mxprof.schema import Record, ResultFileError, decode

Json = dict[str, Any]


class ProfileModel(ModelSpec, frozen=True, kw_only=True):
    weights: str | None = None  # "pretrained" | "user" | "random"
    weights_path: str | None = None
    param_count: int | None = None


class ProfileProtocol(Protocol, frozen=True, kw_only=True):
    batch_size: int
    threads: int | None = None
    threads_why: str | None = None  # where the count came from (mxprof.cpu.openmp.ThreadChoice)
    cpus: str | None = None
    membind: str | None = None
    hybridize: str | None = None
    passes: str | None = None
    breakdown_batch: int = 1  # batch of the operators, layers and primitives passes
    processes: int = 1
    interval: str | None = None
    processes_order: str | None = None


class Throughput(Record, frozen=True):
    batch_size: int
    images_per_s: float
    batch_ms: PooledLatency
    per_process_images_per_s: list[float] = msgspec.field(default_factory=list)


class RunRow(Record, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One worker of the run, as the report lists it."""

    config: str
    pass_: str = msgspec.field(name="pass")
    status: str  # "ok" | "failed" | "timeout"
    wall_s: float
    error: str | None = None
    returncode: int | None = None
    stderr_tail: str | None = None


class WaitWorker(Record, frozen=True, kw_only=True):
    """One worker's OpenMP wait decision (mxprof.cpu.openmp.WaitDecision), as the report
    lists it; share: other processes' share of its CPUs over the window (auto), else None."""

    pass_: str = msgspec.field(name="pass")
    policy: str  # "active" | "passive"
    asked: str  # "auto" | "active" | "passive"
    why: str
    share: float | None = None


class WaitSection(Record, frozen=True, kw_only=True):
    """How one configuration's workers waited: policy of its timing processes ("active",
    "passive" or "mixed") and every worker's decision."""

    policy: str
    workers: list[WaitWorker]


class Cost(Record, frozen=True, kw_only=True):
    """What the profile cost (mxprof.jobs.profile.cost): seconds, overhead = wall / model."""

    layout: str  # "shared" | "legacy"
    workers: int
    wall_s: float
    model_s: float  # inside the model's own calls (first calls, warm-up, timed, passes)
    overhead_ratio: float | None = None
    phases_s: dict[str, float] = msgspec.field(default_factory=dict)


class ConfigSection(Record, frozen=True, kw_only=True):
    """What one configuration (MKL-DNN on, or the reference) measured; None where not run."""

    latency_ms: PooledLatency | None = None
    throughput: Throughput | None = None
    operators: list[Json] | None = None
    operators_total_ms: float | None = None
    operators_source: str | None = None
    # The plausibility rule (report.implausible): why the operator total exceeds the latency.
    operators_implausible: str | None = None
    layers: list[LayerRow] | None = None
    layers_method: str | None = None
    coverage: Json | None = None
    breakdown_cost: Json | None = None
    wait_policy: WaitSection | None = None  # None in files from before per-worker decisions


class Speedup(Record, frozen=True):
    latency: float | None = None
    throughput: float | None = None
    latency_ratio: RatioRow | None = None
    throughput_ratio: RatioRow | None = None
    note: str | None = None  # the two configurations ran under different wait policies


class ReferenceSection(ConfigSection, frozen=True, kw_only=True):
    mkldnn: bool = False
    speedup: Speedup | None = None


class ProfileResult(ConfigSection, frozen=True, kw_only=True):
    """`mxprof profile --json`: the MKL-DNN configuration at the top, the reference inside.

    The profile job's one Result (mxprof.jobs.contract): `kind` is "profile" in every file
    written since; a file without it (older) still loads. `from_report` builds it from the
    report the job assembles (mxprof.jobs.profile.report), exactly as `--load` reads it back.
    """

    kind: str = "profile"
    schema: int
    tool: str
    created: str
    complete: bool
    model: ProfileModel
    environment: Json  # an Environment, or {} when every worker failed (checked on load)
    protocol: ProfileProtocol
    mkldnn: bool = True
    primitives: Primitives | None = None
    trace: list[Json] | None = None
    machine_load: list[MachineLoadRow] | None = None
    reference: ReferenceSection | None = None
    runs: list[RunRow]
    notes: list[str] = msgspec.field(default_factory=list)
    missing: list[str] = msgspec.field(default_factory=list)
    threads: Json | None = None
    checks: Json | None = None
    roofline: Roofline | None = None
    findings: list[Finding] | None = None
    try_fixes: Json | list[Json] | None = None
    cost: Cost | None = None  # None in files from before the cost record


    @property
    def failed(self) -> bool:
        """A worker or a companion check failed: `mxprof profile` exits 1."""
        from mxprof.jobs.profile.run import failed
        return failed([r.status == "ok" for r in self.runs], self.checks)

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> ProfileResult:
        """The record of a report dict, through the JSON a file holds (numpy scalars become
        numbers, as mxprof.jsonio writes them); ValidationError names a wrong field."""
        from mxprof.schema import _plain
        return msgspec.json.decode(msgspec.json.encode(report, enc_hook=_plain), type=cls,
                                   strict=True)


def validate(data: Any, *, source: str) -> ProfileResult:
    """`data` decoded as a profile result, its environment too when a worker recorded one;
    ResultFileError names `source` and the wrong field."""
    if isinstance(data, dict) and data.get("kind", "profile") != "profile":
        raise ResultFileError(f"{source}: not an mxprof profile result: kind "
                              f"{data.get('kind')!r}")
    record = decode(data, ProfileResult, source=source, what="profile")
    if record.environment:
        try:
            Environment.from_dict(record.environment)
        except msgspec.ValidationError as e:
            msg = str(e).replace("`$", "`$.environment")
            raise ResultFileError(f"{source}: not an mxprof profile result: {msg}") from None
    return record
