"""Render an AccuracyReport: terminal (rich), Markdown, JSON, through the one table model.

The Markdown leads with the layout of the reference table (network, parameters, top-1/top-5 per
backend, delta) so results from this tool line up with the published MKL-DNN comparison. Both
text outputs build the same `Table`s (`mxprof.render.table_model`); latencies show the one
spread display, the median with its 95% interval.
"""

from __future__ import annotations

import sys

from mxprof.jobs.accuracy.records import (
    REFERENCE,
    AccuracyReport,
    ConfigResult,
    int8_summary,
    speedup_ratio,
)
from mxprof.jsonio import dumps
from mxprof.render.base import fmt_inputs
from mxprof.render.table_model import Table, markdown_lines, median_ci_cell, print_tables
from mxprof.render.tables import ratio_ci_cell
from mxprof.timing.stats import ratio_text


def _num(v: float | None, fmt: str = "{:.5f}") -> str:
    return "-" if v is None else fmt.format(v)


def _sci(v: float | None) -> str:
    return "-" if v is None else f"{v:.2e}"


def _delta(v: float | None, ref: float | None) -> str:
    return "-" if v is None or ref is None else f"{v - ref:+.5f}"


def _latency(c: ConfigResult) -> str:
    return median_ci_cell(c.latency.to_dict("ms"), 3) if c.latency else "-"


def _speedup(c: ConfigResult, ref: ConfigResult | None) -> str:
    """Against the reference, with the 95% interval of the ratio of medians, pooled over
    the timing processes (mxprof.jobs.accuracy.records.speedup_ratio; 'n.s.' when it
    contains 1); 'no interval' for a file without the calls."""
    if c.latency is None or ref is None or ref.latency is None:
        return "-"
    if c.name == REFERENCE:
        return "1 (ref)"
    return ratio_ci_cell(speedup_ratio(ref, c), ref.latency.median / c.latency.median)


def _tol(c: ConfigResult) -> str:
    if c.name == REFERENCE:
        return "ref"
    if c.within_tolerance is None:
        return "n/a" if c.kind == "int8" and c.ok else "-"
    return "yes" if c.within_tolerance else "NO"


def _reference_line(report: AccuracyReport) -> str:
    ref = report.reference
    if not ref:  # a report written before the reference path was recorded
        return (f"reference: {REFERENCE} (MXNET_MKLDNN_ENABLED=0, reference CPU kernels); "
                "diffs are against it")
    env = " ".join(f"{k}={v}" for k, v in ref["env"].items())
    return f"reference: {ref['config']} ({env}: {ref['why']}); diffs are against it"


def environment_line(report: AccuracyReport) -> str:
    """MXNet and oneDNN versions, CPU, threads: from mxprof.host.environment's fingerprint dict."""
    e = report.environment
    mxnet = e.get("mxnet") or {}
    version = mxnet.get("version") if isinstance(mxnet, dict) else mxnet
    # The threads the worker's OpenMP runtime reported, not a guess (mxprof.host.environment).
    threads = (mxnet.get("openmp_threads") if isinstance(mxnet, dict) else None) \
        or e.get("threads") or "unknown"
    affinity = e.get("affinity") or {}
    cpus = affinity.get("cpus") if isinstance(affinity, dict) else affinity
    wait = (e.get("wait_policy") or {}).get("policy") or "not recorded"
    line = (f"MXNet {version or '?'}, oneDNN {e.get('onednn_version') or 'version unknown'}, "
            f"CPU {e.get('cpu_model') or '?'}, {e.get('physical_cores') or '?'} physical cores "
            f"/ {e.get('logical_cpus', '?')} logical CPUs, "
            f"threads {threads} (wait policy {wait}), affinity {cpus or '?'}")
    binding = e.get("binding")
    if binding:
        line += f", bound to CPUs {binding.get('cpus')}"
        if binding.get("membind"):
            line += f" with memory on node {binding['membind']}"
    return line


