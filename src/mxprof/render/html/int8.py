"""The `mxprof int8` page: per-layer error chart, per-layer table, search trace, the front."""

from __future__ import annotations

from typing import Any

from mxprof.jobs.int8.records import Int8Result
from mxprof.render.html.base import bullets, figure, page, pyplot, section, short_names, table
from mxprof.render.int8 import header_lines, layer_table, result_lines, trace_table


def error_chart(r: Int8Result) -> str:
    """Accumulated and local SQNR per layer, in graph order, with the divergence threshold."""
    if not r.layers:
        return ""
    plt = pyplot()
    _, names = short_names([row.layer for row in r.layers])
    x = list(range(len(r.layers)))
    acc = [row.accumulated.sqnr_db for row in r.layers]
    loc = [row.local.sqnr_db if row.local else None for row in r.layers]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * len(x)), 3.2))
    ax.plot(x, [float("nan") if v is None else v for v in acc], marker=".", label="accumulated")
    ax.plot(x, [float("nan") if v is None else v for v in loc], marker="x", linestyle="none",
            label="local")
    ax.axhline(r.threshold_db, color="grey", linestyle="--", linewidth=0.8,
               label=f"threshold {r.threshold_db:g} dB")
    ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.set_ylabel("SQNR (dB), higher is better")
    ax.legend(fontsize=7)
    return figure(fig, "INT8 vs FP32 SQNR per layer (graph order); a fused node is shown at the "
                  "last FP32 layer it absorbed")


def front_chart(r: Int8Result) -> str:
    """Score against latency for every candidate, with latency intervals; the front joined."""
    pts = [c for c in r.candidates if c.ok and c.latency and c.score is not None]
    if len(pts) < 2:
        return ""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for c in pts:
        lat = c.latency
        lo = lat.median_ms - (lat.ci95_low_ms or lat.median_ms)
        hi = (lat.ci95_high_ms or lat.median_ms) - lat.median_ms
        ax.errorbar([lat.median_ms], [c.score], xerr=[[lo], [hi]], fmt="o",
                    color="C1" if c.on_front else "C0", capsize=2)
        ax.annotate(f"{c.step}", (lat.median_ms, c.score), fontsize=7,
                    textcoords="offset points", xytext=(3, 3))
    front = sorted((c for c in pts if c.on_front), key=lambda c: c.latency.median_ms)
    ax.plot([c.latency.median_ms for c in front], [c.score for c in front], color="C1",
            linewidth=0.8)
    if r.target:
        ax.axhline(r.target.value, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("latency, ms per call (median, 95% interval)")
    ax.set_ylabel(r.target.metric if r.target else "score")
    return figure(fig, "Accuracy-latency front: each candidate by its step number; the front "
                  "(no other candidate both faster and at least as accurate) in orange")


def render(result: Int8Result | dict[str, Any]) -> str:
    r = result if isinstance(result, Int8Result) else Int8Result.from_dict(result)
    layers, trace = layer_table(r), trace_table(r)
    return page(f"mxprof int8: {r.model}",
                f"first diverging layer: {r.first_diverging or 'none'}", [
                    section("Model, calibration and inputs", bullets(header_lines(r))),
                    section("Per-layer error", error_chart(r),
                            table(layers.headers, layers.rows, id="layers") if r.layers else "",
                            bullets([layers.footnote]), id="layers"),
                    section("Search", front_chart(r),
                            table(trace.headers, trace.rows, id="trace"),
                            bullets([trace.footnote]), id="search"),
                    section("Result", bullets(result_lines(r)), id="result")])


def write_page(result: Int8Result, path: str) -> None:
    from mxprof.jsonio import write_text
    write_text(path, render(result))
