"""Compare and merge reports as one HTML page: the reference table and bar charts.

One chart per metric: latency at batch 1 (ms, lower is better) and throughput (images/s,
higher is better). Models a hundred times apart cannot share a linear axis, and a log axis
misleads the eye about ratios, so each model (and throughput batch) gets its own small panel
with its own linear axis, said on the axis. Bars are the column groups and configurations,
error bars the quartiles of the timed calls, and the speedup over MKL-DNN off is written
under each bar's name rather than above it, where it collided with the error bars.
"""

from __future__ import annotations

import math
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.compare_table import (
    SHORT,
    Layout,
    latency_interval,
    layout,
    page_table,
    rate_interval,
)
from mxprof.render.html.base import bullets, figure, page, pyplot, section, table

PANELS_PER_ROW = 4


def _series(lay: Layout, metric: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(name, one cell per line) for every group/config with at least one measurement."""
    key = "latency_ms" if metric == "latency" else "images_per_s"
    names = lay.group_names()
    out = []
    for g in lay.groups:
        for c in lay.configs:
            cells = [ln.cells.get(g, {}).get(metric, {}).get(c) or {} for ln in lay.lines]
            if any(key in v for v in cells):
                out.append((f"{names[g]} {SHORT[c]}".strip(), cells))
    return out


def chart(lay: Layout, metric: str) -> str:
    """Small multiples, one linear panel per line; '' when nothing was measured."""
    key, interval = ("latency_ms", latency_interval) if metric == "latency" else \
        ("images_per_s", rate_interval)
    series = _series(lay, metric)
    lines = [i for i, ln in enumerate(lay.lines) if any(key in cells[i] for _, cells in series)]
    if not series or not lines:
        return ""
    plt = pyplot()
    cols = min(PANELS_PER_ROW, len(lines))
    rows = math.ceil(len(lines) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.0, 2.4 * cols + 0.6 * len(series)),
                                                  2.9 * rows), squeeze=False)
    for ax in axes.flat[len(lines):]:
        ax.set_visible(False)
    for ax, i in zip(axes.flat, lines):
        ln = lay.lines[i]
        ys = [cells[i].get(key) or 0.0 for _, cells in series]
        # The one spread display: the 95% interval of the median (none for summed instances).
        ends = [interval(cells[i]) if key in cells[i] else None for _, cells in series]
        errs = [[max(0.0, y - e[0]) if e else 0.0 for y, e in zip(ys, ends)],
                [max(0.0, e[1] - y) if e else 0.0 for y, e in zip(ys, ends)]]
        ax.bar(range(len(series)), ys, 0.7, yerr=errs, capsize=3,
               color=[f"C{j}" for j in range(len(series))])
        ticks = [name + (f"\n{cells[i]['speedup']:.2f}x{_not_significant(cells[i])}"
                         if cells[i].get("speedup") else "")
                 for name, cells in series]
        ax.set_xticks(range(len(series)))
        ax.set_xticklabels(ticks, fontsize=7)
        ax.set_title(ln.label + (f" (bs {ln.batch})" if metric == "throughput" else ""),
                     fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    unit = "latency, batch 1 (ms, linear, lower is better)" if metric == "latency" else \
        "throughput (images/s, linear, higher is better)"
    for ax in axes[:, 0]:
        ax.set_ylabel(unit, fontsize=8)
    fig.tight_layout()
    what = "Latency at batch 1" if metric == "latency" else "Throughput"
    return figure(fig, f"{what}: one panel per model, each with its own linear axis; "
                       "error bars are the 95% intervals of the medians; the speedup over "
                       "MKL-DNN off is under each bar's name "
                       "(n.s.: its 95% interval contains 1, no significant difference).", alt=f"{what} bar chart")


def render(report: dict[str, Any]) -> str:
    lay = layout(report["rows"])
    t = page_table(lay)
    notes = [*t.footnote.splitlines(), *(report.get("notes") or ())]
    return page(t.title, f"{len(lay.lines)} model line(s), {len(lay.groups)} column group(s)", [
        section("Table", table(t.headers, t.rows, id="compare"), bullets(notes), id="table"),
        section("Latency at batch 1", chart(lay, "latency"), id="latency"),
        section("Throughput", chart(lay, "throughput"), id="throughput")])


class CompareHtmlRenderer(Renderer):
    name = "compare-html"
    extension = ".html"

    def render(self, report: dict[str, Any]) -> str:
        return render(report)


def _not_significant(cell: dict) -> str:
    """" n.s." when the speedup's 95% interval contains 1 (see mxprof.timing.stats.Ratio)."""
    return "" if (cell.get("speedup_ratio") or {}).get("significant", True) else " n.s."
