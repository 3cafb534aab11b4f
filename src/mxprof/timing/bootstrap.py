"""Hierarchical bootstrap of the median of timings taken in several processes (numpy only).

Timing samples have two levels: processes (each with its own memory layout, page placement,
CPU frequency history, neighbours' load) and calls inside a process (correlated with each
other). The calls of one process are not independent draws, so an interval from them alone
misses the process-to-process spread. The hierarchical bootstrap resamples both levels:

1. draw P processes with replacement from the P measured ones;
2. inside each drawn process, draw as many calls as it has, with replacement;
3. take the median of all the drawn calls together (the statistic the report prints).

Repeated `resamples` times, the 2.5% and 97.5% quantiles of those medians give the 95%
interval (the percentile interval). Method: Kalibera & Jones, "Rigorous Benchmarking in
Reasonable Time" (ISMM 2013), section 4 (random resampling with replacement at every level);
Saravanan, Berman & Sober, "Application of the hierarchical bootstrap to multi-level data in
neuroscience" (Neurons, Behavior, Data analysis and Theory, 2020).

Small-sample correction: resampling P units with replacement gives a between-process variance
(P - 1) / P of the sample's, a large deficit at P = 3. `scaled_log_medians` spreads each
bootstrap median around the point estimate by sqrt(P / (P - 1)) on a log scale (the usual
rescaling of resampled units, Davison & Hinkley, "Bootstrap Methods and their Application",
1997, section 3.8). With one process there is no between-process level: the result is a plain
bootstrap of the calls and understates run-to-run noise.

Everything is vectorised: a block of resamples is one (B, P, n_max) gather and one sort.
A process with more than MAX_CALLS calls is represented by MAX_CALLS evenly spaced quantiles
of its calls (same distribution, fewer draws), which keeps the cost bounded and can only widen
the interval slightly (conservative).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
SEED = 0
MAX_CALLS = 400
# Elements per vectorised block: bounds memory (8 bytes each) whatever the sample sizes.
_BLOCK_ELEMENTS = 2_000_000


def as_groups(groups: Sequence[Sequence[float]]) -> list[np.ndarray]:
    """Validated float64 arrays, one per process; ValueError when empty or not finite."""
    out = [np.asarray(g, dtype=np.float64).ravel() for g in groups]
    out = [g for g in out if g.size]
    if not out:
        raise ValueError("need at least one process with at least one sample")
    if not all(np.all(np.isfinite(g)) for g in out):
        raise ValueError("samples must be finite numbers")
    return out


def pooled_median(groups: Sequence[np.ndarray]) -> float:
    return float(np.median(np.concatenate(groups)))


def _thinned(g: np.ndarray) -> np.ndarray:
    if g.size <= MAX_CALLS:
        return g
    return np.quantile(g, (np.arange(MAX_CALLS) + 0.5) / MAX_CALLS)


def hierarchical_medians(groups: Sequence[np.ndarray], resamples: int,
                         rng: np.random.Generator) -> np.ndarray:
    """`resamples` medians, each of one hierarchical resample (processes, then calls); shape
    (resamples,), the unit of the samples."""
    groups = [_thinned(g) for g in groups]
    lens = np.array([len(g) for g in groups])
    n_max = int(lens.max())
    table = np.zeros((len(groups), n_max))
    for i, g in enumerate(groups):
        table[i, :len(g)] = g
    p = len(groups)
    block = max(1, _BLOCK_ELEMENTS // (p * n_max))
    out = np.empty(resamples)
    for start in range(0, resamples, block):
        b = min(block, resamples - start)
        procs = rng.integers(0, p, size=(b, p))
        n_drawn = lens[procs]  # (b, p)
        calls = (rng.random((b, p, n_max)) * n_drawn[..., None]).astype(np.int64)
        values = table[procs[..., None], calls]
        # Slots past a drawn process's own length are padding: +inf sorts them last.
        values[np.arange(n_max) >= n_drawn[..., None]] = np.inf
        values = np.sort(values.reshape(b, -1), axis=1)
        k = n_drawn.sum(axis=1)
        rows = np.arange(b)
        out[start:start + b] = (values[rows, (k - 1) // 2] + values[rows, k // 2]) / 2
    return out


def scaled_log_medians(groups: Sequence[np.ndarray], resamples: int,
                       rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """(log of the pooled median, log bootstrap medians rescaled by sqrt(P / (P - 1)))."""
    centre = np.log(pooled_median(groups))
    boot = np.log(hierarchical_medians(groups, resamples, rng))
    p = len(groups)
    scale = np.sqrt(p / (p - 1)) if p > 1 else 1.0
    return float(centre), centre + scale * (boot - centre)


def median_interval(groups: Sequence[np.ndarray], *, resamples: int = RESAMPLES,
                    seed: int = SEED) -> tuple[float, float]:
    """95% interval (low, high) of the pooled median; all samples must be > 0."""
    _, logs = scaled_log_medians(groups, resamples, np.random.default_rng(seed))
    low, high = np.exp(np.quantile(logs, [0.025, 0.975]))
    return float(low), float(high)


def ratio_interval(numerator: Sequence[np.ndarray], denominator: Sequence[np.ndarray], *,
                   resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float, float]:
    """(median(num) / median(den), 95% low, 95% high), the two sides resampled independently
    from one seeded generator; all samples must be > 0."""
    rng = np.random.default_rng(seed)
    c_num, num = scaled_log_medians(numerator, resamples, rng)
    c_den, den = scaled_log_medians(denominator, resamples, rng)
    low, high = np.exp(np.quantile(num - den, [0.025, 0.975]))
    return float(np.exp(c_num - c_den)), float(low), float(high)
