"""Compare reports as one self-contained HTML page: the reference table and bar charts.

Charts are drawn with matplotlib (Agg backend, no display needed) and embedded as base64 PNG,
so the page is one file to mail or attach. One chart per metric: latency at batch 1 (ms, lower
is better) and throughput (images/s, higher is better), bars per model for each column group
and configuration, error bars from the quartiles of the timed calls; the speedup over MKL-DNN off is
written above each bar.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.compare_table import SHORT, Layout, layout, page_table

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child, th:first-child { text-align: left; }
th { background: #f0f0f0; }
li { margin: 0.2em 0; }
"""


def _chart(lay: Layout, metric: str) -> str | None:
    """A PNG (base64) of grouped bars, or None when nothing was measured for this metric."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, low, high = ("latency_ms", "q1_ms", "q3_ms") if metric == "latency" else \
        ("images_per_s", "images_per_s_low", "images_per_s_high")
    names = lay.group_names()
    labels = [f"{ln.label} (bs {ln.batch})" if metric == "throughput" else ln.label
              for ln in lay.lines]
    # Only series with a measurement (a build without MKL-DNN has no "w/" bars).
    pairs = [((g, c), [(ln.cells.get(g, {}).get(metric, {}).get(c) or {}) for ln in lay.lines])
             for g in lay.groups for c in lay.configs]
    pairs = [(sc, vs) for sc, vs in pairs if any(key in v for v in vs)]
    if not pairs:
        return None
    series, values = [sc for sc, _ in pairs], [vs for _, vs in pairs]
    colours = plt.get_cmap("tab20" if len(series) > 10 else "tab10")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(labels) * max(1, len(series)) / 2), 4.2))
    width = 0.8 / max(1, len(series))
    for i, ((g, c), vs) in enumerate(zip(series, values)):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        ys = [v.get(key, 0.0) or 0.0 for v in vs]
        errs = [[max(0.0, y - v.get(low, y)) for y, v in zip(ys, vs)],
                [max(0.0, v.get(high, y) - y) for y, v in zip(ys, vs)]]
        name = f"{names[g]} {SHORT[c]}".strip()
        bars = ax.bar(xs, ys, width, yerr=errs, capsize=2, label=name, color=colours(i))
        for bar, v in zip(bars, vs):
            if v.get("speedup"):
                ns = "" if (v.get("speedup_ratio") or {}).get("significant", True) else " n.s."
                ax.annotate(f"{v['speedup']:.1f}x{ns}", (bar.get_x() + bar.get_width() / 2,
                                                     bar.get_height()),
                            ha="center", va="bottom", fontsize=7)
    shown = [v.get(key) for vs in values for v in vs if v.get(key)]
    if shown and max(shown) / min(shown) > 30:
        ax.set_yscale("log")  # models an order of magnitude apart stay readable
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    scale = ", log scale" if ax.get_yscale() == "log" else ""
    ax.set_ylabel(f"latency, batch 1 (ms{scale}, lower is better)" if metric == "latency"
                  else f"throughput (images/s{scale}, higher is better)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


class CompareHtmlRenderer(Renderer):
    name = "compare-html"
    extension = ".html"

    def render(self, report: dict[str, Any]) -> str:
        lay = layout(report["rows"])
        t = page_table(lay)
        esc = html.escape
        out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
               f"<title>{esc(t.title)}</title><style>{_STYLE}</style></head><body>",
               f"<h1>{esc(t.title)}</h1>", "<table>",
               "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in t.headers) + "</tr>"]
        out += ["<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in t.rows]
        out.append("</table><ul>")
        out += [f"<li>{esc(line)}</li>" for line in
                [*t.footnote.splitlines(), *(report.get("notes") or ())]]
        out.append("</ul>")
        for metric, title in (("latency", "Latency at batch 1"), ("throughput", "Throughput")):
            png = _chart(lay, metric)
            if png:
                out.append(f"<h2>{title}</h2><img alt='{title} bar chart' "
                           f"src='data:image/png;base64,{png}'>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"
