"""Statistics of timing samples: the one record every latency/throughput figure uses.

`summarize(samples_ns) -> Stats` for the calls of one process; `summarize_processes([calls of
process 1, calls of process 2, ...]) -> Stats` for several processes, whose 95% interval of the
median comes from a hierarchical bootstrap (`mxprof.timing.bootstrap`: resample processes, then
calls within them), so it includes the run-to-run spread one process cannot see.
`speedup(base, new) -> Ratio` is how many times faster `new` is, with its 95% interval from the
same resampling and `significant` when the interval excludes 1.

Conventions (all figures in nanoseconds, as floats):

- p90 is given only when n >= 10 and p99 only when n >= 100 (a percentile beyond the sample's
  resolution is just its maximum); otherwise None, and `notes` says why. Tables show a dash,
  JSON null.
- Percentiles (q1, median, q3, p90, p99) use linear interpolation between order statistics,
  numpy's default (Hyndman & Fan type 7): position (n - 1) * q in the sorted samples.
- stdev is the sample standard deviation (ddof=1); 0.0 when n < 2.
- mad is the raw median absolute deviation, median(|x - median|), not scaled by 1.4826.
- outliers counts samples outside Tukey's fences [q1 - 1.5 IQR, q3 + 1.5 IQR].
- ci95_low/ci95_high: a distribution-free 95% confidence interval of the median from order
  statistics. The number B of samples below the true median is Binomial(n, 1/2), so
  [x_(j), x_(n+1-j)] (1-based ranks) covers the median with probability 1 - 2 P(B <= j - 1).
  j is the largest rank for which that coverage is still at least 95% (the binomial tail is
  summed exactly, in log space, for every n). Below 6 samples no such j exists: the interval is
  then [min, max], whose coverage 1 - 2^(1-n) is lower, and a warning says so. This interval
  treats the calls as independent, which calls inside one process are not: with several
  processes `summarize_processes` replaces it by the hierarchical bootstrap interval.
- within_stdev: root mean square of the per-process standard deviations; between_stdev: sample
  standard deviation of the per-process medians (None with one process).

Stability warnings follow pyperf's checks: the standard deviation above 10% of the mean, the
minimum 50% below the centre (pyperf compares with the mean; the median is used here, as it is
not dragged by the slow tail), too few samples, samples too close to the clock's own cost; and
a negative sample (the clock went backwards: the native clock keeps a tick delta's sign). A
single slow maximum is not flagged (per-call samples always have a few, from interrupts);
instead more than 5% of the samples beyond Tukey's fences is.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np

from mxprof.schema import Record
from mxprof.timing import bootstrap

UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Thresholds of the stability warnings (pyperf uses the same 10% and 50% limits).
STDEV_FRACTION = 0.10
EXTREME_FRACTION = 0.50
OUTLIER_FRACTION = 0.05
MIN_SAMPLES = 10
CLOCK_COST_FACTOR = 100  # samples should be this many times the cost of one clock read

_FIGURES = ("min", "max", "median", "mean", "stdev", "p90", "p99", "mad",
            "ci95_low", "ci95_high", "q1", "q3", "within_stdev", "between_stdev")
# A percentile needs this many samples before it is more than the sample's maximum.
PERCENTILE_MIN_N = {"p90": 10, "p99": 100}
CI_ORDER_STATISTICS = "order statistics of one process's calls (treated as independent)"


class Stats(Record, frozen=True):
    """Summary of timing samples; every figure in nanoseconds (see the module docstring).

    In JSON (`to_dict(unit)`) the figures are in `unit`, which the dict names; `from_dict`
    scales them back to nanoseconds.
    """

    n: int
    min: float
    # None only in a record converted from a file that kept no samples (accuracy files saved
    # before the one statistics record: min, quartiles and median were all they had).
    max: float | None
    median: float
    mean: float | None
    stdev: float | None
    p90: float | None
    p99: float | None
    mad: float | None
    ci95_low: float | None
    ci95_high: float | None
    q1: float
    q3: float
    outliers: int
    warnings: tuple[str, ...] = ()
    processes: int = 1
    n_per_process: tuple[int, ...] = ()
    within_stdev: float | None = None
    between_stdev: float | None = None
    ci_method: str = CI_ORDER_STATISTICS
    notes: tuple[str, ...] = ()
    unit: str = "ns"  # of the figures: "ns" in memory, the caller's choice in to_dict()

    @property
    def unstable(self) -> bool:
        return bool(self.warnings)

    @property
    def median_ci_missing(self) -> bool:
        """True when n is too small for a 95% CI of the median (ci95_* are then min and max)."""
        return median_ci_ranks(self.n) is None

    def to_dict(self, unit: str = "ms") -> dict:
        """JSON-friendly dict with the figures converted to `unit` ("ns", "us", "ms", "s")."""
        scale = _unit_scale(unit) / _unit_scale(self.unit)
        return Record.to_dict(self._scaled(lambda v: v / scale, unit))

    @classmethod
    def from_dict(cls, data: dict) -> Stats:
        """Strictly decoded (msgspec); figures back to nanoseconds from the dict's `unit`."""
        rec = msgspec.convert(data, cls)
        scale = _unit_scale(rec.unit)
        return rec._scaled(lambda v: float(v) * scale, "ns")

    def _scaled(self, convert, unit: str) -> Stats:
        changes = {name: None if getattr(self, name) is None else convert(getattr(self, name))
                   for name in _FIGURES}
        return msgspec.structs.replace(self, unit=unit, **changes)

    def format(self, unit: str | None = None) -> str:
        """One line: median, CI, spread and count, in `unit` (picked from the median if None)."""
        unit = unit or pick_unit(self.median)
        d = self.to_dict(unit)
        p99 = "-" if d["p99"] is None else f"{d['p99']:.4g}"
        procs = f" in {self.processes} processes" if self.processes > 1 else ""
        return (f"median {d['median']:.4g} {unit} (95% CI {d['ci95_low']:.4g}-{d['ci95_high']:.4g}), "
                f"mean {d['mean']:.4g} +- {d['stdev']:.3g} {unit}, min {d['min']:.4g}, "
                f"p99 {p99}, n={self.n}{procs}, {self.outliers} outliers")


