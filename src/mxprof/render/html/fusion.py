"""The fusion report (`mxprof.jobs.fusion.assemble.run_fusion`, kind "fusion") as one HTML page.

Sections: environment and protocol; latency unfused vs fused (the spread of each); each fused
group with the layers it absorbed, its primitive time before and after and the reason; time
per pattern before and after (bars); the cost of turning each fusion switch off; layers left
unfused; the diagnosis (findings); failed workers.
"""

from __future__ import annotations

import html
from typing import Any

from mxprof.jobs.fusion.report import upgrade
from mxprof.render.fusion import gain_ratio_cell, gain_text
from mxprof.render.html.base import (
    Num,
    bullets,
    figure,
    kv,
    page,
    pyplot,
    section,
    short_names,
    table,
)
from mxprof.render.html.findings import findings_section
from mxprof.render.table_model import ci_cell, median_ci_cell
from mxprof.render.tables import ratio_ci_cell

BEFORE, AFTER = "#ff7f0e", "#1f77b4"


def header(report: dict[str, Any]) -> str:
    env = report.get("environment") or {}
    shape = "x".join(str(d) for d in report.get("input_shape") or ())
    proto = report.get("protocol") or {}
    return section("Machine and protocol", kv([
        ("model", f"{report.get('model')}, input {shape}, weights {env.get('weights')}"),
        ("fusion path", f"{report.get('path')}"
                        + (", static_alloc/static_shape" if report.get("static") else "")),
        ("MXNet", env.get("mxnet")), ("oneDNN", env.get("onednn")), ("ISA", env.get("isa")),
        ("CPU", f"{env.get('cpu')}, {env.get('logical_cpus')} logical CPUs, "
                f"{env.get('physical_cores') or '?'} physical cores"),
        ("threads", env.get("threads")),
        # The affinity and wait policy the worker reported (the terminal header names them).
        ("CPUs allowed", env.get("allowed_cpus") or "not recorded"),
        ("OpenMP wait policy", (env.get("wait_policy") or {}).get("policy") or "not recorded"),
        *[(k, v) for k, v in proto.items() if isinstance(v, str)]]), id="environment")


def latency_section(report: dict[str, Any]) -> str:
    rows, series = [], []
    for name in ("unfused", "fused"):
        s = report.get(f"{name}_latency") or {}
        if s.get("median") is None:
            continue
        rows.append([name, Num(s.get("median"), "{:.4f}"), ci_cell(s, 4),
                     Num(s.get("q1"), "{:.4f}"), Num(s.get("q3"), "{:.4f}"),
                     Num(s.get("n"), "{:d}")])
        series.append((name, s))
    if not rows:
        return ""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 1.0 + 0.7 * len(series)))
    for y, (name, s) in enumerate(series):
        colour = BEFORE if name == "unfused" else AFTER
        ax.hlines(y, s["q1"], s["q3"], color=colour, linewidth=10, alpha=0.45, label="IQR"
                  if y == 0 else None)
        low = s["median"] if s.get("ci95_low") is None else s["ci95_low"]
        high = s["median"] if s.get("ci95_high") is None else s["ci95_high"]
        ax.errorbar([s["median"]], [y], xerr=[[s["median"] - low], [high - s["median"]]],
                    fmt="o", color="k", capsize=4, markersize=5)
    ax.set_yticks(range(len(series)))
    ax.set_yticklabels([n for n, _ in series])
    ax.set_ylim(-0.6, len(series) - 0.4)
    ax.set_xlabel("latency at batch 1 (ms, linear scale, lower is better)")
    ax.grid(axis="x", alpha=0.3)
    chart = figure(fig, "Latency unfused vs fused: the bar is the interquartile range, the dot "
                        "the median and its whiskers the 95% confidence interval of the median.",
                   alt="latency unfused vs fused")
    return section("Latency unfused vs fused", f"<p>{html.escape(gain_text(report))}.</p>",
                   table(["configuration", "median ms", "95% CI of median", "q1 ms", "q3 ms",
                          "n"], rows, id="latency"), chart, id="latency")


