"""The `mxprof diff` page: headline, side-by-side bars per layer, the tables, changes highlighted.

One chart (A and B bars per layer, the largest differences first, significant layers marked),
then the layer table (sortable, filterable; significant rows and layers with a changed
primitive highlighted), the primitive changes (a layer that became a reference kernel in red),
environment differences, layers of one side only and findings of one side only. `write_page`
is the `--html PATH` writer of the "diff" kind (mxprof.render.outputs).
"""

from __future__ import annotations

from typing import Any

from mxprof.jobs.diff.records import DiffResult
from mxprof.render.diff import TOP_LAYERS, closing_lines, header_lines, verdict
from mxprof.render.html.base import Num, bullets, esc, figure, kv, page, pyplot, section, table

CHART_LAYERS = 25


def _bars(r: DiffResult) -> str:
    shown = r.layers[:CHART_LAYERS]
    if not shown:
        return ""
    plt = pyplot()
    import numpy as np
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(shown) + 1.2))
    y = np.arange(len(shown))
    ax.barh(y - 0.2, [d.ms_a for d in shown], height=0.4, label="A", color="#1f77b4")
    err = [[max(d.diff_ms - d.diff_low, 0) if d.diff_low is not None else 0 for d in shown],
           [max(d.diff_high - d.diff_ms, 0) if d.diff_high is not None else 0 for d in shown]]
    ax.barh(y + 0.2, [d.ms_b for d in shown], height=0.4, label="B", color="#ff7f0e",
            xerr=err, error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_yticks(y, [("* " if d.significant else "") + d.name for d in shown])
    ax.invert_yaxis()
    ax.set_xlabel("ms per iteration (median); whisker: 95% interval of B - A")
    ax.legend(loc="lower right")
    return figure(fig, f"A and B per layer, the {len(shown)} largest differences first "
                       "(* significant)", alt="side-by-side bars of each layer's time in A and B")


def _changed_layers(r: DiffResult) -> set[str]:
    return {p.layer for p in r.primitives if p.layer}


def _layer_rows(r: DiffResult) -> list[list[Any]]:
    changed = _changed_layers(r)
    rows = []
    for d in r.layers:
        interval = "-" if d.diff_low is None else f"{d.diff_low:+.3f} to {d.diff_high:+.3f}"
        rows.append([d.name + (" (primitive changed)" if d.name in changed else ""), d.op or "-",
                     Num(d.ms_a), Num(d.ms_b), Num(d.diff_ms, "{:+.3f}"), interval,
                     Num(d.ratio, "{:.2f}x"), verdict(d),
                     Num(d.share, text="-" if d.share is None else f"{100 * d.share:.0f}%"),
                     Num(d.efficiency_a, text=_pct(d.efficiency_a)),
                     Num(d.efficiency_b, text=_pct(d.efficiency_b)), d.pooled or "-"])
    return rows


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _highlight(html: str, r: DiffResult) -> str:
    """Mark the rows of significant layers and of layers whose primitives changed."""
    changed = _changed_layers(r)
    for d in r.layers:
        cls = "bad" if d.name in changed else ("warn" if d.significant else "")
        if cls:
            cell = f"<tr><td class='t'>{esc(d.name)}"
            html = html.replace(cell, f"<tr class='{cls}'><td class='t'>{esc(d.name)}", 1)
    return html


def _primitive_rows(r: DiffResult) -> list[list[Any]]:
    return [[p.layer or "(outside layers)", p.what, p.kind or "-", p.a or "-", p.b or "-",
             Num(p.ms_a), Num(p.ms_b)] for p in r.primitives]


def render_page(r: DiffResult) -> str:
    layer_table = _highlight(table(
        ("layer", "op", "A ms", "B ms", "B - A", "95% interval", "A/B", "significant", "share",
         "eff. A", "eff. B", "pooled"), _layer_rows(r), id="layers", filterable=True,
        scroll=True), r)
    prims = table(("layer", "change", "kind", "A", "B", "A ms", "B ms"), _primitive_rows(r),
                  id="primitives") if r.primitives else "<p>No primitive changed.</p>"
    prims = prims.replace("<td class='t'>reference</td>",
                          "<td class='t bad'>reference</td>")
    one = [[o.name, o.op or "-", "A only", Num(o.ms)] for o in r.only_a] + \
          [[o.name, o.op or "-", "B only", Num(o.ms)] for o in r.only_b]
    sections = [
        section("Headline", bullets(header_lines(r)), id="headline"),
        section("Layers", _bars(r), layer_table,
                f"<p class='sub'>Rows: significant (orange), a primitive changed (red). "
                f"The first {TOP_LAYERS} also in the terminal report.</p>", id="layers"),
        section("Primitive changes", prims, id="primitives"),
        section("Environment differences",
                kv((e.what, f"A: {e.a or '-'} | B: {e.b or '-'}") for e in r.environment)
                if r.environment else "<p>None recorded.</p>", id="environment"),
        section("Layers in one file only", table(("layer", "op", "where", "ms"), one,
                                                 id="one-sided") if one else "", id="one-sided"),
        section("Findings in one file only", bullets(
            f"{f.side}: {f.title} ({', '.join(f.layers[:5])})" for f in r.findings),
            id="findings"),
        section("Notes and method", bullets(closing_lines(r)), id="notes"),
    ]
    return page(f"mxprof diff: {r.a.model}", f"A {r.a.path} vs B {r.b.path}", sections)


def write_page(result: Any, path: str) -> None:
    from mxprof.jsonio import write_text
    write_text(path, render_page(result))
