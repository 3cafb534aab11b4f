"""The profile report (schema 1, `mxprof.jobs.profile.report`) as one HTML page.

Sections, each left out when the report has no data for it: environment and protocol; latency
and throughput per configuration (table, and the distribution of the timed calls: a violin of
every sample with the median and its 95% interval, or the summary figures for files saved
before samples were kept); time per operator type, MKL-DNN on vs off; time per oneDNN
primitive kind; the slowest layers as bars and the full layer table (sortable, filterable);
reorders; the roofline and findings when the report carries them (`roofline`, `findings`);
the companion checks; the one-iteration trace as a download for Perfetto; the workers' status.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from mxprof.render.html.base import (
    Num,
    bullets,
    esc,
    figure,
    fmt,
    kv,
    page,
    pyplot,
    section,
    short_names,
    table,
)
from mxprof.render.html.findings import findings_section, roofline_section
from mxprof.render.tables import (
    layer_interval,
    layer_protocol,
    ratio_ci_cell,
    run_settings,
    threads_why,
)

TOP_LAYERS = 25
ON, OFF = "w/ MKL-DNN", "w/o MKL-DNN"
COLOURS = {ON: "#1f77b4", OFF: "#ff7f0e"}


def _horizontal() -> dict[str, Any]:
    """violinplot's keyword for horizontal violins: `orientation` from matplotlib 3.10 on,
    `vert=False` before (3.10 warns that it will go)."""
    import inspect

    from matplotlib.axes import Axes
    params = inspect.signature(Axes.violinplot).parameters
    return {"orientation": "horizontal"} if "orientation" in params else {"vert": False}


def _configs(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, section) of each configuration that ran: MKL-DNN on first, then the reference."""
    out = [(ON, report)] if report.get("mkldnn", True) else [(OFF, report)]
    if report.get("reference"):
        out.append((OFF, report["reference"]))
    return out


def header(report: dict[str, Any]) -> str:
    env, model, proto = report.get("environment") or {}, report.get("model") or {}, \
        report.get("protocol") or {}
    aff = env.get("affinity") or {}
    mx = env.get("mxnet") or {}
    threads, wait, clock = run_settings(report)
    shape = "x".join(str(d) for d in model.get("input_shape") or ())
    params = f"{model['param_count']:,}" if model.get("param_count") is not None else "?"
    numa = env.get("numa_nodes") or {}
    machine = kv([
        ("CPU", env.get("cpu_model")),
        ("cores", f"{env.get('physical_cores')} physical, {env.get('logical_cpus')} logical, "
                  f"{env.get('sockets')} socket(s)"),
        ("NUMA nodes", ", ".join(f"{k}: {v}" for k, v in numa.items()) or None),
        ("ISA", ", ".join(env.get("isa") or ()) or None),
        ("MXNet", f"{mx.get('version')} (MKL-DNN compiled: {mx.get('mkldnn_compiled')})"
         if mx else None),
        ("oneDNN", env.get("onednn_version")),
        ("threads", f"{threads or 'unknown'} OpenMP thread(s){threads_why(report)} on CPUs "
                    f"{mx.get('allowed_cpus') or aff.get('cpus')}, wait policy {wait}"),
        ("clock", clock),
        ("affinity", f"CPUs {aff.get('cpus')}, memory {aff.get('mempolicy')}"
                     + (f" bound to {aff['membind']}" if aff.get("membind") else "")
         if aff else None),
        ("host", f"{env.get('hostname')}, Python {env.get('python')}")])
    protocol = kv([
        ("model", f"{model.get('name')} ({model.get('source')}), input {shape}, "
                  f"{params} parameters, weights {model.get('weights')}"),
        ("latency", f"batch 1, {proto.get('warmup')} warm-up calls, then "
                    + (f"{proto['iterations']} timed calls" if proto.get("iterations")
                       else f"timed calls for {proto.get('min_time')} s (at least "
                            f"{proto.get('min_iterations')})")),
        ("throughput", f"batch {proto.get('batch_size')}"),
        ("hybridize", proto.get("hybridize")),
        ("passes", proto.get("passes")),
        ("created", f"{report.get('created')} by {report.get('tool')}")])
    return section("Machine and protocol", machine, protocol, bullets(report.get("notes") or ()),
                   id="environment")