def _unit_scale(unit: str) -> float:
    try:
        return UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown time unit {unit!r}: use one of {', '.join(UNITS)}") from None


def pick_unit(ns: float) -> str:
    """The largest unit in which `ns` is at least 1 (ns for tiny values)."""
    for unit in ("s", "ms", "us"):
        if abs(ns) >= UNITS[unit]:
            return unit
    return "ns"


@functools.lru_cache(maxsize=64)
def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int, float] | None:
    """1-based ranks (j, n + 1 - j) of the order-statistic CI of the median, and its coverage.

    None when n is too small for any pair of ranks to reach `confidence`.
    """
    if n < 1:
        return None
    alpha_half = (1.0 - confidence) / 2.0
    half = n // 2 + 1
    k = np.arange(half, dtype=np.float64)
    # log P(B = k) for B ~ Binomial(n, 1/2), built from the ratio P(k+1)/P(k) = (n-k)/(k+1).
    log_pmf = -n * math.log(2.0) + np.concatenate(
        ([0.0], np.cumsum(np.log((n - k[:-1]) / (k[:-1] + 1.0)))))
    cdf = np.cumsum(np.exp(log_pmf))  # cdf[m] = P(B <= m)
    ok = np.nonzero(cdf <= alpha_half)[0]
    if ok.size == 0:
        return None
    j = int(ok[-1]) + 1  # P(B <= j - 1) <= alpha/2
    return j, n + 1 - j, float(1.0 - 2.0 * cdf[j - 1])


def summarize(samples_ns, *, clock_overhead_ns: float | None = None) -> Stats:
    """Statistics of `samples_ns` (any 1-d array-like of durations in ns, at least one value).

    `clock_overhead_ns`, if given, is the cost of one clock read; samples that are not much
    longer than it get a warning.
    """
    x = np.asarray(samples_ns)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("summarize needs a non-empty 1-d sequence of samples")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError("samples must be finite numbers")
    n = int(x.size)
    # One multi-rank partition serves every percentile and the CI ranks: a full sort costs 3x more.
    quantiles = np.array([0.25, 0.5, 0.75, 0.9, 0.99])
    pos = (n - 1) * quantiles
    below, above = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    ranks = median_ci_ranks(n)
    kth = {0, n - 1, *below.tolist(), *above.tolist()}
    if ranks is not None:
        kth.update((ranks[0] - 1, ranks[1] - 1))
    part = np.partition(x, sorted(kth))
    q1, median, q3, p90, p99 = (
        float(v) for v in part[below] + (part[above] - part[below]) * (pos - below))
    lo, hi = float(part[0]), float(part[n - 1])
    if ranks is None:
        ci_low, ci_high = lo, hi
    else:
        ci_low, ci_high = float(part[ranks[0] - 1]), float(part[ranks[1] - 1])
    mean = float(x.mean())
    stdev = float(x.std(ddof=1)) if n > 1 else 0.0
    mad = float(np.median(np.abs(x - median)))
    iqr = q3 - q1
    outliers = int(np.count_nonzero((x < q1 - 1.5 * iqr) | (x > q3 + 1.5 * iqr)))
    gated = {name: (value if n >= PERCENTILE_MIN_N[name] else None)
             for name, value in (("p90", p90), ("p99", p99))}
    notes = tuple(f"{name} not given: it needs at least {need} samples, there are {n}"
                  for name, need in PERCENTILE_MIN_N.items() if n < need)
    stats = Stats(n=n, min=lo, max=hi, median=median, mean=mean, stdev=stdev, mad=mad,
                  ci95_low=ci_low, ci95_high=ci_high, q1=q1, q3=q3, outliers=outliers,
                  n_per_process=(n,), within_stdev=stdev, notes=notes, **gated)
    warnings = stability_warnings(stats, clock_overhead_ns=clock_overhead_ns)
    return msgspec.structs.replace(stats, warnings=warnings)


