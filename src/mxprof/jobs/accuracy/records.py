"""Records of one `mxprof accuracy` run: per-configuration results and the whole report.

Frozen msgspec records (mxprof.schema.Record); the JSON written by `--json` is
`AccuracyReport.to_dict()` (schema 1) and `--load` decodes it strictly through
mxprof.jobs.results (the file's shape, with the derived keys, is `AccuracyFile` there). A
configuration's latency is the one statistics record (`mxprof.timing.stats.Stats`, saved as
`Stats.to_dict("ms")`) over the configuration's timing processes (`mxprof.timing.pooled`);
`samples_ms` holds every timed call, the processes one after another, and the record's
`n_per_process` splits them again (`ConfigResult.per_process`), so intervals and ratios can be
recomputed from a saved file. Files saved before it ({median_ms, p25_ms, p75_ms, ...}) are
converted on load by `latency_from_dict`.
"""

from __future__ import annotations

import msgspec
import numpy as np

from mxprof.jobs.accuracy import metrics as metrics
from mxprof.jobs.contract import Result
from mxprof.schema import SCHEMA, Record
from mxprof.timing.pooled import pooled_stats, ratio_of
from mxprof.timing.stats import Stats, summarize
from mxprof.workers.records import RatioRow

REFERENCE = "mkldnn-off"


def latency_stats(samples_ms) -> Stats | None:
    """The one statistics record (`mxprof.timing.stats.summarize`) of per-call times in ms;
    None without samples (a configuration that was not timed)."""
    a = np.asarray(samples_ms, dtype=float)
    return summarize(a * 1e6) if a.size else None


def pooled_latency_stats(per_process_ms) -> Stats | None:
    """The one statistics record over several timing processes (per-call ms, one sequence per
    process): `mxprof.timing.pooled.pooled_stats`; None without samples."""
    return pooled_stats([np.asarray(p, dtype=float) * 1e6 for p in per_process_ms])


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
    latency: Stats | None = None  # one forward call at the report's timing batch
    samples_ms: tuple[float, ...] = ()  # the timed calls, for the speedup's interval

    def per_process(self) -> list[tuple[float, ...]]:
        """The timed calls split by process (`latency.n_per_process`); one process when the
        counts do not describe the samples (files written before several processes)."""
        counts = self.latency.n_per_process if self.latency else ()
        if len(counts) < 2 or sum(counts) != len(self.samples_ms):
            return [self.samples_ms] if self.samples_ms else []
        edges = np.cumsum((0, *counts))
        return [self.samples_ms[a:b] for a, b in zip(edges[:-1], edges[1:])]

    def to_dict(self) -> dict:
        # The latency in milliseconds, as every file mxprof writes gives it.
        return {**super().to_dict(),
                "latency": self.latency.to_dict("ms") if self.latency else None}

    @classmethod
    def from_dict(cls, d: dict) -> ConfigResult:
        latency, samples, _ = latency_from_dict(d.get("latency"))
        rec = super().from_dict({**d, "latency": None})
        return msgspec.structs.replace(rec, latency=latency,
                                       samples_ms=tuple(d.get("samples_ms") or samples))


class AccuracyReport(Result, Record, frozen=True, kw_only=True):
    """Everything one `mxprof accuracy` run found (the job's one Result, kind "accuracy"); JSON
    round-trips through to_dict/from_dict; files written before `kind` load as this too."""

    kind: str = "accuracy"
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
    # How latencies were timed: {batch, warmup, iterations, processes} (None: not timed;
    # no `processes` in files written before several processes: one).
    timing: dict | None = None
    # What the reference worker itself says of the path it ran (an RNN network's
    # MXNET_USE_MKLDNN_RNN=0, mxprof.mx.models.RNN_REFERENCE_NOTE); None when it said nothing.
    reference_note: str | None = None

    def config(self, name: str) -> ConfigResult | None:
        return next((c for c in self.configs if c.name == name), None)

    @property
    def failed(self) -> bool:
        """A configuration failed, or an FP32 one is outside the tolerance."""
        return any(not c.ok or c.within_tolerance is False for c in self.configs)

    def to_dict(self) -> dict:
        # A comparison's JSON adds its derived maxima; int8 is derived from the configs.
        return {**super().to_dict(), "configs": [c.to_dict() for c in self.configs],
                "comparisons": [c.to_dict() for c in self.comparisons],
                "int8": int8_summary(self), "speedups": speedups(self)}

    @classmethod
    def from_dict(cls, d: dict) -> AccuracyReport:
        rec = super().from_dict({**d, "configs": []})
        return msgspec.structs.replace(
            rec, configs=tuple(ConfigResult.from_dict(c) for c in d["configs"]),
            timing=d.get("timing") or _old_timing(d))


def _old_timing(d: dict) -> dict | None:
    """A file written before `timing` kept the protocol in each config's latency."""
    for c in d.get("configs", ()):
        if c.get("latency") and "median_ms" in c["latency"]:
            return latency_from_dict(c["latency"])[2]
    return None


def upgrade_file(d: dict) -> dict:
    """A saved accuracy file in today's shape: old latency dicts become the Stats record."""
    configs = []
    for c in d.get("configs") or ():
        if isinstance(c, dict) and isinstance(c.get("latency"), dict) \
                and "median_ms" in c["latency"]:
            stats, samples, _ = latency_from_dict(c["latency"])
            c = {**c, "latency": stats.to_dict("ms") if stats else None,
                 "samples_ms": list(c.get("samples_ms") or samples)}
        configs.append(c)
    return {**d, "configs": configs} if "configs" in d else d


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
            row["speedup_ratio"] = speedup_ratio(base, c)
        rows.append(row)
    return rows


def speedup_ratio(base: ConfigResult, new: ConfigResult) -> dict | None:
    """How many times faster `new` runs than `base`, with its 95% interval and `significant`
    (`mxprof.timing.pooled.ratio_of`: hierarchical bootstrap over both configurations'
    processes, then calls; with one process a side the method says run-to-run noise is not
    covered); None without samples."""
    ratio = ratio_of(base.per_process(), new.per_process(), "latency")
    return ratio.to_dict() if ratio else None


def speedups(report: AccuracyReport) -> list[dict]:
    """Every timed configuration against the reference: {config, reference, speedup (median
    ratio), ratio (Ratio dict with its interval, or None)}."""
    ref = report.config(REFERENCE)
    if ref is None or ref.latency is None:
        return []
    return [{"config": c.name, "reference": REFERENCE,
             "speedup": ref.latency.median / c.latency.median,
             "ratio": speedup_ratio(ref, c)}
            for c in report.configs if c.ok and c.latency and c.name != REFERENCE]


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


class SpeedupRow(Record, frozen=True):
    config: str
    reference: str
    speedup: float
    ratio: RatioRow | None = None


class AccuracyFile(AccuracyReport, frozen=True, kw_only=True):
    """`mxprof accuracy --json`: an AccuracyReport with the keys derived from it."""

    comparisons: list[ComparisonRow]
    int8: list[Int8Row] = msgspec.field(default_factory=list)
    speedups: list[SpeedupRow] = msgspec.field(default_factory=list)