def _timing_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    speed = (report.get("reference") or {}).get("speedup") or {}
    for label, sec in _configs(report):
        lat, tp = sec.get("latency_ms") or {}, sec.get("throughput") or {}
        rows.append([label, Num(lat.get("median")), Num(lat.get("p90")), Num(lat.get("p99")),
                     Num(lat.get("stdev")),
                     f"{fmt(lat.get('ci95_low'))}-{fmt(lat.get('ci95_high'))}",
                     Num(lat.get("n"), "{:d}"), Num(tp.get("images_per_s"), "{:.1f}"),
                     Num(tp.get("batch_size"), "{:d}")])
    if speed and len(rows) == 2:
        # "n.s. 1.02x [0.95-1.08]" when the 95% interval contains 1 (timing.stats.Ratio).
        rows.append(["speedup (MKL-DNN on / off) [95% CI]",
                     ratio_ci_cell(speed.get("latency_ratio"), speed.get("latency")),
                     "", "", "", "", "",
                     ratio_ci_cell(speed.get("throughput_ratio"), speed.get("throughput")), ""])
    return rows


def latency_chart(report: dict[str, Any]) -> str:
    """Violins of every timed call (or the summary figures), median and its 95% interval."""
    series = [(label, sec.get("latency_ms")) for label, sec in _configs(report)]
    series = [(label, lat) for label, lat in series if lat and lat.get("median") is not None]
    if not series:
        return ""
    plt = pyplot()
    horizontal = _horizontal()
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.9 * len(series)))
    for y, (label, lat) in enumerate(series):
        # Pooled processes keep their calls per process (mxprof.timing.pooled).
        samples = lat.get("samples_ms") or [v for p in lat.get("samples_ms_per_process") or ()
                                            for v in p]
        colour = COLOURS.get(label, "#555")
        if len(samples) >= 3:
            parts = ax.violinplot([samples], positions=[y], widths=0.8, showextrema=False,
                                  **horizontal)
            for body in parts["bodies"]:
                body.set_facecolor(colour)
                body.set_alpha(0.35)
            ax.plot(samples, [y] * len(samples), "|", color="k", alpha=0.35, markersize=14)
        else:  # a file saved before samples were kept: the range and its quantiles
            ax.hlines(y, lat["min"], lat["max"], color=colour, alpha=0.5, linewidth=6)
            marks = [v for v in (lat.get("p90"), lat.get("p99")) if v is not None]
            ax.plot(marks, [y] * len(marks), "|", color="k", markersize=12)
        low, high = lat.get("ci95_low"), lat.get("ci95_high")
        if low is not None and high is not None:
            ax.errorbar([lat["median"]], [y], xerr=[[lat["median"] - low], [high - lat["median"]]],
                        fmt="o", color="k", capsize=4, markersize=5)
        ax.annotate(f"median {lat['median']:.2f} ms", (lat["median"], y + 0.3), ha="center",
                    fontsize=8)
    ax.set_yticks(range(len(series)))
    ax.set_yticklabels([f"{label}\n(n={lat.get('n')})" for label, lat in series])
    ax.set_ylim(-0.6, len(series) - 0.3)
    ax.set_xlabel("latency at batch 1 (ms, linear scale, lower is better)")
    ax.grid(axis="x", alpha=0.3)
    return figure(fig, "Latency of every timed call at batch 1: the violin is the distribution, "
                       "the dot the median and its bar the 95% confidence interval of the median.",
                  alt="latency distribution")


