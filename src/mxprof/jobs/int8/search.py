"""Which layers to keep in FP32: rank by sensitivity, exclude greedily, take back, pick the fastest.

Pure logic over an `evaluate(excluded, phase) -> Candidate` callback (the job's cells), so the
order of decisions is testable without MXNet. Contract:

- `rank(layers)`: INT8 nodes, most sensitive first: lowest local SQNR (the node's own error,
  not what it inherited), accumulated SQNR where a node has no local figure; -> the FP32 layer
  name to pass to exclude_layers for each (its first absorbed layer: excluding any absorbed
  layer keeps the whole fused node in FP32).
- `greedy(first, ranked, evaluate, ...)`: from the first INT8 configuration, exclude the next
  ranked layer until the target is met (or the steps, the budget or the ranking run out); then
  try taking back each exclusion, earliest first, keeping a take-back that still meets the
  target and is faster. Returns every candidate in the order run.
- `not_paying(layers)`: the INT8 nodes whose own time plus their quantize/dequantize work is
  not below the fused FP32 time of the same layers (per-layer hooks): keeping them in FP32
  costs no time, so the job tries the chosen set plus these once more ("cost" phase).
- `choose(candidates)`: the fastest (lowest median latency) that meets the target; when none
  does, the best score (ties: the faster) and met=False.
- `front(candidates)`: indices on the accuracy-latency front (no other candidate is both at
  least as accurate and faster).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from mxprof.jobs.int8.records import Candidate, LayerRow

Evaluate = Callable[[tuple[str, ...], str], Candidate]


def _sensitivity(row: LayerRow) -> float:
    errors = row.local or row.accumulated
    return float("inf") if errors.sqnr_db is None else errors.sqnr_db


def rank(layers: Sequence[LayerRow]) -> list[str]:
    """See the module docstring."""
    rows = sorted((r for r in layers if r.role == "int8"), key=_sensitivity)
    return [r.layers[0] for r in rows]


def not_paying(layers: Sequence[LayerRow]) -> list[str]:
    """See the module docstring; rows without both times are left out."""
    return [r.layers[0] for r in layers
            if r.role == "int8" and r.int8_ms is not None and r.fp32_ms is not None
            and r.int8_ms + (r.boundary_ms or 0.0) >= r.fp32_ms]


def _median(c: Candidate) -> float:
    return c.latency.median_ms if c.latency else float("inf")


def greedy(first: Candidate, ranked: Sequence[str], evaluate: Evaluate, *, max_steps: int,
           deadline: float | None = None, clock: Callable[[], float] = time.monotonic) \
        -> list[Candidate]:
    """See the module docstring; `deadline` is a `clock()` value after which no candidate
    starts."""
    trace: list[Candidate] = []
    queue = [layer for layer in ranked if layer not in first.excluded]
    current = first
    excluded = list(first.excluded)
    added: list[str] = []

    def more() -> bool:
        return len(trace) < max_steps and (deadline is None or clock() < deadline)

    while not current.meets and queue and more():
        layer = queue.pop(0)
        excluded.append(layer)
        added.append(layer)
        current = evaluate(tuple(excluded), "exclude")
        trace.append(current)
    best = current if current.meets else None
    for layer in added[:-1] if best else ():
        if not more():
            break
        trial = evaluate(tuple(x for x in best.excluded if x != layer), "take-back")
        trace.append(trial)
        if trial.meets and _median(trial) < _median(best):
            best = trial
    return trace


def choose(candidates: Sequence[Candidate]) -> tuple[int | None, bool | None]:
    """(index of the chosen candidate, whether it meets the target); (None, None) when no
    candidate ran."""
    ok = [(i, c) for i, c in enumerate(candidates) if c.ok and c.phase != "fp32"]
    if not ok:
        return None, None
    meeting = [(i, c) for i, c in ok if c.meets]
    if meeting:
        return min(meeting, key=lambda ic: _median(ic[1]))[0], True
    if all(c.meets is None for _, c in ok):
        return min(ok, key=lambda ic: _median(ic[1]))[0], None
    scored = [(i, c) for i, c in ok if c.score is not None]
    best = max(scored, key=lambda ic: (ic[1].score, -_median(ic[1])))
    return best[0], False


def front(candidates: Sequence[Candidate]) -> set[int]:
    """Indices of ok candidates with a score and a latency that no other one dominates."""
    pts = [(i, c.score, _median(c)) for i, c in enumerate(candidates)
           if c.ok and c.score is not None and c.latency]
    return {i for i, s, t in pts
            if not any((s2 >= s and t2 < t) or (s2 > s and t2 <= t) for _, s2, t2 in pts)}
