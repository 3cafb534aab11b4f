"""Records of one `mxprof accuracy` run: per-configuration results and the whole report.

Frozen msgspec records (mxprof.schema.Record); the JSON written by `--json` is
`AccuracyReport.to_dict()` (schema 1) and `--load` decodes it strictly through
mxprof.jobs.results (the file's shape, with the derived keys, is `AccuracyFile` there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import msgspec
import numpy as np

from mxprof.jobs.accuracy import metrics as metrics
from mxprof.schema import SCHEMA, Record
from mxprof.workers.records import RatioRow

REFERENCE = "mkldnn-off"


@dataclass(frozen=True)
class Latency:
    """Wall time of one forward call at `batch` inputs, waited to completion, in milliseconds."""

    batch: int
    warmup: int
    iterations: int
    median_ms: float
    p25_ms: float
    p75_ms: float
    min_ms: float
    samples_ms: tuple[float, ...] = ()  # the timed calls, for the speedup's interval

    @classmethod
    def from_samples(cls, samples: list[float], batch: int, warmup: int) -> Latency | None:
        if not samples:
            return None
        a = np.asarray(samples)
        return cls(batch, warmup, len(a), float(np.median(a)), float(np.percentile(a, 25)),
                   float(np.percentile(a, 75)), float(a.min()), tuple(float(v) for v in a))

    def to_dict(self) -> dict:
        return {**asdict(self), "samples_ms": list(self.samples_ms)}

    @classmethod
    def from_dict(cls, d: dict | None) -> Latency | None:
        return None if d is None else cls(**{**d, "samples_ms": tuple(d.get("samples_ms", ()))})


class ConfigResult(Record, frozen=True):
    """One configuration's figures; comparisons are against the reference (mkldnn-off)."""

    name: str
    kind: str
    mkldnn: bool
    calib_mode: str | None
    ok: bool
    error: str | None = None
    top1: float | None = None
    top5: float | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    within_tolerance: bool | None = None  # None for INT8: judged by agreement, not elementwise
    top1_agreement: float | None = None
    top5_agreement: float | None = None
    latency: Latency | None = None


class AccuracyReport(Record, frozen=True):
    """Everything one `mxprof accuracy` run found; JSON round-trips through to_dict/from_dict."""

    model: dict
    param_count: int | None
    weights: str | None  # pretrained | user | random
    inputs: dict  # {kind: dataset|random, path, count, labelled, preprocess}
    tolerance: metrics.Tolerance
    configs: tuple[ConfigResult, ...]
    comparisons: tuple[metrics.Comparison, ...]
    calibration: dict | None
    environment: dict
    schema: int = SCHEMA
    notes: tuple[str, ...] = ()
    # Which reference path ran: {config, env, why} (RNN networks use MXNET_USE_MKLDNN_RNN=0).
    reference: dict | None = None

    def config(self, name: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.name == name), None)

    def to_dict(self) -> dict:
        # A comparison's JSON adds its derived maxima; int8 is derived from the configs.
        return {**super().to_dict(), "comparisons": [c.to_dict() for c in self.comparisons],
                "int8": int8_summary(self)}


def int8_summary(report: AccuracyReport) -> list[dict]:
    """Each INT8 configuration beside its FP32 baseline (fused FP32 if run, else the reference)."""
    base = report.config("mkldnn-fused") or report.config("mkldnn") or report.config(REFERENCE)
    rows = []
    for c in report.configs:
        if c.kind != "int8" or not c.ok or base is None or not base.ok:
            continue
        row = {"config": c.name, "fp32_config": base.name, "top1_delta": None,
               "top5_delta": None, "speedup": None}
        if c.top1 is not None and base.top1 is not None:
            row["top1_delta"] = c.top1 - base.top1
            row["top5_delta"] = c.top5 - base.top5
        if c.latency and base.latency:
            row["speedup"] = base.latency.median_ms / c.latency.median_ms
            row["speedup_ratio"] = _speedup_ratio(base.latency, c.latency)
        rows.append(row)
    return rows


def _speedup_ratio(base: Latency, new: Latency) -> dict | None:
    """The INT8 speedup with its 95% interval and `significant` (mxprof.timing.stats.Ratio):
    one process per configuration, so the method string says run-to-run noise is not covered."""
    if not base.samples_ms or not new.samples_ms:
        return None
    from mxprof.timing.stats import speedup
    return speedup([base.samples_ms], [new.samples_ms]).to_dict()


# The file `--json` writes: an AccuracyReport with the keys derived from it (schema 1).

class OutputDiffRow(Record, frozen=True):
    index: int
    shape: list[int]
    scale: float
    max_abs_diff: float
    max_rel_diff: float
    within_tolerance: bool


class ComparisonRow(Record, frozen=True):
    """A metrics.Comparison as written: with its maxima over the outputs."""

    config: str
    reference: str
    count: int
    max_abs_diff: float
    max_rel_diff: float
    within_tolerance: bool
    top1_agreement: float | None
    top5_agreement: float | None
    tolerance: dict[str, float]
    outputs: list[OutputDiffRow]


class Int8Row(Record, frozen=True):
    config: str
    fp32_config: str
    top1_delta: float | None = None
    top5_delta: float | None = None
    speedup: float | None = None
    speedup_ratio: RatioRow | None = None


class AccuracyFile(AccuracyReport, frozen=True, kw_only=True):
    """`mxprof accuracy --json`: an AccuracyReport with the keys derived from it."""

    comparisons: list[ComparisonRow]
    int8: list[Int8Row] = msgspec.field(default_factory=list)