def stability_warnings(s: Stats, *, clock_overhead_ns: float | None = None) -> tuple[str, ...]:
    """Human-readable reasons to distrust `s`, in pyperf's spirit (empty when it looks stable)."""
    unit = pick_unit(s.median)

    def fmt(ns: float) -> str:
        return f"{ns / UNITS[unit]:.4g} {unit}"

    out = []
    if s.n < MIN_SAMPLES:
        out.append(f"only {s.n} samples: at least {MIN_SAMPLES} are needed for a stable figure")
    if s.median_ci_missing:
        out.append(f"too few samples ({s.n}) for a 95% confidence interval of the median: "
                   f"the interval shown is min-max")
    if s.mean > 0 and s.stdev > STDEV_FRACTION * s.mean:
        out.append(f"the standard deviation ({fmt(s.stdev)}) is {100 * s.stdev / s.mean:.0f}% "
                   f"of the mean ({fmt(s.mean)})")
    if s.median > 0 and s.min < (1 - EXTREME_FRACTION) * s.median:
        out.append(f"the minimum ({fmt(s.min)}) is {100 * (1 - s.min / s.median):.0f}% "
                   f"smaller than the median ({fmt(s.median)})")
    if s.outliers > OUTLIER_FRACTION * s.n:
        out.append(f"{s.outliers} of {s.n} samples ({100 * s.outliers / s.n:.0f}%) are outliers "
                   f"beyond Tukey's fences")
    if s.min < 0:  # the native clock keeps the sign of a tick delta instead of wrapping it
        out.append(f"the minimum ({fmt(s.min)}) is negative: the clock went backwards between two "
                   f"reads (a TSC not synchronised across CPUs?)")
    if clock_overhead_ns and s.median < CLOCK_COST_FACTOR * clock_overhead_ns:
        out.append(f"the median ({fmt(s.median)}) is only {s.median / clock_overhead_ns:.1f}x "
                   f"the cost of one clock read ({clock_overhead_ns:.0f} ns)")
    return tuple(out)



def summarize_processes(groups_ns, *, clock_overhead_ns: float | None = None,
                        resamples: int = bootstrap.RESAMPLES, seed: int = bootstrap.SEED) -> Stats:
    """Statistics of the calls of several processes of one configuration, pooled.

    `groups_ns`: one 1-d sequence of durations (ns, > 0) per process; empty ones are skipped.
    Percentiles, mean and spread are of all calls pooled; with two or more processes the 95%
    interval of the median is the hierarchical bootstrap's (`mxprof.timing.bootstrap`,
    `resamples` resamples from `seed`: the same input gives the same interval), and
    `between_stdev` is the spread of the per-process medians. Raises ValueError on no samples.
    """
    groups = bootstrap.as_groups(groups_ns)
    pooled = summarize(np.concatenate(groups), clock_overhead_ns=clock_overhead_ns)
    within = float(np.sqrt(np.mean([g.var(ddof=1) if g.size > 1 else 0.0 for g in groups])))
    counts = tuple(int(g.size) for g in groups)
    if len(groups) == 1:
        note = ("one process: the interval covers call-to-call noise only, not the "
                "run-to-run spread (use --processes 2 or more)")
        return msgspec.structs.replace(pooled, n_per_process=counts, within_stdev=within,
                                   notes=(*pooled.notes, note))
    if np.any(np.concatenate(groups) <= 0):
        raise ValueError("durations must be > 0 for the bootstrap interval")
    low, high = bootstrap.median_interval(groups, resamples=resamples, seed=seed)
    medians = np.array([np.median(g) for g in groups])
    out = msgspec.structs.replace(
        pooled, processes=len(groups), n_per_process=counts, within_stdev=within,
        between_stdev=float(medians.std(ddof=1)), ci95_low=min(low, pooled.median),
        ci95_high=max(high, pooled.median),
        ci_method=f"hierarchical bootstrap over {len(groups)} processes, then calls "
                  f"({resamples} resamples, seed {seed})")
    # The order-statistic warning about too few calls no longer describes the interval.
    kept = tuple(w for w in out.warnings if "confidence interval of the median" not in w)
    return msgspec.structs.replace(out, warnings=(*kept, *between_warnings(out)))


