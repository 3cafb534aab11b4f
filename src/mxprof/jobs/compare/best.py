"""The fastest configuration per model and machine (class), with its significance (pure).

`best(rows)` looks, for every (machine, build, model, configuration) with more than one
candidate, at the latency rows (threads x instances) and the throughput rows (threads x batch x
instances) of a sweep (`compare --threads 1,2 --instances 1,2 --batch-size 1,8`), and names the
fastest of each and whether it is significantly faster than the runner-up: the ratio runner-up
over best from the pooled per-process samples (mxprof.timing.pooled.ratio, the same 95%
interval as every speedup). Summed bound instances have no such samples: their comparison says
"no interval". `lines(best)` are the report's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mxprof.timing.stats import ratio_text


def describe(row: dict[str, Any]) -> str:
    """'2 threads, batch 8, 1 instance': what a candidate configuration is."""
    inst = row.get("instances") or 1
    threads = row.get("threads")
    parts = [f"{threads or '?'} thread{'' if threads == 1 else 's'}"]
    if row["metric"] == "throughput":
        parts.append(f"batch {row['batch_size']}")
    parts.append(f"{inst} instance{'s' if inst > 1 else ''}")
    return ", ".join(parts)


def _value(row: dict[str, Any]) -> float:
    return row["latency_ms"] if row["metric"] == "latency" else -row["images_per_s"]


def _per_image(row: dict[str, Any]) -> list | None:
    """Per-process samples of one image's time (ns): a batch's time over its size, so rates
    at different batches compare as durations (rate ratio = inverse time ratio)."""
    from mxprof.timing.pooled import samples_of
    groups = samples_of(row.get("stats"))
    batch = row["batch_size"] if row["metric"] == "throughput" else 1
    return [g / batch for g in groups] if groups else None


def _ratio(second: dict[str, Any], first: dict[str, Any]):
    from mxprof.timing.pooled import ratio_of
    if first["instances"] > 1 or second["instances"] > 1:
        return None  # summed instances: no one process's samples
    base, new = _per_image(second), _per_image(first)
    return ratio_of(base, new, first["metric"]) if base and new else None


def _pick(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    ranked = sorted(candidates, key=_value)
    if len(ranked) < 2:
        return None
    first, second = ranked[0], ranked[1]
    r = _ratio(second, first)
    return {"machine": first["machine"], "build": first["build"], "model": first["model"],
            "config": first["config"], "metric": first["metric"],
            "best": describe(first), "runner_up": describe(second),
            "best_value": first.get("latency_ms") or first.get("images_per_s"),
            "runner_up_value": second.get("latency_ms") or second.get("images_per_s"),
            "ratio": r.to_dict() if r else None, "candidates": len(ranked)}


def best(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (machine, build, model, configuration, metric) with several candidates."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        if r["metric"] in ("latency", "throughput"):
            k = (r["machine"], r["build"], r["model"], r["config"], r["metric"])
            groups.setdefault(k, []).append(r)
    return [p for p in map(_pick, groups.values()) if p is not None]


def lines(found: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for b in found:
        unit = "ms" if b["metric"] == "latency" else "img/s"
        r = b["ratio"]
        verdict = ("no interval (summed instances or no samples)" if r is None
                   else f"best over runner-up: {ratio_text(r)}")
        out.append(f"fastest {b['metric']}: {b['model']} {b['config']} on "
                   f"{b['machine'].split(' (')[0]}: {b['best']} ({b['best_value']:.4g} {unit}); "
                   f"runner-up {b['runner_up']} ({b['runner_up_value']:.4g} {unit}): {verdict}")
    return out