def timing_section(report: dict[str, Any]) -> str:
    rows = _timing_rows(report)
    warnings = [f"{label}: {w}" for label, sec in _configs(report)
                for w in ((sec.get("latency_ms") or {}).get("warnings") or ())]
    tbl = table(["configuration", "median ms", "p90 ms", "p99 ms", "stdev ms", "95% CI of median",
                 "n", "images/s", "batch"], rows, id="timing")
    return section("Latency and throughput", tbl, latency_chart(report),
                   bullets(warnings, "warn"), id="timing")


def _hbars(labels: list[str], groups: list[tuple[str, list[float | None]]], xlabel: str,
           caption: str, alt: str) -> str:
    """Horizontal bars, one row per label, one bar per group (configuration)."""
    plt = pyplot()
    n = max(1, len(groups))
    fig, ax = plt.subplots(figsize=(10, 0.8 + 0.26 * len(labels) * max(1, n * 0.8)))
    height = 0.8 / n
    for i, (name, values) in enumerate(groups):
        ys = [j + (i - (n - 1) / 2) * height for j in range(len(labels))]
        ax.barh(ys, [v or 0.0 for v in values], height, label=name,
                color=COLOURS.get(name, f"C{i}"))
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if n > 1:
        ax.legend(fontsize=8, loc="lower right")
    return figure(fig, caption, alt=alt)


def operators_section(report: dict[str, Any]) -> str:
    per = {label: {r["op"]: r for r in sec.get("operators") or ()} for label, sec in _configs(report)}
    per = {k: v for k, v in per.items() if v}
    if not per:
        return ""
    ops = sorted({op for rows in per.values() for op in rows},
                 key=lambda op: -max(rows.get(op, {}).get("ms") or 0.0 for rows in per.values()))
    chart = _hbars(ops, [(label, [rows.get(op, {}).get("ms") for op in ops])
                         for label, rows in per.items()],
                   "time per inference (ms, linear scale)",
                   "Time per operator type (MXNet profiler, bulk execution off), one bar per "
                   "configuration.", alt="time by operator type")
    labels = list(per)
    headers = ["operator", *[f"{lab} ms" for lab in labels], *[f"{lab} %" for lab in labels],
               "calls"]
    rows = [[op, *[Num(per[lab].get(op, {}).get("ms")) for lab in labels],
             *[Num(per[lab].get(op, {}).get("percent"), "{:.1f}") for lab in labels],
             Num(next((per[lab][op].get("count") for lab in labels if op in per[lab]), None),
                 "{:.0f}")] for op in ops]
    src = next((sec.get("operators_source") for _, sec in _configs(report)
                if sec.get("operators_source")), None)
    return section("Time by operator type", chart, table(headers, rows, id="operators"),
                   f"<p class='sub'>{esc(src)}</p>" if src else "", id="operators")


def primitives_section(report: dict[str, Any]) -> str:
    prim = report.get("primitives") or {}
    kinds = prim.get("by_kind") or []
    if not kinds:
        return ""
    names = [k["kind"] for k in kinds]
    chart = _hbars(names, [(ON, [k.get("ms") for k in kinds])],
                   "time per inference (ms, linear scale)",
                   f"oneDNN primitive time by kind, MKL-DNN on (DNNL_VERBOSE over "
                   f"{prim.get('iterations')} iterations, per iteration). With MKL-DNN off "
                   "MXNet runs no oneDNN primitives: compare the operator chart above.",
                   alt="time by primitive kind")
    rows = [[k["kind"], Num(k.get("count"), "{:.0f}"), Num(k.get("ms")),
             Num(k.get("percent"), "{:.1f}"), Num(k.get("mean_ms"), "{:.4f}")] for k in kinds]
    header_ = prim.get("header") or {}
    note = (f"{header_.get('library')} {header_.get('version')}, {header_.get('isa')}"
            if header_ else "")
    return section("Time by oneDNN primitive kind", chart,
                   table(["kind", "calls/iter", "ms/iter", "%", "mean ms"], rows, id="primitives"),
                   f"<p class='sub'>{esc(note)}</p>" if note else "", id="primitives")


