"""Records of one `mxprof accuracy` run: per-configuration results and the whole report.

Plain frozen dataclasses with to_dict()/from_dict(); the JSON written by `--json` is
`AccuracyReport.to_dict()` (schema 1) and `--load` reads it back through `from_dict`. A
configuration's latency is the one statistics record (`mxprof.timing.stats.Stats`, saved as
`Stats.to_dict("ms")`); files saved before it ({median_ms, p25_ms, p75_ms, ...}) are converted
on load by `latency_from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from mxprof.jobs.accuracy import metrics as metrics
from mxprof.timing.stats import Stats, speedup, summarize

SCHEMA = 1
REFERENCE = "mkldnn-off"


def latency_stats(samples_ms) -> Stats | None:
    """The one statistics record (`mxprof.timing.stats.summarize`) of per-call times in ms;
    None without samples (a configuration that was not timed)."""
    a = np.asarray(samples_ms, dtype=float)
    return summarize(a * 1e6) if a.size else None


def _old_latency(d: dict) -> tuple[Stats | None, tuple[float, ...], dict]:
    """(Stats, samples, timing) from a latency dict of a file written before the one record:
    {batch, warmup, iterations, median_ms, p25_ms, p75_ms, min_ms[, samples_ms]}. With the
    samples the record is recomputed exactly; without them only what was saved is kept."""
    samples = tuple(d.get("samples_ms") or ())
    timing = {k: d.get(k) for k in ("batch", "warmup", "iterations")}
    if samples:
        return latency_stats(samples), samples, timing
    figures = {f: None for f in ("max", "mean", "stdev", "p90", "p99", "mad", "ci95_low",
                                 "ci95_high")}
    stats = Stats.from_dict({**figures, "n": d["iterations"], "min": d["min_ms"],
                             "median": d["median_ms"], "q1": d["p25_ms"], "q3": d["p75_ms"],
                             "outliers": 0, "unit": "ms",
                             "notes": ["saved before mxprof recorded the 95% interval"]})
    return stats, samples, timing


def latency_from_dict(d: dict | None) -> tuple[Stats | None, tuple[float, ...], dict | None]:
    """(Stats, samples_ms, old timing protocol or None) of a config's saved "latency"."""
    if d is None:
        return None, (), None
    if "median_ms" in d:
        return _old_latency(d)
    return Stats.from_dict(d), (), None


@dataclass(frozen=True)
class ConfigResult:
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
    latency: Stats | None = None  # one forward call at the report's timing batch
    samples_ms: tuple[float, ...] = ()  # the timed calls, for the speedup's interval

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["latency"] = self.latency.to_dict("ms") if self.latency else None
        d["samples_ms"] = list(self.samples_ms)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ConfigResult:
        latency, samples, _ = latency_from_dict(d.get("latency"))
        return cls(**{**d, "latency": latency,
                      "samples_ms": tuple(d.get("samples_ms") or samples)})


@dataclass(frozen=True)
class AccuracyReport:
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
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Which reference path ran: {config, env, why} (RNN networks use MXNET_USE_MKLDNN_RNN=0).
    reference: dict | None = None
    # How latencies were timed: {batch, warmup, iterations} (None: not timed).
    timing: dict | None = None

    def config(self, name: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.name == name), None)

    def to_dict(self) -> dict:
        return {"schema": self.schema, "model": self.model, "param_count": self.param_count,
                "weights": self.weights, "inputs": self.inputs,
                "tolerance": self.tolerance.to_dict(),
                "configs": [c.to_dict() for c in self.configs],
                "comparisons": [c.to_dict() for c in self.comparisons],
                "int8": int8_summary(self), "calibration": self.calibration,
                "environment": self.environment, "notes": list(self.notes),
                "reference": self.reference, "timing": self.timing}

    @classmethod
    def from_dict(cls, d: dict) -> AccuracyReport:
        return cls(model=d["model"], param_count=d["param_count"], weights=d["weights"],
                   inputs=d["inputs"], tolerance=metrics.Tolerance.from_dict(d["tolerance"]),
                   configs=tuple(ConfigResult.from_dict(c) for c in d["configs"]),
                   comparisons=tuple(metrics.Comparison.from_dict(c) for c in d["comparisons"]),
                   calibration=d.get("calibration"), environment=d["environment"],
                   schema=d.get("schema", SCHEMA), notes=tuple(d.get("notes", ())),
                   reference=d.get("reference"), timing=d.get("timing") or _old_timing(d))


def _old_timing(d: dict) -> dict | None:
    """A file written before `timing` kept the protocol in each config's latency."""
    for c in d.get("configs", ()):
        if c.get("latency") and "median_ms" in c["latency"]:
            return latency_from_dict(c["latency"])[2]
    return None


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
            row["speedup"] = base.latency.median / c.latency.median
            row["speedup_ratio"] = _speedup_ratio(base.samples_ms, c.samples_ms)
        rows.append(row)
    return rows


def _speedup_ratio(base_ms, new_ms) -> dict | None:
    """The INT8 speedup with its 95% interval and `significant` (mxprof.timing.stats.Ratio):
    one process per configuration, so the method string says run-to-run noise is not covered."""
    if not base_ms or not new_ms or min(*base_ms, *new_ms) <= 0:
        return None
    return speedup([base_ms], [new_ms]).to_dict()
