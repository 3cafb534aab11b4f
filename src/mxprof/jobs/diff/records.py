"""The `mxprof diff --json` file (kind "diff", schema 1): what changed between two profiles.

`DiffResult` is the job's one Result (mxprof.jobs.contract): the two inputs (`Side`), the
headline ratios (mxprof.timing.stats.Ratio as dicts: value = median(A) / median(B), so above 1
means B is faster), one `LayerDiff` per layer matched by name (or by operator and output shape,
`match = "shape"`), sorted by the size of their difference, the layers only in A or only in B,
per-layer primitive changes (`PrimitiveChange`), roofline efficiencies, findings present on one
side only, and the environment differences (`EnvChange`). Times are ms per iteration.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.jobs.contract import Result
from mxprof.schema import Record

Json = dict[str, Any]


class Side(Record, frozen=True, kw_only=True):
    """One input file: its path, model and the protocol its layer figures come from."""

    path: str
    model: str
    input_shape: tuple[int, ...] = ()
    created: str | None = None
    mxnet: str | None = None
    onednn: str | None = None
    # Where it ran (None in files from before the environment was recorded):
    cpu_model: str | None = None
    cores: int | None = None  # physical cores of the machine
    cpus: str | None = None  # the workers' CPU list (affinity)
    threads: int | None = None  # OpenMP threads the workers ran with
    latency_ms: float | None = None
    layer_iterations: int | None = None  # timed iterations per layers process
    layer_processes: int | None = None  # layers processes pooled (None: no per-iteration samples)


class LayerDiff(Record, frozen=True, kw_only=True):
    """One layer in both files: medians, B - A with its interval, and significance.

    `ratio` is A / B (above 1: B faster, as every ratio of mxprof); `diff_low`/`diff_high` and
    `ratio_low`/`ratio_high` the interval (None when a file has no per-iteration samples);
    `significant` when that interval lies wholly beyond the threshold band (see
    mxprof.jobs.diff.layers); `share` is this layer's part of the summed layer difference.
    """

    name: str
    name_b: str | None = None  # the B layer's name when matched by operator and shape
    op: str | None = None
    output_shape: tuple[int, ...] | None = None
    ms_a: float
    ms_b: float
    diff_ms: float
    diff_low: float | None = None
    diff_high: float | None = None
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    significant: bool | None = None  # None: no interval (a file without samples)
    share: float | None = None
    pooled: str | None = None  # "20 iterations x 2 processes vs 13+20 iterations x 2 processes"
    efficiency_a: float | None = None  # roofline efficiency (attained / roof), 0..1
    efficiency_b: float | None = None
    bound_a: str | None = None
    bound_b: str | None = None


class OneSided(Record, frozen=True, kw_only=True):
    """A layer of one file only (fused away, or added)."""

    name: str
    op: str | None = None
    output_shape: tuple[int, ...] | None = None
    ms: float | None = None


class PrimitiveChange(Record, frozen=True, kw_only=True):
    """What changed in one layer's oneDNN primitives, A -> B.

    `what`: "implementation" (same kind, another impl), "reference" (an impl became `ref:*`),
    "layout" (memory descriptors changed), "reorder added" / "reorder gone", "primitive added" /
    "primitive gone"; `a`/`b` say what it was and became; ms per iteration on each side.
    """

    layer: str | None
    what: str
    kind: str | None = None
    a: str | None = None
    b: str | None = None
    ms_a: float | None = None
    ms_b: float | None = None


class EnvChange(Record, frozen=True, kw_only=True):
    """One environment fact that differs between the files (versions, ISA, threads, flags)."""

    what: str
    a: str | None = None
    b: str | None = None


class FindingChange(Record, frozen=True, kw_only=True):
    rule: str
    title: str
    side: str  # "A only" | "B only"
    layers: list[str] = msgspec.field(default_factory=list)


class DiffResult(Result, kw_only=True):
    """`mxprof diff A.json B.json --json`: see the module docstring."""

    kind: str = "diff"
    tool: str = ""
    created: str = ""
    a: Side
    b: Side
    match: str = "name"
    threshold: float = 0.05
    latency: Json | None = None  # Ratio.to_dict(), or None when a file has no samples
    latency_ms: tuple[float | None, float | None] = (None, None)
    throughput: Json | None = None
    images_per_s: tuple[float | None, float | None] = (None, None)
    layers: list[LayerDiff] = msgspec.field(default_factory=list)
    layers_diff_ms: float | None = None  # summed B - A over matched layers
    significant_share: float | None = None  # of layers_diff_ms, explained by significant layers
    only_a: list[OneSided] = msgspec.field(default_factory=list)
    only_b: list[OneSided] = msgspec.field(default_factory=list)
    primitives: list[PrimitiveChange] = msgspec.field(default_factory=list)
    primitive_totals: Json = msgspec.field(default_factory=dict)
    findings: list[FindingChange] = msgspec.field(default_factory=list)
    environment: list[EnvChange] = msgspec.field(default_factory=list)
    method: str = ""
    notes: list[str] = msgspec.field(default_factory=list)