def _layer_times(report: dict[str, Any]) -> tuple[list[str], dict[str, dict[str, dict]]]:
    order: list[str] = []
    per: dict[str, dict[str, dict]] = {}
    for label, sec in _configs(report):
        for row in sec.get("layers") or ():
            if row["name"] not in per:
                order.append(row["name"])
                per[row["name"]] = {}
            per[row["name"]][label] = row
    return order, per


def layers_section(report: dict[str, Any]) -> str:
    order, per = _layer_times(report)
    if not order:
        return ""
    labels = [lab for lab, _ in _configs(report) if any(lab in v for v in per.values())]
    main = labels[0]
    slow = sorted(order, key=lambda n: -(per[n].get(main, {}).get("ms") or 0.0))[:TOP_LAYERS]
    prefix, short = short_names(slow)
    chart = _hbars(short, [(lab, [per[n].get(lab, {}).get("ms") for n in slow]) for lab in labels],
                   "time per inference (ms, linear scale)",
                   f"The {len(slow)} slowest of {len(order)} layers ({main}), slowest first"
                   + (f"; names without their common prefix {prefix!r}" if prefix else "")
                   + ". Per-layer hooks with the NaiveEngine.", alt="slowest layers")
    total = sum(per[n].get(main, {}).get("ms") or 0.0 for n in order) or None
    rows, counts = [], []
    for i, name in enumerate(order):
        r = per[name]
        first = next(iter(r.values()))
        ms = [r.get(lab, {}).get("ms") for lab in labels]
        ratio = (ms[1] / ms[0]) if len(ms) == 2 and ms[0] and ms[1] else None
        shape = "x".join(str(d) for d in first.get("output_shape") or ())
        # The terminal's layer table's interval (render.tables.layer_interval): '-' for a
        # side or an older file without per-iteration samples.
        spread = [layer_interval(r[lab]) if lab in r else ("-", None) for lab in labels]
        counts += [c for _, c in spread]
        rows.append([name, Num(i, "{:d}"), first.get("op"), shape,
                     *[cell for v, (ci, _) in zip(ms, spread) for cell in (Num(v, "{:.4f}"), ci)],
                     Num(ratio, "{:.2f}x"),
                     Num(100 * ms[0] / total if ms[0] is not None and total else None, "{:.1f}")])
    headers = ["layer", "order", "op", "output shape",
               *[h for lab in labels for h in (f"{lab} ms", f"{lab} 95% CI")],
               # One hooked pass per side, times without per-call samples: no interval.
               *(["speedup (no interval)"] if len(labels) == 2 else [""]),
               f"% of layers ({main})"]
    if len(labels) != 2:
        rows = [r[:-2] + r[-1:] for r in rows]
        headers = [h for h in headers if h]
    cov = report.get("coverage") or {}
    # The terminal's rule (render.tables.layer_table): a sum above the latency is flagged,
    # never called overhead.
    note = (f"Implausible: {cov.get('implausible') or 'the layers exceed the latency'}."
            if cov.get("ratio") and cov["overhead_ms"] < 0 else
            f"The layers add up to {cov['layers_ms']:.2f} ms, {100 * cov['ratio']:.0f}% of the "
            f"{cov['latency_ms']:.2f} ms median latency; the rest is framework overhead and "
            "merged work." if cov.get("ratio") else "")
    protocol = layer_protocol(counts)
    note += f" ms per layer: {protocol}." if protocol else ""
    return section("Per layer", chart, f"<p>{esc(note.strip())}</p>" if note.strip() else "",
                   table(headers, rows, id="layers", filterable=True, scroll=True), id="layers")


