"""The fusion job's one result, `FusionResult` (kind "fusion", schema 1), and its rows.

The job (mxprof.jobs.fusion.job) returns a FusionResult; `--json` writes it, `--load` reads it
back through it, and the renderers take it. The rows are assembled by mxprof.jobs.fusion.assemble;
the latency records of the groups and patterns (mxprof.jobs.fusion.gains) are JSON objects
here. Files written before the one statistics record hold old verdict fields
(`gain_percent_range`...): mxprof.jobs.fusion.report.upgrade converts them before they become
a FusionResult.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.jobs.contract import Result
from mxprof.jobs.records import MachineLoadRow, RatioRow
from mxprof.schema import Record

Json = dict[str, Any]


class FusedGroupRow(Record, frozen=True):
    """One fused node: the layers it absorbed and their primitive times unfused vs fused."""

    fused_node: str
    op: str
    pattern: str
    members: list[str]
    member_ops: list[str]
    unfused_ms: float | None = None
    fused_ms: float | None = None
    gain_ms: float | None = None
    gain_percent: float | None = None
    clear: bool | None = None
    unfused_spread: Json | None = None  # the latency record of mxprof.jobs.fusion.gains
    fused_spread: Json | None = None
    reason: str | None = None
    gain_ratio: RatioRow | None = None
    implausible: str | None = None


class PatternGroupRow(Record, frozen=True):
    pattern: str
    groups: int
    unfused_ms: float | None = None
    fused_ms: float | None = None
    gain_ms: float | None = None
    gain_percent: float | None = None
    gain_ratio: RatioRow | None = None  # over the trace processes, per iteration
    implausible: str | None = None
    clear: bool | None = None


class PatternEffectRow(Record, frozen=True):
    """The graph with one fusion switch off, against the fused processes of the same rounds
    (`fused_paired_ms`: their median; files written before several processes: the one fused
    run right before it)."""

    switch: str
    pattern: str
    latency: Json
    patterns: dict[str, int]
    cost_ms: float | None = None
    fused_paired_ms: float | None = None
    processes: int | None = None  # switch-off processes that ran
    graph_changed: bool | None = None
    clear: bool | None = None


class FusionFinding(Record, frozen=True):
    """The one findings record (mxprof.onednn.findings.Finding) as fusion writes it, with
    severity and graph; files written before it have `nodes` and `ms_per_iteration` instead
    of `layers` and `effect` (mxprof.jobs.fusion.report.upgrade converts them)."""

    rule: str
    severity: str
    graph: str
    title: str
    evidence: str
    fix: str
    layers: list[str] = msgspec.field(default_factory=list)
    effect: Json | None = None
    nodes: list[str] = msgspec.field(default_factory=list)
    ms_per_iteration: float | None = None


class FusionResult(Result, Record, frozen=True, kw_only=True):
    """`mxprof fusion --json`: what `mxprof fusion` and `mxprof.fusion()` return."""

    kind: str = "fusion"
    model: str
    # False when the job stopped early (a worker it cannot go on without failed, or an
    # interrupt): the figures measured so far, no groups or patterns (jobs/fusion/partial.py).
    complete: bool = True
    input_shape: list[int]
    path: str  # "gluon" | "symbolic"
    static: bool
    environment: Json
    protocol: dict[str, str]
    unfused_ms: float | None
    fused_ms: float | None
    gain_ms: float | None = None
    gain_percent: float | None = None
    unfused_latency: Json | None = None
    fused_latency: Json | None = None
    round_medians_ms: dict[str, list[float | None]] | None = None
    groups: list[FusedGroupRow]
    pattern_groups: list[PatternGroupRow] = msgspec.field(default_factory=list)
    coverage: Json | None = None
    patterns: list[PatternEffectRow]
    gain_ratio: RatioRow | None = None
    pattern_ratios: dict[str, RatioRow | None] = msgspec.field(default_factory=dict)
    findings: list[FusionFinding]
    failed_workers: list[Json] = msgspec.field(default_factory=list)
    output_sum: dict[str, float | None] = msgspec.field(default_factory=dict)
    primitive_ms: dict[str, float | None] = msgspec.field(default_factory=dict)
    machine_load: MachineLoadRow | None = None
    summary: str | None = None
