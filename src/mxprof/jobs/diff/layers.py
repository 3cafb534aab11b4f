"""Layers of two profiles matched and compared, each difference with its interval (pure).

Matching (`match_layers`): by graph node name; with `by="shape"` the layers whose names have no
partner are then paired by operator and output shape, in execution order (an exported model
against its zoo original, two versions of a model).

Statistics (`compare_layers`): a layer's figure is the median of its per-iteration ms, pooled
over the layers processes of its file (`samples_ms`, one list per process). The interval of
the ratio A / B (and of B - A, at A's median) comes from the hierarchical bootstrap of each side
(mxprof.timing.bootstrap: processes, then iterations, with its small-sample rescaling) as a
percentile interval, widened for the number of layers compared: with m layers each interval
is a Bonferroni (1 - 0.05 / m) interval (enough resamples for its tails: `resamples_for`,
at most MAX_RESAMPLES), so the 95% holds for all layers at once and an A/A diff of m layers
does not call 5% of them significant by chance. A layer is `significant` when that interval
lies wholly outside the band of changes too small to matter: |ratio - 1| below `threshold`
(default 5%) or |B - A| below `floor` (default 1%) of A's summed layer time. Iteration
timings of one process are correlated and processes differ (load, memory placement): the band
keeps a run-to-run shift that the few processes cannot resolve from being named a cause.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from mxprof.jobs.diff.records import LayerDiff, OneSided
from mxprof.timing import bootstrap

Row = dict[str, Any]
CONFIDENCE = 0.95
RESAMPLES = 2000
MAX_RESAMPLES = 10000
TAIL_DRAWS = 5
SEED = 0
# A layer time of 0 ms in one iteration (a node that did not run) cannot go on a log scale.
FLOOR_MS = 1e-6


def match_layers(a: list[Row], b: list[Row], by: str = "name"
                 ) -> tuple[list[tuple[Row, Row]], list[Row], list[Row]]:
    """(pairs in A's order, rows only in A, rows only in B); `by` "name" or "shape"."""
    b_names = {r["name"]: r for r in b}
    pairs = [(r, b_names[r["name"]]) for r in a if r["name"] in b_names]
    only_a = [r for r in a if r["name"] not in b_names]
    taken = {id(rb) for _, rb in pairs}
    only_b = [r for r in b if id(r) not in taken]
    if by == "shape" and only_a and only_b:
        queue: dict[tuple, list[Row]] = defaultdict(list)
        for r in only_b:
            queue[_shape_key(r)].append(r)
        left = []
        for r in only_a:
            partners = queue.get(_shape_key(r))
            if partners:
                pairs.append((r, partners.pop(0)))
            else:
                left.append(r)
        only_a = left
        only_b = [r for rs in queue.values() for r in rs]
        only_b.sort(key=lambda r: b.index(r))
    return pairs, only_a, only_b


def _shape_key(row: Row) -> tuple:
    return row.get("op"), tuple(row.get("output_shape") or ())


def groups_of(row: Row) -> list[np.ndarray] | None:
    """The per-process iteration samples of a layer row (ms), None when the file has none."""
    groups = [np.maximum(np.asarray(g, dtype=np.float64), FLOOR_MS)
              for g in row.get("samples_ms") or () if g]
    return groups or None


def pooled_text(groups: list[np.ndarray] | None) -> str:
    """'20 iterations x 2 processes' (or '20+13 iterations in 2 processes')."""
    if not groups:
        return "no per-iteration samples"
    sizes = [len(g) for g in groups]
    if len(set(sizes)) == 1:
        return f"{sizes[0]} iterations x {len(sizes)} process{'es' if len(sizes) > 1 else ''}"
    return f"{'+'.join(map(str, sizes))} iterations in {len(sizes)} processes"


def resamples_for(m: int, confidence: float = CONFIDENCE) -> int:
    """Bootstrap resamples for a Bonferroni percentile interval over `m` layers: at least
    TAIL_DRAWS draws beyond each end of it, between RESAMPLES and MAX_RESAMPLES."""
    alpha = (1 - confidence) / (2 * max(m, 1))
    return int(min(MAX_RESAMPLES, max(RESAMPLES, np.ceil(TAIL_DRAWS / alpha))))


def _interval(a: list[np.ndarray], b: list[np.ndarray], m: int):
    """(diff_low, diff_high, ratio_low, ratio_high) of B - A and A / B: the percentile
    interval of the bootstrap log ratio at the Bonferroni level for `m` layers; B - A's is
    the ratio's at A's median (a linear bootstrap of the difference is dominated by the skew
    of preempted iterations)."""
    rng = np.random.default_rng(SEED)
    n = resamples_for(m)
    log_a = bootstrap.scaled_log_medians(a, n, rng)[1]
    log_b = bootstrap.scaled_log_medians(b, n, rng)[1]
    alpha = (1 - CONFIDENCE) / (2 * max(m, 1))
    low, high = np.quantile(log_a - log_b, [alpha, 1 - alpha])
    med_a, med_b = bootstrap.pooled_median(a), bootstrap.pooled_median(b)
    ratio = med_a / med_b
    r_low, r_high = min(float(np.exp(low)), ratio), max(float(np.exp(high)), ratio)
    return med_a / r_high - med_a, med_a / r_low - med_a, r_low, r_high


def is_significant(low: float, high: float, r_low: float, r_high: float, *, threshold: float,
                   floor_ms: float) -> bool:
    """The interval wholly beyond the band: faster or slower by more than `threshold` and by
    more than `floor_ms`, in the same direction."""
    slower = r_high < 1 / (1 + threshold) and low > floor_ms
    faster = r_low > 1 + threshold and high < -floor_ms
    return bool(slower or faster)


def compare_layers(pairs: list[tuple[Row, Row]], *, threshold: float = 0.05,
                   floor: float = 0.01) -> list[LayerDiff]:
    """One LayerDiff per pair, sorted by |B - A| (largest first); see the module docstring."""
    total_a = sum(float(ra.get("ms") or 0.0) for ra, _ in pairs)
    floor_ms = floor * total_a
    sampled = [(groups_of(ra), groups_of(rb)) for ra, rb in pairs]
    m = sum(1 for ga, gb in sampled if ga and gb)
    total_diff = sum(float(rb.get("ms") or 0.0) - float(ra.get("ms") or 0.0) for ra, rb in pairs)
    out = []
    for (ra, rb), (ga, gb) in zip(pairs, sampled):
        ms_a, ms_b = float(ra.get("ms") or 0.0), float(rb.get("ms") or 0.0)
        fields: dict[str, Any] = {}
        if ga and gb:
            low, high, r_low, r_high = _interval(ga, gb, m)
            fields = dict(diff_low=low, diff_high=high, ratio_low=r_low, ratio_high=r_high,
                          significant=is_significant(low, high, r_low, r_high,
                                                     threshold=threshold, floor_ms=floor_ms))
        out.append(LayerDiff(
            name=ra["name"], name_b=rb["name"] if rb["name"] != ra["name"] else None,
            op=ra.get("op"), output_shape=_shape(ra), ms_a=ms_a, ms_b=ms_b,
            diff_ms=ms_b - ms_a, ratio=ms_a / ms_b if ms_b > 0 else None,
            share=(ms_b - ms_a) / total_diff if abs(total_diff) > 0 else None,
            pooled=f"A {pooled_text(ga)}, B {pooled_text(gb)}", **fields))
    out.sort(key=lambda d: -abs(d.diff_ms))
    return out


def _shape(row: Row) -> tuple[int, ...] | None:
    shape = row.get("output_shape")
    return tuple(shape) if shape else None


def one_sided(rows: list[Row]) -> list[OneSided]:
    return [OneSided(name=r["name"], op=r.get("op"), output_shape=_shape(r), ms=r.get("ms"))
            for r in rows]


def significant_share(diffs: list[LayerDiff]) -> float | None:
    """The part of the summed difference that the significant layers explain (None when the
    sum is zero or no layer has an interval)."""
    total = sum(d.diff_ms for d in diffs)
    if not total or all(d.significant is None for d in diffs):
        return None
    return sum(d.diff_ms for d in diffs if d.significant) / total


def method(threshold: float, floor: float, m: int) -> str:
    return (f"per layer: median of per-iteration ms pooled over the layers processes; "
            f"interval of A / B (and of B - A at A's median): percentile interval of a "
            f"hierarchical bootstrap of each side ({resamples_for(m)} resamples, seed {SEED}), "
            f"Bonferroni over the {m} layers compared ({100 * CONFIDENCE:.0f}% for all at "
            f"once); significant: the interval wholly beyond {100 * threshold:.0f}% and beyond "
            f"{100 * floor:.0f}% of A's summed layer time")
