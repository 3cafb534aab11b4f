"""The accuracy report (`mxprof.jobs.accuracy.records.AccuracyReport`) as one HTML page.

The same rows as the terminal and Markdown renderers (`mxprof.render.accuracy`): the header
lines, the reference benchmark's top-1/top-5 layout, one row per configuration against the
reference kernels, the pairwise comparisons, INT8 against its FP32 baseline; plus two charts:
the largest output difference per configuration (log scale, said on the axis: differences
span orders of magnitude) and the median latency with its 95% interval.
"""

from __future__ import annotations

import math
from typing import Any

from mxprof.jobs.accuracy.records import REFERENCE, AccuracyReport
from mxprof.render.accuracy import (
    CONFIG_COLUMNS,
    PAIR_COLUMNS,
    config_rows,
    failure_lines,
    header_lines,
    int8_lines,
    pair_rows,
    reference_table,
)
from mxprof.render.html.base import bullets, figure, page, pyplot, section, table


def _reference_layout(report: AccuracyReport) -> str:
    t = reference_table(report)
    return table(t.headers, t.rows, id="reference", sortable=False)


def diff_chart(report: AccuracyReport) -> str:
    configs = [c for c in report.configs if c.ok and c.name != REFERENCE
               and c.max_abs_diff is not None]
    if not configs:
        return ""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.5 * len(configs)))
    # Identical outputs have a difference of 0, which a log axis cannot show: drawn at the floor.
    floor = 1e-12
    values = [max(c.max_abs_diff, floor) for c in configs]
    colours = ["#2ca02c" if c.within_tolerance else "#d62728" if c.within_tolerance is False
               else "#9467bd" for c in configs]
    ax.barh(range(len(configs)), values, color=colours)
    for y, c in enumerate(configs):
        label = "identical" if c.max_abs_diff == 0 else f"{c.max_abs_diff:.2e}"
        ax.annotate(f" {label}", (values[y], y), va="center", fontsize=8)
    ax.set_yticks(range(len(configs)))
    ax.set_yticklabels([c.name for c in configs])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, max(values) * 100)
    ax.set_xlabel("max |output - reference| (log scale)")
    ax.grid(axis="x", alpha=0.3)
    return figure(fig, "Largest output difference against the reference kernels (mkldnn-off): "
                       "green within the FP32 tolerance, red outside it, purple INT8 (judged "
                       "by top-1/top-5 agreement instead).", alt="output differences")


def latency_chart(report: AccuracyReport) -> str:
    configs = [c for c in report.configs if c.ok and c.latency]
    if not configs:
        return ""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.5 * len(configs)))
    lats = [c.latency.to_dict("ms") for c in configs]
    meds = [d["median"] for d in lats]
    err = [[m - (d["ci95_low"] if d["ci95_low"] is not None else m) for m, d in zip(meds, lats)],
           [(d["ci95_high"] if d["ci95_high"] is not None else m) - m
            for m, d in zip(meds, lats)]]
    ax.barh(range(len(configs)), meds, xerr=err, capsize=3, color="#1f77b4", alpha=0.8)
    ax.set_yticks(range(len(configs)))
    ax.set_yticklabels([c.name for c in configs])
    ax.invert_yaxis()
    ax.set_xlabel(f"median latency at batch {(report.timing or {}).get('batch', '?')} "
                  "(ms, linear scale; whiskers: 95% CI of the median)")
    ax.grid(axis="x", alpha=0.3)
    n = (report.timing or {}).get("processes") or 1  # the terminal's count (render.accuracy)
    each = "one process each" if n == 1 else f"{n} processes each, pooled"
    return figure(fig, f"Median latency per configuration, {each}.", alt="latency")


def render(report: AccuracyReport | dict[str, Any]) -> str:
    if isinstance(report, dict):
        report = AccuracyReport.from_dict(report)
    ok = [c for c in report.configs if c.ok and c.name != REFERENCE]
    agree = [c.top1_agreement for c in ok if c.top1_agreement is not None]
    subtitle = (f"{len(report.configs)} configurations against {REFERENCE}; lowest top-1 "
                f"agreement {min(agree):.4f}" if agree and not any(map(math.isnan, agree))
                else f"{len(report.configs)} configurations against {REFERENCE}")
    return page(f"mxprof accuracy: {report.model.get('name')}", subtitle, [
        section("Model, inputs and machine", bullets(header_lines(report))),
        section("Top-1/top-5 per backend (reference layout)", _reference_layout(report),
                id="reference"),
        section("Configurations against the reference",
                table(CONFIG_COLUMNS, config_rows(report), id="configs"), diff_chart(report),
                latency_chart(report), id="configs"),
        section("Pairwise", table(PAIR_COLUMNS, pair_rows(report), id="pairs")
                if pair_rows(report) else "", id="pairs"),
        section("INT8", bullets(int8_lines(report)), id="int8"),
        section("Failures and notes", bullets(failure_lines(report), "bad"),
                bullets(report.notes, "warn"), id="notes")])