def _drawn(model: dict) -> str:
    """What each random input is drawn from (mxprof.mx.inputs distributions)."""
    what = {"image": "ImageNet-normalised image", "normal": "N(0,1) noise"}
    parts = [f"{i['name']} {i.get('dtype', 'float32')} "
             + what.get(i.get("distribution"), f"token ids < {i.get('high')}")
             for i in model.get("inputs") or ()]
    return ", ".join(parts) or "ImageNet-normalised images"


def header_lines(report: AccuracyReport) -> list[str]:
    m = report.model
    shape = fmt_inputs(m)
    params = f"{report.param_count:,}" if report.param_count is not None else "?"
    inp = report.inputs
    if inp["kind"] == "random":
        data = f"{inp['count']} random inputs (seed {inp.get('seed', 0)}: {_drawn(m)})"
    else:
        data = f"{inp['count']} images from {inp['path']}"
        if not inp.get("labelled"):
            data += " (no usable labels)"
    tol = report.tolerance
    lines = [
        f"model {m.get('name')}: {params} parameters, input {shape}, weights {report.weights}",
        f"inputs: {data}",
        f"FP32 tolerance: |out - ref| <= {tol.rtol:g}*|ref| + {tol.atol:g}*max|ref| elementwise "
        "(rtol as in MXNet's fusion tests); INT8 is judged by top-1/top-5 agreement",
        _reference_line(report),
    ]
    if report.reference_note:  # the reference worker's own word on the path it ran
        lines.append(f"reference note: {report.reference_note}")
    t = report.timing
    if t and any(c.latency for c in report.configs):
        n = t.get("processes") or 1
        method = ("hierarchical bootstrap over processes, then calls" if n > 1
                  else "order statistics of one process's calls")
        lines.append(f"latency: {n} process{'es' if n > 1 else ''} per configuration, each "
                     f"{t.get('warmup')} warm-up then {t.get('iterations')} forward calls at "
                     f"batch {t.get('batch')}; ms as median [95% CI of the median, {method}]; "
                     "speedup against the reference, n.s. = no significant difference")
    if report.calibration:
        lines.append(f"INT8 calibration: {report.calibration['source']}")
    scales = [o.scale for c in report.comparisons if c.reference == REFERENCE for o in c.outputs]
    if scales:
        lines.append(f"output scale max|ref| = {max(scales):.3g} (diffs below read against it)")
    lines.append(environment_line(report))
    return lines


CONFIG_COLUMNS = ("configuration", "top-1", "top-5", "Δtop-1", "Δtop-5", "max abs diff",
                  "max rel diff", "top-1 agree", "top-5 agree", "within tol",
                  "latency ms", "speedup vs ref [95% CI]")


def config_rows(report: AccuracyReport) -> list[tuple[str, ...]]:
    ref = report.config(REFERENCE)
    rows = []
    for c in report.configs:
        if not c.ok:
            rows.append((c.name, "FAILED", *["" for _ in CONFIG_COLUMNS[2:]]))
            continue
        rows.append((c.name, _num(c.top1), _num(c.top5),
                     _delta(c.top1, ref.top1 if ref else None),
                     _delta(c.top5, ref.top5 if ref else None),
                     _sci(c.max_abs_diff), _sci(c.max_rel_diff),
                     _num(c.top1_agreement, "{:.4f}"), _num(c.top5_agreement, "{:.4f}"),
                     _tol(c), _latency(c), _speedup(c, ref)))
    return rows


def config_table(report: AccuracyReport) -> Table:
    return Table("Configurations against the reference", CONFIG_COLUMNS,
                 tuple(config_rows(report)))


PAIR_COLUMNS = ("comparison", "max abs diff", "max rel diff", "within tol", "top-1 agree",
                "top-5 agree", "inputs")


