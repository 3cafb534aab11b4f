"""The sections of `mxprof profile --json` that tables fill: layers, primitives, roofline.

Each row is the record of the table that wrote it, so the published schema (schemas/
profile.schema.json) and `--load` know its columns:
- `LayerRow`: one row of `layers` (mxprof.jobs.profile.report, from mxprof.mx.layers LayerTime);
- `Primitives`: the primitive pass of the worker (mxprof.jobs.profile.passes.run_primitives):
  per-kind and per-layer tables, the reorders (mxprof.onednn.attribution.ReorderReport), the
  work of every primitive (mxprof.onednn.work.primitive_work) and the subnormal counts;
- `Roofline`: mxprof.jobs.profile.roofline_section.roofline_section, its layer and primitive rows
  (mxprof.onednn.roofline.layer_roofline, add_roofline) and the headroom
  (mxprof.onednn.roofline.headroom).

Rows come from pandas tables written as strict JSON, so a figure that was NaN (work of a
descriptor that could not be read, a time of 0) is null: those figures are `float | None`.
Columns a newer writer adds are accepted (unknown keys are ignored), so these describe what
every reader may rely on. `header` and `totals` of the primitives are the verbose scanner's
own dicts (mxprof.onednn.verbose.VerboseLog.header, .totals()), typed as JSON objects.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.onednn.attribution import ReorderReport
from mxprof.onednn.roofline import Ceilings
from mxprof.schema import Record

Number = float | None


class LayerRow(Record, frozen=True, kw_only=True):
    """One layer (graph node) of the per-layer profile: median ms per iteration; `samples_ms`:
    each timed iteration's ms, one list per layers process (None in files written before
    they were kept: `mxprof diff` then gives no interval)."""

    name: str
    op: str | None = None
    ms: Number = None
    output_shape: tuple[int, ...] | None = None
    samples_ms: list[list[float]] | None = None


class KindRow(Record, frozen=True, kw_only=True):
    """Primitives of one kind per iteration: count, ms, share of the primitive time in %."""

    kind: str
    count: float
    ms: float
    percent: Number = None
    mean_ms: Number = None


class PrimitiveKey(Record, frozen=True, kw_only=True):
    """The columns that name a primitive in the worker's tables: its row number, the layer it
    ran in (None outside every layer), its kind, implementation and problem descriptor."""

    index: int | None = None
    layer: str | None = None
    layer_op: str | None = None
    kind: str | None = None
    impl: str | None = None
    problem: str | None = None


class LayerPrimitiveRow(PrimitiveKey, frozen=True, kw_only=True):
    """One (layer, kind, implementation, problem) of the primitive pass, per iteration."""

    count_per_iter: Number = None
    ms_per_iter: Number = None
    ms_per_exec: Number = None
    gflops_per_s: Number = None


class WorkRow(PrimitiveKey, frozen=True, kw_only=True):
    """One primitive's calls and ms per iteration and its work per call (FLOPs, bytes)."""

    mds: str | None = None
    aux: str | None = None
    calls: Number = None
    ms: Number = None
    median_exec_ms: Number = None
    min_exec_ms: Number = None
    flops: Number = None
    bytes: Number = None
    compute: str = "f32"


class Subnormal(Record, frozen=True):
    """A parameter holding subnormal values (mxprof.onednn.findings.parameter_subnormals)."""

    param: str
    subnormal: int
    size: int
    share: float


class Primitives(Record, frozen=True, kw_only=True):
    """The primitive pass: DNNL_VERBOSE on a few iterations, attributed to layers."""

    iterations: int
    onednn_version: str | None = None
    header: dict[str, Any] = msgspec.field(default_factory=dict)
    totals: dict[str, Any] = msgspec.field(default_factory=dict)
    by_layer: list[LayerPrimitiveRow] = msgspec.field(default_factory=list)
    reorders: ReorderReport | None = None
    by_kind: list[KindRow] = msgspec.field(default_factory=list)
    reorder_share: Number = None
    work: list[WorkRow] = msgspec.field(default_factory=list)
    subnormals: list[Subnormal] = msgspec.field(default_factory=list)
    params_checked: int | None = None


class RooflineLayerRow(Record, frozen=True, kw_only=True):
    """One layer on the roofline: its primitives' work summed, attained rates, roof, class."""

    layer: str | None = None
    layer_op: str | None = None
    ms: Number = None
    primitives: Number = None
    flops: Number = None
    bytes: Number = None
    attained_gflops: Number = None
    attained_gbs: Number = None
    intensity: Number = None
    roof_ms: Number = None
    efficiency: Number = None
    bound: str


class RooflinePrimitiveRow(WorkRow, frozen=True, kw_only=True):
    """One primitive on the roofline: its work row with the roofline columns added
    (mxprof.onednn.roofline.add_roofline)."""

    attained_gflops: Number = None
    attained_gbs: Number = None
    intensity: Number = None
    bound_gflops: Number = None
    roof_ms: Number = None
    efficiency: Number = None
    bound: str


class RooflineCeilings(Ceilings, frozen=True, kw_only=True):
    """The roofs used, with the theoretical peaks and where the measured ones came from."""

    theoretical_gflops: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None


class Headroom(Record, frozen=True, kw_only=True):
    """The model's time if every primitive ran at its roof (mxprof.onednn.roofline.headroom)."""

    primitives_ms: float
    roof_ms: float
    latency_ms: Number = None
    model_at_roof_ms: Number = None
    speedup_bound: Number = None


class Roofline(Record, frozen=True, kw_only=True):
    ceilings: RooflineCeilings
    layers: list[RooflineLayerRow]
    primitives: list[RooflinePrimitiveRow]
    headroom: Headroom
    overhead_efficiency: float
    method: str
    # Why the roofs cannot be trusted (measured while busy, or beaten by timed primitives).
    warnings: list[str] = msgspec.field(default_factory=list)
    # The verdict itself: timed primitives beat the measured compute roofs (which were then
    # raised to their rate); the profile job measures cached ceilings again when it is set.
    roof_refuted: bool = False
