"""The `mxprof int8` result: per-layer errors and times, the search trace, the chosen exclusion.

`Int8Result` is the file `--json` writes and `--load` reads (kind "int8", schema 1). Every
latency is the pooled record of the candidate's timing processes (mxprof.timing.pooled: median
and 95% interval, in ms); every speedup is FP32's median over the candidate's, with the
bootstrap interval and whether it is significant.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.jobs.contract import Result
from mxprof.schema import Record


class Errors(Record, frozen=True):
    """INT8 against FP32 over the probe inputs (mxprof.jobs.int8.numerics)."""

    sqnr_db: float | None  # None: no error at all (an infinite ratio, which JSON lacks)
    cosine: float
    norm_l2: float
    max_abs: float


class LayerRow(Record, frozen=True):
    """One node of the INT8 graph that stands for FP32 layers.

    `layers`: the FP32 layers it absorbed (graph node names), `layer` the one whose output it
    produces; `accumulated`: each model on its own input; `local`: the INT8 node fed the FP32
    layer's input (None with `local_note` saying why); times in ms per call, measured with the
    per-layer hooks (NaiveEngine, mxprof.mx.layers) at the timing batch: `int8_ms` this node,
    `fp32_ms` the fused FP32 nodes covering the same layers, `boundary_ms` the quantize,
    dequantize and requantize nodes next to it (`boundary` names them); `reorder_ms` the oneDNN
    reorders inside this node and its boundary nodes (DNNL_VERBOSE, 3 calls), `impl` its longest
    primitive (kind:implementation). The hooks need static_shape off, under which MXNet 1.9.1
    re-creates every stateful (fused) operator per call, so `int8_ms` includes a per-call weight
    quantization that the whole-model timings (static_shape on) do not pay."""

    node: str
    op: str
    role: str  # int8 | fp32
    layers: tuple[str, ...]
    layer: str
    accumulated: Errors
    local: Errors | None = None
    local_note: str | None = None
    int8_ms: float | None = None
    fp32_ms: float | None = None
    boundary_ms: float | None = None
    boundary: tuple[str, ...] = ()
    reorder_ms: float | None = None
    impl: str | None = None


class Latency(Record, frozen=True):
    """Pooled latency of one configuration, ms per call at the timing batch."""

    median_ms: float
    ci95_low_ms: float | None
    ci95_high_ms: float | None
    processes: int
    calls: int


class Speedup(Record, frozen=True):
    """FP32 median / this configuration's median, with its 95% interval."""

    value: float
    ci95_low: float
    ci95_high: float
    significant: bool


class Candidate(Record, frozen=True):
    """One configuration the search ran (a row of the trace).

    phase: fp32 | all-int8 | exclude | take-back | cost; `excluded` the FP32 layers passed to
    quantize_net's exclude_layers; `score` the target's metric (None without a target's data);
    `status` a worker status, with `error` its reason when not ok."""

    step: int
    phase: str
    excluded: tuple[str, ...]
    status: str
    error: str | None = None
    top1_agreement: float | None = None
    top1: float | None = None
    output_sqnr_db: float | None = None
    score: float | None = None
    meets: bool | None = None
    latency: Latency | None = None
    speedup: Speedup | None = None
    int8_layers: int = 0
    on_front: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Target(Record, frozen=True):
    """`--target METRIC=VALUE`: top1 (labelled --data), agreement (top-1 with FP32) or sqnr
    (output SQNR in dB); met when the metric is at least the value."""

    metric: str
    value: float


class Int8Result(Result, kw_only=True):
    """What `mxprof int8 MODEL` found; see the module docstring."""

    kind: str = "int8"
    model: str
    weights: str  # pretrained | user | random
    calib_mode: str
    calib_source: str
    quantized_dtype: str
    user_exclude: tuple[str, ...] = ()
    inputs: str
    target: Target | None = None
    threshold_db: float
    probe: int
    protocol: dict[str, Any] = msgspec.field(default_factory=dict)
    layers: list[LayerRow] = msgspec.field(default_factory=list)
    first_diverging: str | None = None
    candidates: list[Candidate] = msgspec.field(default_factory=list)
    chosen: int | None = None
    met: bool | None = None
    quantize_net_args: str = ""
    exported: tuple[str, ...] = ()
    notes: list[str] = msgspec.field(default_factory=list)
    errors: list[str] = msgspec.field(default_factory=list)
    environment: dict[str, Any] = msgspec.field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def failed(self) -> bool:
        """The FP32 reference or the first INT8 configuration could not run."""
        return bool(self.errors)

    @property
    def chosen_candidate(self) -> Candidate | None:
        return None if self.chosen is None else self.candidates[self.chosen]

    @classmethod
    def from_dict(cls, data: Any) -> Int8Result:
        return msgspec.convert(data, cls, str_keys=True)
