"""Render an Int8Result: terminal (rich), Markdown, through the one table model.

Tables: the per-layer errors and times (one row per INT8-graph node, named by the FP32 layers
it absorbed), the search trace (each candidate: layers kept in FP32, the scores, latency with
its 95% interval, speedup over FP32 with its interval and significance), then the chosen
configuration as the quantize_net call to paste. The HTML page is mxprof.render.html.int8.
"""

from __future__ import annotations

from mxprof.jobs.int8.records import Candidate, Errors, Int8Result, LayerRow
from mxprof.render.base import environment_line
from mxprof.render.html.base import short_names
from mxprof.render.table_model import Table, markdown_lines, print_tables


def _f(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def _sqnr(e: Errors | None) -> str:
    if e is None:
        return "-"
    return "inf" if e.sqnr_db is None else f"{e.sqnr_db:.1f}"


def _layers(row: LayerRow, prefix: str) -> str:
    return "+".join(x.removeprefix(prefix) for x in row.layers)


def _layer_cells(r: Int8Result, row: LayerRow, prefix: str, full: bool) -> tuple[str, ...]:
    mark = " <- first over" if row.layers[0] == r.first_diverging else ""
    name = _layers(row, prefix) + (" (FP32)" if row.role == "fp32" else "") + mark
    local = _sqnr(row.local) if row.local else ("-" if row.role == "fp32" else "n/a")
    acc = row.accumulated
    times = (_f(row.fp32_ms, ".3f"), _f(row.int8_ms, ".3f"), _f(row.boundary_ms, ".3f"),
             _f(row.reorder_ms, ".3f"))
    if not full:
        return (name, _sqnr(acc), local, _f(acc.cosine, ".4f"), *times)
    return (name, _sqnr(acc), local, _f(acc.cosine, ".4f"), _f(acc.norm_l2, ".3f"),
            _f(acc.max_abs, ".3g"), *times, row.impl or "-",
            "" if row.local else (row.local_note or ""))


def layer_table(r: Int8Result, *, full: bool = True) -> Table:
    """One row per INT8-graph node; `full` adds normalised L2, max abs error, the oneDNN
    implementation and why a node has no local figure (Markdown and HTML; the terminal is
    narrower)."""
    prefix, _ = short_names([x for row in r.layers for x in row.layers])
    rows = [_layer_cells(r, row, prefix, full) for row in r.layers]
    timed = any(row.int8_ms is not None for row in r.layers)
    foot = (f"SQNR in dB over {r.probe} inputs; accumulated: each model on its own input; local: "
            "the INT8 node fed the FP32 layer's input. " + (
                "" if timed else "Per-layer times not measured (--no-layer-times). ") +
            "Times: ms per call at batch "
            f"{r.protocol.get('timing_batch', 1)}, per-layer hooks under NaiveEngine (one "
            "process, 20 calls, median); q/dq: the quantize, dequantize and requantize nodes "
            "next to the layer; reorder: oneDNN reorders inside the node and its q/dq nodes "
            "(DNNL_VERBOSE, 3 calls). The hooks need static_shape off, under which MXNet 1.9.1 "
            "re-creates each fused node per call: INT8 ms include a per-call weight "
            "quantization the timed runs do not pay. Local n/a: the node's INT8 input range is not fixed "
            "(see the JSON's local_note). First layer with accumulated SQNR below "
            f"{r.threshold_db:g} dB: {r.first_diverging or 'none'}.")
    head = ("layers", "SQNR acc", "SQNR local", "cosine")
    times = ("FP32 ms", "INT8 ms", "q/dq ms", "reorder ms")
    headers = (*head, "norm L2", "max abs", *times, "oneDNN", "no local because") if full \
        else (*head, *times)
    return Table(f"Per layer ({prefix}*)" if prefix else "Per layer", headers, tuple(rows),
                 foot, align="l" + "r" * (len(headers) - 3) + "ll" if full
                 else "l" + "r" * (len(headers) - 1))


def latency_cell(c: Candidate) -> str:
    lat = c.latency
    if lat is None:
        return "-"
    if lat.ci95_low_ms is None or lat.ci95_high_ms is None:
        return f"{lat.median_ms:.3f}"
    return f"{lat.median_ms:.3f} [{lat.ci95_low_ms:.3f}-{lat.ci95_high_ms:.3f}]"


def speedup_cell(c: Candidate) -> str:
    if c.phase == "fp32":
        return "1 (ref)"
    s = c.speedup
    if s is None:
        return "-"
    flag = "" if s.significant else " n.s."
    return f"{s.value:.2f}x [{s.ci95_low:.2f}-{s.ci95_high:.2f}]{flag}"


def _excluded(c: Candidate, prefix: str, user: tuple[str, ...]) -> str:
    if c.phase == "fp32":
        return "all (FP32 model)"
    names = [x.removeprefix(prefix) for x in c.excluded if x not in user]
    return ", ".join(names) or "none"


def trace_table(r: Int8Result) -> Table:
    prefix, _ = short_names([x for row in r.layers for x in row.layers] or ["a_", "b_"])
    rows = []
    for i, c in enumerate(r.candidates):
        mark = "chosen" if i == r.chosen else ("front" if c.on_front else "")
        if not c.ok:
            rows.append((str(c.step), c.phase, _excluded(c, prefix, r.user_exclude),
                         c.status, "-", "-", "-", "-", mark))
            continue
        rows.append((str(c.step), c.phase, _excluded(c, prefix, r.user_exclude),
                     _f(c.top1_agreement, ".4f"), _f(c.top1, ".4f"),
                     _f(c.output_sqnr_db, ".1f"), latency_cell(c), speedup_cell(c), mark))
    target = f"target {r.target.metric} >= {r.target.value:g}" if r.target else "no target"
    p = r.protocol
    foot = (f"{target}. Latency: ms per call at batch {p.get('timing_batch')}, median [95% "
            f"interval] over {p.get('processes')} processes, {p.get('warmup')} warm-up calls, "
            f"{_calls_each(p)}, threads {p.get('threads') or 'MXNet default'}"
            "; speedup: FP32 median / this median, "
            "bootstrap 95% interval, n.s. when it contains 1. Layers in FP32 beyond --exclude.")
    return Table("Search trace", ("step", "phase", "kept in FP32", "agreement", "top-1",
                                  "out SQNR dB", "latency ms", "speedup", ""),
                 tuple(rows), foot, align="rllrrrrrl")


def _calls_each(protocol: dict) -> str:
    """'10 calls each' under --iterations, else '1.0 s of calls each' (--min-time)."""
    if protocol.get("iterations"):
        return f"{protocol['iterations']} calls each"
    return f"{protocol.get('min_time_s')} s of calls each"


def header_lines(r: Int8Result) -> list[str]:
    lines = [f"mxprof int8 {r.model}: weights {r.weights}, calibration {r.calib_mode} "
             f"({r.calib_source}), quantized dtype {r.quantized_dtype}",
             f"inputs: {r.inputs}"]
    if r.user_exclude:
        lines.append("excluded by --exclude: " + ", ".join(r.user_exclude))
    e = r.environment
    if e:
        lines.append(f"machine: {environment_line(e, r.protocol.get('threads'), r.protocol.get('wait_policy'))}; ISA "
                     f"{' '.join(e.get('isa') or []) or '?'}"
                     + (f"; memory on node(s) {r.protocol['membind']}"
                        if r.protocol.get("membind") else ""))
    return lines


def result_lines(r: Int8Result) -> list[str]:
    out = []
    c = r.chosen_candidate
    if c is not None:
        verdict = {True: "meets the target", False: "does NOT meet the target (best found)",
                   None: "no target"}[r.met]
        out.append(f"chosen: step {c.step} ({verdict}), {len(c.excluded)} layer(s) in FP32, "
                   f"latency {latency_cell(c)} ms, speedup {speedup_cell(c)}")
        out.append(f"paste: {r.quantize_net_args}")
    out += [f"step {c.step} {c.status}: {c.error}" for c in r.candidates if not c.ok]
    if r.exported:
        out.append("exported: " + ", ".join(r.exported))
    out += [f"note: {n}" for n in r.notes]
    out += [f"error: {e}" for e in r.errors]
    return out


def tables(r: Int8Result, *, full: bool = True) -> list[Table]:
    out = [layer_table(r, full=full)] if r.layers else []
    return [*out, trace_table(r)] if r.candidates else out


def render_terminal(r: Int8Result, console=None) -> None:
    from rich.console import Console

    console = console or Console()
    for line in header_lines(r):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    print_tables(console, tables(r, full=False))
    console.print()
    for line in result_lines(r):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def render_markdown(r: Int8Result) -> str:
    out = [f"# INT8: {r.model}", "", *(f"{line}  " for line in header_lines(r))]
    for t in tables(r):
        out += ["", *markdown_lines(t)]
    out += ["", *(f"- {line}" for line in result_lines(r) if not line.startswith("paste"))]
    if r.quantize_net_args:
        out += ["", "```python", r.quantize_net_args, "```"]
    return "\n".join(out) + "\n"


def write_markdown(result: Int8Result, path: str) -> None:
    from mxprof.jsonio import write_text
    write_text(path, render_markdown(result))