def between_warnings(s: Stats) -> tuple[str, ...]:
    """A warning when the processes disagree more than pyperf's 10% limit allows."""
    if s.between_stdev is None or s.median <= 0 or s.between_stdev <= STDEV_FRACTION * s.median:
        return ()
    return (f"the medians of the {s.processes} processes differ by "
            f"{100 * s.between_stdev / s.median:.0f}% of the median (standard deviation): "
            "the machine's state changed between runs",)


class Ratio(Record, frozen=True):
    """How many times `new` beats `base`, with a 95% interval and a significance flag.

    value = median(base durations) / median(new durations): a latency speedup (base/new time)
    and a throughput speedup (new/base rate) are the same number when the rate is batch over
    the batch time. `significant` is True when the interval excludes 1. `kind` only labels it
    ("latency", "throughput", "gain", ...).
    """

    value: float
    ci95_low: float
    ci95_high: float
    significant: bool
    kind: str = "latency"
    method: str = ""
    processes: tuple[int, int] = (1, 1)

    def text(self) -> str:
        """`ratio_text` of this ratio."""
        return ratio_text({"value": self.value, "ci95_low": self.ci95_low,
                           "ci95_high": self.ci95_high, "significant": self.significant})

    def to_dict(self) -> dict:
        return {**super().to_dict(), "text": self.text()}


def ratio_text(ratio: Mapping[str, Any]) -> str:
    """The one wording of every ratio, from a Ratio's fields (a record or a file's dict, whose
    stored "text" an older mxprof may have worded otherwise): '1.23x, faster (95% CI
    1.10-1.37)', '0.93x, slower (95% CI 0.92-0.96)' when the interval excludes 1, else 'no
    significant difference (1.02x, 95% CI 0.95-1.08)'. `ratio` needs value, ci95_low,
    ci95_high and significant."""
    value = ratio["value"]
    ci = f"95% CI {ratio['ci95_low']:.2f}-{ratio['ci95_high']:.2f}"
    if ratio["significant"]:
        return f"{value:.2f}x, {'slower' if value < 1 else 'faster'} ({ci})"
    return f"no significant difference ({value:.2f}x, {ci})"


def speedup(base_groups, new_groups, *, kind: str = "latency",
            resamples: int = bootstrap.RESAMPLES, seed: int = bootstrap.SEED) -> Ratio:
    """median(base) / median(new) of durations, each side a list of per-process samples (> 0).

    With two or more processes on each side the interval is from the hierarchical bootstrap
    of both sides (independent resamples, one seeded generator); with one process on a side
    that side is a plain bootstrap of its calls, which understates run-to-run noise (the
    method string says so). Raises ValueError on empty or non-positive samples.
    """
    base, new = bootstrap.as_groups(base_groups), bootstrap.as_groups(new_groups)
    if np.any(np.concatenate(base) <= 0) or np.any(np.concatenate(new) <= 0):
        raise ValueError("durations must be > 0 for a ratio")
    value, low, high = bootstrap.ratio_interval(base, new, resamples=resamples, seed=seed)
    low, high = min(low, value), max(high, value)
    procs = (len(base), len(new))
    method = (f"hierarchical bootstrap ({procs[0]} vs {procs[1]} processes, then calls; "
              f"{resamples} resamples, seed {seed})")
    if min(procs) < 2:
        method += "; one process on a side: run-to-run noise not covered"
    return Ratio(value=value, ci95_low=low, ci95_high=high,
                 significant=bool(low > 1.0 or high < 1.0), kind=kind, method=method,
                 processes=procs)
