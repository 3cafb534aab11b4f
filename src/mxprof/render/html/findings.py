"""Findings and the roofline, shared by the profile and fusion pages.

Findings are diagnosis records: the fusion job's (title, severity, evidence, fix, nodes,
ms_per_iteration) and the profile diagnosis's (rule, title, layers, evidence, fix, effect
{ms_per_iter, estimate, measured}); plain strings are shown as they are. The roofline section reads
what the roofline pass stores under `roofline`: rows (`layers` or `primitives`) with
`intensity` (FLOP/byte) and `attained_gflops`, and `ceilings` with `bandwidth_gbs` and a peak
(`peak_gflops`: a number or {compute type: GFLOP/s}); rows without those figures are listed in
a table only. Both sections are left out when the report has no such key.
"""

from __future__ import annotations

import math
from typing import Any

from mxprof.render.html.base import Num, esc, figure, kv, pyplot, section, table

SEVERITY_CLASS = {"high": "bad", "medium": "warn"}


def findings_section(findings: list[Any] | None, title: str = "Findings") -> str:
    if findings is None:
        return ""
    if not findings:
        return section(title, "<p>No finding: nothing in the logs calls for a fix.</p>",
                       id="findings")
    items = []
    for f in findings:
        if not isinstance(f, dict):
            items.append(f"<li>{esc(str(f))}</li>")
            continue
        sev = f.get("severity")
        head = f"<b class='{SEVERITY_CLASS.get(sev, '')}'>{esc(str(f.get('title')))}</b>"
        where = f.get("graph") or f.get("layer")
        parts = [head + (f" <span class='sub'>({esc(str(sev))}"
                         + (f", {esc(str(where))}" if where else "") + ")</span>"
                         if sev else "")]
        for label, key in (("evidence", "evidence"), ("fix", "fix"), ("detail", "detail")):
            if f.get(key):
                parts.append(f"<br><i>{label}:</i> {esc(str(f[key]))}")
        for key in ("nodes", "layers"):
            if f.get(key):
                parts.append(f"<br><i>{key}:</i> {esc(', '.join(map(str, f[key])))}")
        effect = f.get("effect") or {}
        cost = f.get("ms_per_iteration") or effect.get("ms_per_iter")
        if cost:
            how = f" ({esc(str(effect['estimate']))})" if effect.get("estimate") else ""
            parts.append(f"<br><i>cost:</i> {cost:.4f} ms per inference{how}")
        if effect.get("measured"):
            from mxprof.jobs.profile.try_fixes import measured_line
            parts.append(f"<br><i>measured:</i> {esc(measured_line(effect['measured']))}")
        items.append("<li>" + "".join(parts) + "</li>")
    return section(title, "<ul class='findings'>" + "".join(items) + "</ul>", id="findings")


def _rows(roof: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("layers", "primitives", "points", "rows"):
        rows = roof.get(key)
        if isinstance(rows, list) and rows and isinstance(rows[0], dict):
            return rows
    return []


def _peaks(ceilings: dict[str, Any]) -> dict[str, float]:
    peak = ceilings.get("peak_gflops", ceilings.get("peaks"))
    if isinstance(peak, dict):
        return {str(k): float(v) for k, v in peak.items() if isinstance(v, (int, float))}
    return {"peak": float(peak)} if isinstance(peak, (int, float)) else {}


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def roofline_chart(roof: dict[str, Any]) -> str:
    rows = [r for r in _rows(roof) if _finite(r.get("intensity"))
            and _finite(r.get("attained_gflops"))]
    if not rows:
        return ""
    ceilings = roof.get("ceilings") or {}
    bw, peaks = ceilings.get("bandwidth_gbs"), _peaks(ceilings)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.6))
    xs = [float(r["intensity"]) for r in rows]
    ys = [float(r["attained_gflops"]) for r in rows]
    lo, hi = min(xs) / 2, max(xs) * 2
    if _finite(bw) and peaks:
        grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        for i, (name, peak) in enumerate(sorted(peaks.items(), key=lambda kv: -kv[1])):
            ax.plot(grid, [min(peak, x * bw) for x in grid], color="k", alpha=0.7 - 0.2 * i,
                    linewidth=1.2, label=f"roof {name}: {peak:.0f} "
                                         f"{'GOP/s' if name == 'int8' else 'GFLOP/s'}, "
                                         f"{bw:.0f} GB/s")
    bounds = sorted({str(r.get("bound", "measured")) for r in rows})
    for i, b in enumerate(bounds):
        pts = [(x, y) for x, y, r in zip(xs, ys, rows) if str(r.get("bound", "measured")) == b]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, alpha=0.8, label=b,
                   color=f"C{i}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte, log scale)")
    ax.set_ylabel("attained GFLOP/s (log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return figure(fig, "Roofline: every point a layer or primitive at its measured time; the "
                       "lines are the machine's ceilings (Williams, Waterman, Patterson 2009). "
                       "Both axes are logarithmic.", alt="roofline")


def roofline_section(roof: dict[str, Any] | None) -> str:
    """The terminal's roofline table and footnote (render.tables.roofline_table: efficiency in
    %, int8 in GOP/s, named fields), with the chart."""
    if not roof or not isinstance(roof, dict):
        return ""
    from mxprof.render.tables import roofline_table
    try:
        t = roofline_table({"roofline": roof})
    except (KeyError, TypeError):  # a roofline section of an older file: the raw view
        t = None
    if t is not None:
        return section("Roofline", roofline_chart(roof), f"<p>{esc(t.footnote)}</p>",
                       table(list(t.headers), [list(r) for r in t.rows], id="roofline",
                             filterable=True, scroll=True), id="roofline")
    return _raw_roofline_section(roof)


def _raw_roofline_section(roof: dict[str, Any]) -> str:
    rows = _rows(roof)
    columns = ["layer", "kind", "ms", "intensity", "attained_gflops", "bound_gflops",
               "efficiency", "bound"]
    present = [c for c in columns if any(c in r for r in rows)]
    name = present[0] if present else ""
    body = [[Num(r.get(c), "{:.4g}") if isinstance(r.get(c), (int, float)) else r.get(c)
             for c in present] for r in rows]
    if body and name:
        body = [[str(row[0]), *row[1:]] for row in body]
    scalars = [(k, f"{v:.4g}" if isinstance(v, float) else v) for k, v in roof.items()
               if isinstance(v, (int, float, str))]
    ceilings = roof.get("ceilings") or {}
    if ceilings.get("bandwidth_gbs"):
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in _peaks(ceilings).items())
        scalars.insert(0, ("ceilings", f"peak GFLOP/s {peaks}; memory "
                                       f"{ceilings['bandwidth_gbs']:.1f} GB/s "
                                       f"({ceilings.get('source', 'measured')})"))
    for k, v in (roof.get("headroom") or {}).items():
        scalars.append((f"headroom {k}", f"{v:.4g}" if isinstance(v, float) else v))
    return section("Roofline", roofline_chart(roof), kv(scalars),
                   table(present, body, id="roofline", filterable=True, scroll=True)
                   if body else "", id="roofline")