def _before_after(labels: list[str], before: list[float], after: list[float], caption: str,
                  alt: str) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.45 * len(labels)))
    ys = range(len(labels))
    ax.barh([y - 0.2 for y in ys], before, 0.4, color=BEFORE, label="unfused (sum of members)")
    ax.barh([y + 0.2 for y in ys], after, 0.4, color=AFTER, label="fused node")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("oneDNN primitive time per inference (ms, linear scale)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return figure(fig, caption, alt=alt)


def groups_section(report: dict[str, Any]) -> str:
    groups = report.get("groups") or []
    if not groups:
        return section("Fused groups", "<p>No fused node in the graph.</p>", id="groups")
    prefix, _ = short_names([m for g in groups for m in g.get("members") or ()])
    chart = _before_after([g["fused_node"] for g in groups],
                          [g.get("unfused_ms") or 0.0 for g in groups],
                          [g.get("fused_ms") or 0.0 for g in groups],
                          "Each fused node: its absorbed layers' primitive time unfused vs the "
                          "fused node's.", alt="fused groups before and after")
    rows = [[g["fused_node"], g.get("pattern"),
             ", ".join(m[len(prefix):] if prefix and m.startswith(prefix) else m
                       for m in g.get("members") or ()),
             Num(g.get("unfused_ms"), "{:.4f}"), Num(g.get("fused_ms"), "{:.4f}"),
             Num(g.get("gain_ms"), "{:+.4f}"), Num(g.get("gain_percent"), "{:+.1f}"),
             ratio_ci_cell(g.get("gain_ratio")), g.get("reason") or ""] for g in groups]
    cov = report.get("coverage") or {}
    left = [f"left unfused: {', '.join(cov['unfused_layers'])}"] if cov.get("unfused_layers") \
        else []
    return section("Fused groups", chart,
                   table(["fused node", "pattern", "absorbed layers"
                          + (f" (without {prefix!r})" if prefix else ""), "unfused ms",
                          "fused ms", "gain ms", "gain %", "unfused/fused [95% CI]",
                          "reason"], rows, id="groups",
                         filterable=True), bullets(left), id="groups")


def patterns_section(report: dict[str, Any]) -> str:
    pats = report.get("pattern_groups") or []
    parts = []
    if pats:
        parts.append(_before_after([p["pattern"] for p in pats],
                                   [p.get("unfused_ms") or 0.0 for p in pats],
                                   [p.get("fused_ms") or 0.0 for p in pats],
                                   "Primitive time summed per fusion pattern, unfused vs fused.",
                                   alt="patterns before and after"))
        parts.append(table(["pattern", "groups", "unfused ms", "fused ms", "gain ms", "gain %",
                            "unfused/fused [95% CI]"],
                           [[p["pattern"], Num(p.get("groups"), "{:d}"),
                             Num(p.get("unfused_ms"), "{:.4f}"), Num(p.get("fused_ms"), "{:.4f}"),
                             Num(p.get("gain_ms"), "{:+.4f}"),
                             Num(p.get("gain_percent"), "{:+.1f}"),
                             gain_ratio_cell(p)] for p in pats],
                           id="patterns"))
    switches = report.get("patterns") or []
    if switches:
        parts.append("<h3>Each fusion switch off</h3>")
        parts.append(table(
            ["switch", "pattern", "latency ms [95% CI]", "fused ms (same rounds)", "cost ms",
             "clear", "off/fused [95% CI]", "patterns left"],
            [[s["switch"], s.get("pattern"), median_ci_cell(s.get("latency"), 4),
              Num(s.get("fused_paired_ms"), "{:.4f}"), Num(s.get("cost_ms"), "{:+.4f}"),
              "yes" if s.get("clear") else "~ (noise)",
              ratio_ci_cell((report.get("pattern_ratios") or {}).get(s["switch"])),
              ", ".join(f"{k} x{v}" for k, v in (s.get("patterns") or {}).items())]
             for s in switches], id="switches"))
    return section("Per pattern", *parts, id="patterns")


def failed_section(report: dict[str, Any]) -> str:
    failed = report.get("failed_workers") or []
    return section("Failed workers", bullets([str(f) for f in failed], "bad"), id="failed")


def render(report: dict[str, Any]) -> str:
    report = upgrade(report)
    name = str(report.get("model"))
    return page(f"mxprof fusion: {name}", report.get("summary") or "", [
        header(report), latency_section(report), groups_section(report),
        patterns_section(report), findings_section(report.get("findings"), "Diagnosis"),
        failed_section(report)])