def pair_rows(report: AccuracyReport) -> list[tuple[str, ...]]:
    rows = []
    for p in report.comparisons:
        if p.reference == REFERENCE:
            continue
        tol = "n/a" if p.config.startswith("int8") else ("yes" if p.within_tolerance else "NO")
        rows.append((f"{p.config} vs {p.reference}", _sci(p.max_abs_diff),
                     _sci(p.max_rel_diff), tol, _num(p.top1_agreement, "{:.4f}"),
                     _num(p.top5_agreement, "{:.4f}"), str(p.count)))
    return rows


def pair_table(report: AccuracyReport) -> Table | None:
    rows = pair_rows(report)
    return Table("Pairwise", PAIR_COLUMNS, tuple(rows)) if rows else None


def int8_lines(report: AccuracyReport) -> list[str]:
    lines = []
    for row in int8_summary(report):
        delta = ("top-1 " + f"{row['top1_delta']:+.5f}, top-5 {row['top5_delta']:+.5f}"
                 if row["top1_delta"] is not None else "no labels, accuracy delta n/a")
        speed = f"{row['speedup']:.2f}x the speed of" if row["speedup"] else "speed n/a vs"
        ratio = row.get("speedup_ratio")
        if ratio:
            speed = f"speed {ratio_text(ratio)} vs"
        lines.append(f"{row['config']}: {delta} vs {row['fp32_config']}; {speed} "
                     f"{row['fp32_config']} (median latency ratio)")
    return lines


def failure_lines(report: AccuracyReport) -> list[str]:
    return [f"{c.name} failed: {c.error}" for c in report.configs if not c.ok]


def render_terminal(report: AccuracyReport, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape

    # Twelve columns need room: a pipe or a file gets a wide page instead of rich's 80.
    console = console or Console(width=None if sys.stdout.isatty() else 180)
    console.print(f"[bold]mxprof accuracy[/bold]: {escape(str(report.model.get('name')))}")
    for line in header_lines(report):
        console.print(line, highlight=False, markup=False)
    print_tables(console, [t for t in (config_table(report), pair_table(report)) if t])
    for line in int8_lines(report) + failure_lines(report):
        console.print(line, highlight=False, markup=False)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", highlight=False, markup=False)


def reference_table(report: AccuracyReport) -> Table:
    """The reference benchmark's layout: network, parameters, top-1/top-5 per backend, delta."""
    # The reference compared builds without and with MKL-DNN; INT8 rows live in the next table.
    ok = [c for c in report.configs if c.ok and c.kind != "int8"]
    ref = report.config(REFERENCE)
    cols = ["network", "parameters"]
    row = [str(report.model.get("name")),
           f"{report.param_count:,}" if report.param_count is not None else "?"]
    for c in ok:
        cols += [f"top-1 {c.name}", f"top-5 {c.name}"]
        row += [_num(c.top1, "{:.8f}"), _num(c.top5, "{:.8f}")]
    for c in ok:
        if ref is not None and c is not ref:
            cols += [f"delta top-1 {c.name}", f"delta top-5 {c.name}"]
            row += [_delta(c.top1, ref.top1), _delta(c.top5, ref.top5)]
    return Table("Top-1/top-5 per backend (reference layout)", tuple(cols), (tuple(row),))


def render_markdown(report: AccuracyReport) -> str:
    lines = [f"# mxprof accuracy: {report.model.get('name')}", ""]
    lines += [f"- {line}" for line in header_lines(report)]
    for t in (reference_table(report), config_table(report), pair_table(report)):
        if t is not None:
            lines += ["", *markdown_lines(t)]
    extra = int8_lines(report) + failure_lines(report) + [f"note: {n}" for n in report.notes]
    if extra:
        lines += [""] + [f"- {line}" for line in extra]
    return "\n".join(lines) + "\n"


def render_json(report: AccuracyReport) -> str:
    return dumps(report.to_dict(), indent=2) + "\n"


def write_markdown(result: AccuracyReport, path: str) -> None:
    """`--markdown PATH` (mxprof.render.outputs), written atomically."""
    from mxprof.jsonio import write_text
    write_text(path, render_markdown(result))