def reorders_section(report: dict[str, Any]) -> str:
    reo = (report.get("primitives") or {}).get("reorders") or {}
    if not reo:
        return ""
    rows = [[r.get("layer"), r.get("op"), Num(r.get("count_per_iter"), "{:.1f}"),
             Num(r.get("ms_per_iter"), "{:.4f}"), "; ".join(r.get("conversions") or ())]
            for r in reo.get("layers") or ()]
    share = (report.get("primitives") or {}).get("reorder_share")
    text = (f"{fmt(reo.get('count_per_iter'), '.1f')} reorders per inference taking "
            f"{fmt(reo.get('ms_per_iter'), '.4f')} ms"
            + (f" ({100 * share:.2f}% of primitive time)" if share is not None else "")
            + f"; {reo.get('outside_count', 0)} reorder calls outside the timed iterations "
              "(weights converted once, at the first call).")
    return section("Reorders", f"<p>{esc(text)}</p>",
                   table(["layer", "op", "per inference", "ms", "conversions"], rows,
                         id="reorders") if rows else "", id="reorders")


def checks_section(report: dict[str, Any]) -> str:
    checks = report.get("checks") or {}
    lines = []
    if checks.get("fusion"):
        lines.append(checks["fusion"].get("summary"))
    eq = checks.get("equivalence") or {}
    lines += [f"equivalence: {line}" for line in eq.get("lines") or ()]
    return section("Checks", bullets(lines), id="checks")


def trace_section(report: dict[str, Any]) -> str:
    events = report.get("trace")
    if not events:
        return ""
    name = f"{(report.get('model') or {}).get('name') or 'model'}.trace.json"
    data = base64.b64encode(json.dumps({"traceEvents": events}).encode()).decode("ascii")
    return section(
        "Trace of one iteration",
        f"<p><a download='{esc(name)}' href='data:application/json;base64,{data}'>"
        f"Save {esc(name)}</a> ({len(events)} events, Chrome trace format), then open it in "
        "<a href='https://ui.perfetto.dev' rel='noopener'>ui.perfetto.dev</a> (Open trace file: "
        "the file stays on your machine) or chrome://tracing.</p>", id="trace")


def runs_section(report: dict[str, Any]) -> str:
    runs = report.get("runs") or []
    rows = [[r.get("config"), r.get("pass"), r.get("status"), Num(r.get("wall_s"), "{:.1f}"),
             r.get("error") or ""] for r in runs]
    failed = [f"{r['config']}/{r['pass']}: {r.get('error')}\n{r.get('stderr_tail') or ''}"
              for r in runs if r.get("status") != "ok"]
    return section("Workers", table(["config", "pass", "status", "wall s", "error"], rows,
                                    id="runs"), bullets(failed, "bad"), id="runs")


def summary(report: dict[str, Any]) -> str:
    from mxprof.jobs.profile.report import summary_line
    try:
        return summary_line(report)
    except (KeyError, TypeError, ValueError):
        return f"{(report.get('model') or {}).get('name')}: profile"


def render(report: dict[str, Any]) -> str:
    """The whole page for a schema-1 profile report (a dict)."""
    name = (report.get("model") or {}).get("name") or "model"
    return page(f"mxprof profile: {name}", summary(report), [
        header(report), timing_section(report), operators_section(report),
        primitives_section(report), layers_section(report), reorders_section(report),
        roofline_section(report.get("roofline")), findings_section(report.get("findings")),
        checks_section(report), trace_section(report), runs_section(report)])


def _samples(lat: dict) -> list[float]:
    """Every timed call (ms) of a latency section: pooled over its processes when it has
    several (mxprof.timing.pooled), else the one process's samples."""
    per_process = lat.get("samples_ms_per_process")
    if per_process:
        return [s for group in per_process for s in group]
    return list(lat.get("samples_ms") or [])


def write(result: Any, path: str) -> None:
    """`profile --html PATH` (mxprof.render.outputs): the page, written atomically."""
    from mxprof.jsonio import write_text
    from mxprof.render.base import as_dict
    write_text(path, render(as_dict(result)))
