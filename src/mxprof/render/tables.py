"""The report as titled tables, shared by the terminal and Markdown renderers (pure)."""

from __future__ import annotations

from typing import Any

from mxprof.render.base import fmt_inputs, fmt_ms, fmt_ratio
from mxprof.render.table_model import Table, ci_cell
from mxprof.timing.stats import ratio_text

TOP_LAYERS = 15


def header_lines(report: dict[str, Any]) -> list[str]:
    m, env = report["model"], report.get("environment") or {}
    aff = env.get("affinity") or {}
    mx = env.get("mxnet") or {}
    shape = fmt_inputs(m)
    params = f"{m['param_count']:,}" if m.get("param_count") else "?"
    weights = m.get("weights") or "?"
    if weights == "random":
        weights = "random init (timing valid, accuracy not)"
    elif m.get("weights_path"):
        weights = f"{weights} ({m['weights_path']})"
    threads, wait, clock = run_settings(report)
    return [
        f"model    {m['name']} ({m['source']}), input {shape}, {params} parameters, weights: {weights}",
        f"cpu      {env.get('cpu_model') or '?'}; ISA {', '.join(env.get('isa') or []) or '?'}",
        f"cores    {aff.get('cpu_count', '?')} used (CPUs {aff.get('cpus', '?')}) of "
        f"{env.get('physical_cores') or '?'} physical / {env.get('logical_cpus', '?')} logical; "
        f"NUMA node {_numa(env)}; membind {aff.get('membind') or 'none'}",
        f"software MXNet {mx.get('version', '?')}, oneDNN "
        f"{env.get('onednn_version') or '? (known from the primitives pass)'}, "
        f"OpenMP {mx.get('openmp_runtime') or '?'}, threads {threads or 'unknown'}"
        f"{threads_why(report)} on CPUs "
        f"{mx.get('allowed_cpus') or aff.get('cpus', '?')}, wait policy {wait}",
        f"clock    {clock or 'not recorded (file written before the clock was)'}",
    ]


def _numa(env: dict[str, Any]) -> str:
    cpus = set(_expand((env.get("affinity") or {}).get("cpus") or ""))
    hit = [n for n, lst in (env.get("numa_nodes") or {}).items() if cpus & set(_expand(lst))]
    return ",".join(hit) if hit else "?"


def _expand(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _lat_cells(lat: dict[str, Any] | None) -> tuple[str, ...]:
    if not lat:
        return ("failed", "-", "-", "-", "-", "-")
    return (fmt_ms(lat["median"]), fmt_ms(lat["p90"]), fmt_ms(lat["p99"]), fmt_ms(lat["stdev"]),
            ci_cell(lat), str(lat["n"]))


def _throughput_cell(thr: dict[str, Any] | None) -> str:
    """'3386.6 [2959.2-4820.9]': images/s with the rates at the ends of the batch time's 95%
    interval (as compare shows them); the figure alone for files without that interval."""
    if not thr:
        return "failed"
    batch = thr.get("batch_ms") or {}
    low, high = batch.get("ci95_low"), batch.get("ci95_high")
    cell = fmt_ms(thr["images_per_s"], 1)
    if not (low and high):
        return cell
    per_s = 1000.0 * thr["batch_size"]
    return f"{cell} [{fmt_ms(per_s / high, 1)}-{fmt_ms(per_s / low, 1)}]"


def summary_table(report: dict[str, Any]) -> Table:
    ref = report.get("reference")
    thr = report.get("throughput")
    bs = thr["batch_size"] if thr else report["protocol"].get("batch_size")
    headers = ("", "median ms", "p90 ms", "p99 ms", "stdev ms", "95% CI ms", "n",
               f"img/s bs={bs} [95% CI]")
    rows = []
    if ref is not None:
        rows.append(("w/o MKL-DNN", *_lat_cells(ref.get("latency_ms")),
                     _throughput_cell(ref.get("throughput"))))
    rows.append(("w/ MKL-DNN", *_lat_cells(report.get("latency_ms")),
                 _throughput_cell(thr)))
    sp = (ref or {}).get("speedup") or {}
    if ref is not None:
        rows.append(("speedup", ratio_cell(sp.get("latency_ratio"), sp.get("latency")), "", "",
                     "", "", "", ratio_cell(sp.get("throughput_ratio"), sp.get("throughput"))))
    lat = report.get("latency_ms") or {}
    proto = lat.get("protocol") or {}
    foot = (f"latency at batch 1: {proto.get('warmup', '?')} warm-up calls after the first, then "
            f"{timed_calls_text(report)} ({proto.get('timer', '?')}); first call "
            f"{fmt_ms(lat.get('first_call_ms'))} ms not counted. Throughput = batch / median batch time.")
    foot += "".join(f"\n{line}" for line in spread_lines(report))
    for key, what in (("latency_ratio", "latency"), ("throughput_ratio", "throughput")):
        if sp.get(key):
            foot += f"\nMKL-DNN speedup, {what}: {ratio_text(sp[key])}"
    return Table("Latency (batch 1) and throughput", headers, tuple(rows), foot)


def timed_calls_text(report: dict[str, Any]) -> str:
    """'10-13 timed calls per process (33 in 3 processes with MKL-DNN, 30 in 3 without; as many
    as fill 0.5 s, at least 10)': the counts of every process of both configurations. The
    latency record's own `protocol.iterations` is the first process's count only, which the
    footer once printed as if every process had made that many calls."""
    ref = report.get("reference") or {}
    counts = {label: list((sec.get("latency_ms") or {}).get("n_per_process") or ())
              for label, sec in (("with MKL-DNN", report), ("without", ref))}
    every = [n for ns in counts.values() for n in ns]
    if not every:
        iterations = ((report.get("latency_ms") or {}).get("protocol") or {}).get("iterations")
        return f"{iterations if iterations is not None else '?'} timed calls"
    low, high = min(every), max(every)
    span = f"{low}" if low == high else f"{low}-{high}"
    pooled = ", ".join(f"{sum(ns)} in {len(ns)} process{'es' if len(ns) > 1 else ''} {label}"
                       for label, ns in counts.items() if ns)
    proto = report.get("protocol") or {}
    if proto.get("iterations"):
        rule = "a fixed count (--iterations)"
    elif proto.get("min_time") is not None:
        rule = (f"as many as fill {proto['min_time']:g} s, at least "
                f"{proto.get('min_iterations', '?')}")
    else:
        rule = None
    return f"{span} timed calls per process ({pooled}" + (f"; {rule})" if rule else ")")


def run_settings(report: dict[str, Any]) -> tuple[Any, str, str | None]:
    """(OpenMP threads, wait policy, clock) the workers really ran with: what the worker's
    OpenMP runtime reported (mxprof.host.environment), not what was asked for."""
    env = report.get("environment") or {}
    mx = env.get("mxnet") or {}
    threads = mx.get("openmp_threads") or env.get("threads") or (report.get("protocol") or {}).get("threads")
    wait = wait_text(report) or (env.get("wait_policy") or {}).get("policy") or "not recorded"
    clock = ((report.get("latency_ms") or {}).get("protocol") or {}).get("clock")
    return threads, wait, clock


def wait_text(report: dict[str, Any]) -> str | None:
    """'active' when every configuration's timing ran one policy, else each named:
    'active (MKL-DNN on), passive (MKL-DNN off)'; None for files without decisions."""
    on = (report.get("wait_policy") or {}).get("policy")
    off = ((report.get("reference") or {}).get("wait_policy") or {}).get("policy")
    if not on:
        return None
    if off is None or off == on:
        return on
    return f"{on} (MKL-DNN on), {off} (MKL-DNN off)"


def threads_why(report: dict[str, Any]) -> str:
    """', one per physical core (mxprof default; MXNet alone would use 1),' after the count,
    or '' for files written before the reason was recorded."""
    why = (report.get("protocol") or {}).get("threads_why")
    return f", {why}," if why else ""


def ratio_cell(ratio: dict[str, Any] | None, plain: float | None = None) -> str:
    """A ratio in a narrow cell: '3.64x' when significant, 'n.s. 1.02x' when its 95% interval
    contains 1, the bare ratio when no interval is known (files from before intervals)."""
    if not ratio:
        return fmt_ratio(plain)
    return fmt_ratio(ratio["value"]) if ratio["significant"] else f"n.s. {ratio['value']:.2f}x"


def ratio_ci_cell(ratio: dict[str, Any] | None, plain: float | None = None) -> str:
    """A ratio with its 95% interval where there is room: '3.64x [3.51-3.80]', 'n.s. 1.02x
    [0.95-1.08]' when the interval contains 1; without an interval (files from before
    intervals, sides without samples) the bare ratio and 'no interval'."""
    if not ratio:
        return "-" if plain is None else f"{fmt_ratio(plain)} (no interval)"
    ci = f"[{ratio['ci95_low']:.2f}-{ratio['ci95_high']:.2f}]"
    return f"{ratio_cell(ratio)} {ci}"


def spread_lines(report: dict[str, Any]) -> list[str]:
    """How many processes, the spread within and between them, and the interval's method."""
    lines = []
    ref = report.get("reference") or {}
    for label, section in (("w/ MKL-DNN", report), ("w/o MKL-DNN", ref)):
        lat = section.get("latency_ms") or {}
        if (lat.get("processes") or 1) < 2:
            continue
        medians = ", ".join(fmt_ms(m) for m in lat.get("per_process_median_ms") or ())
        lines.append(f"{label}: {lat['processes']} processes (medians {medians} ms); stdev "
                     f"within a process {fmt_ms(lat.get('within_stdev'))} ms, between processes "
                     f"{fmt_ms(lat.get('between_stdev'))} ms")
    lat = report.get("latency_ms") or {}
    if lat.get("ci_method"):
        lines.append(f"95% CI of the median: {lat['ci_method']}")
    return lines


def operator_table(section: dict[str, Any], title: str) -> Table | None:
    rows = section.get("operators")
    if not rows:
        return None
    lat = (section.get("latency_ms") or {}).get("median")
    body = tuple((r["op"], f"{r['count']:g}", fmt_ms(r["ms"], 3), f"{r['percent']:.1f}")
                 for r in rows)
    total = section.get("operators_total_ms")
    foot = f"operators total {fmt_ms(total)} ms per iteration ({section.get('operators_source')})"
    cost = section.get("breakdown_cost") or {}
    if cost.get("bulk_off_ms"):
        foot += (f"; latency with bulk execution off {fmt_ms(cost['bulk_off_ms'])} ms vs "
                 f"{fmt_ms(cost['bulk_on_ms'])} ms on "
                 f"({ratio_ci_cell(cost.get('ratio_interval'), cost['ratio'])})")
    elif lat:
        foot += f"; measured latency {fmt_ms(lat)} ms"
    if section.get("operators_implausible"):  # the layers' rule (layer_table) for operators
        foot += f"; implausible: {section['operators_implausible']}"
    return Table(title, ("operator", "calls/iter", "ms/iter", "% of ops"), body, foot)


def layer_table(section: dict[str, Any], title: str) -> Table | None:
    rows = section.get("layers")
    if not rows:
        return None
    top = sorted(rows, key=lambda r: r["ms"] or 0.0, reverse=True)[:TOP_LAYERS]
    spread = [layer_interval(r) for r in top]
    body = tuple((r["name"] or "?", r["op"] or "?", fmt_ms(r["ms"], 3), cell,
                  "x".join(map(str, r["output_shape"])) if r.get("output_shape") else "-")
                 for r, (cell, _) in zip(top, spread))
    cov = section.get("coverage")
    foot = f"top {len(top)} of {len(rows)} layers ({section.get('layers_method') or '?'})"
    protocol = layer_protocol([c for _, c in spread])
    if protocol:
        foot += f"; ms/iter: {protocol}"
    if cov and cov["overhead_ms"] < 0:  # flagged, never printed as a negative cost
        foot += f"; implausible: {cov.get('implausible') or 'layers exceed the latency'}"
    elif cov:
        foot += (f"; layers sum {fmt_ms(cov['layers_ms'])} ms = {100 * cov['ratio']:.0f}% of the "
                 f"{fmt_ms(cov['latency_ms'])} ms median latency, framework overhead "
                 f"{fmt_ms(cov['overhead_ms'])} ms")
        if cov.get("layer_pass_latency_ms"):
            foot += (f"; {100 * cov['layer_pass_ratio']:.0f}% of the "
                     f"{fmt_ms(cov['layer_pass_latency_ms'])} ms latency of the layer pass itself "
                     f"(per-layer collection costs "
                     f"{fmt_ratio(cov['layer_pass_latency_ms'] / cov['latency_ms'])}: one "
                     "hooked process against the timing pass, no interval)")
    return Table(title, ("layer", "op", "ms/iter", "95% CI", "output"), body, foot)


def layer_protocol(counts: list[list[int] | None]) -> str | None:
    """'median of 20 iterations per process in 2 process(es), 95% CI by hierarchical bootstrap
    over processes, then iterations' from `layer_interval`'s iteration counts; None when no
    layer kept samples."""
    counts = [c for c in counts if c]
    if not counts:
        return None
    calls = sorted({n for c in counts for n in c})
    span = f"{calls[0]}" if len(calls) == 1 else f"{calls[0]}-{calls[-1]}"
    return (f"median of {span} iterations per process in {max(len(c) for c in counts)} "
            "process(es), 95% CI by hierarchical bootstrap over processes, then iterations")


def layer_interval(row: dict[str, Any]) -> tuple[str, list[int] | None]:
    """('0.036-0.041', [20, 20]): the 95% interval of a layer's median ms per iteration from
    its per-process iteration samples, and the iterations of each process; ('-', None) for
    files written before layers kept their samples. The ms column had no spread at all."""
    from mxprof.timing.pooled import pooled_stats
    groups = [g for g in row.get("samples_ms") or () if g]
    stats = pooled_stats(groups) if groups else None
    if stats is None:
        return "-", None
    # The samples are ms already: the record's own fields, not to_dict's ns -> ms scaling.
    return (ci_cell({"ci95_low": stats.ci95_low, "ci95_high": stats.ci95_high}, 3),
            [len(g) for g in groups])


def primitive_table(report: dict[str, Any]) -> Table | None:
    prim = report.get("primitives")
    if not prim or not prim.get("by_kind"):
        return None
    body = tuple((r["kind"], f"{r['count']:g}", fmt_ms(r["ms"], 3), f"{r['percent']:.1f}")
                 for r in prim["by_kind"])
    foot = (f"oneDNN verbose, {prim['iterations']} iteration(s) in a separate worker "
            f"(DNNL_VERBOSE=1, never during timing)")
    share = prim.get("reorder_share")
    if isinstance(share, (int, float)):
        foot += f"; reorders {100 * share:.1f}% of primitive time"
    return Table("oneDNN primitives by kind, per iteration", ("kind", "execs", "ms", "%"),
                 body, foot)


def primitive_layer_table(report: dict[str, Any]) -> Table | None:
    rows = (report.get("primitives") or {}).get("by_layer")
    if not rows:
        return None
    top = rows[:TOP_LAYERS]
    body = tuple((str(r.get("layer")), str(r.get("impl")), fmt_ms(r.get("ms_per_iter"), 3),
                  "-" if r.get("gflops_per_s") is None or r["gflops_per_s"] != r["gflops_per_s"]
                  else f"{r['gflops_per_s']:.1f}") for r in top)
    reorders = (report.get("primitives") or {}).get("reorders") or {}
    foot = ""
    if reorders.get("layers"):
        worst = max(reorders["layers"], key=lambda r: r.get("ms_per_iter") or 0.0)
        foot = (f"reorders: {reorders.get('count_per_iter', 0):g} per iteration in "
                f"{len(reorders['layers'])} layers, {fmt_ms(reorders.get('ms_per_iter'), 3)} ms; "
                f"the longest in {worst['layer']} ({fmt_ms(worst.get('ms_per_iter'), 3)} ms, "
                f"{', '.join(worst.get('conversions') or [])})")
    return Table("Slowest oneDNN primitives by layer (verbose pass)",
                 ("layer", "implementation", "ms/iter", "GFLOP/s"), body, foot)


def failure_table(report: dict[str, Any]) -> Table | None:
    failed = [r for r in report.get("runs", []) if r["status"] != "ok"]
    if not failed:
        return None
    body = tuple((r["config"], r["pass"], r["status"], r.get("error") or "",
                  (r.get("stderr_tail") or "").splitlines()[-1][:120] if r.get("stderr_tail") else "")
                 for r in failed)
    return Table("Failed workers", ("config", "pass", "status", "error", "last stderr line"), body)


def all_tables(report: dict[str, Any]) -> list[Table]:
    ref = report.get("reference") or {}
    # The breakdown passes' batch (--breakdown-batch), said in every breakdown's title.
    bb = (report.get("protocol") or {}).get("breakdown_batch") or 1
    tables = [summary_table(report),
              operator_table(report, f"Operators, MKL-DNN on (batch {bb})"),
              operator_table(ref, f"Operators, MKL-DNN off (batch {bb})") if ref else None,
              layer_table(report, f"Slowest layers, MKL-DNN on (batch {bb})"),
              primitive_table(report), primitive_layer_table(report), failure_table(report)]
    tables.append(roofline_table(report))
    return [t for t in tables if t is not None]


def check_lines(report: dict[str, Any]) -> list[str]:
    """The companion checks of `profile`: fusion summary and output equivalence."""
    checks = report.get("checks") or {}
    lines = []
    if "fusion" in checks:
        lines.append(checks["fusion"]["summary"])
    if "equivalence" in checks:
        lines += [f"equivalence: {line}" for line in checks["equivalence"]["lines"]]
    return lines


def closing_lines(report: dict[str, Any]) -> list[str]:
    lines = check_lines(report)
    lines += [f"note: {n}" for n in report.get("notes", [])]
    ref = report.get("reference") or {}
    for label, section in (("w/ MKL-DNN", report), ("w/o MKL-DNN", ref)):
        for key, what in (("latency_ms", "latency"), ("throughput", "throughput")):
            stats = section.get(key) or {}
            if key == "throughput":
                stats = stats.get("batch_ms") or {}
            # A warning says a figure may be wrong; a note only what was not computed.
            lines += [f"warning ({label} {what}): {w}" for w in stats.get("warnings") or []]
            lines += [f"note ({label} {what}): {n}" for n in stats.get("notes") or []
                      if key == "latency_ms" or not n.startswith("p9")]
    lines += [f"missing: {m}" for m in report.get("missing", [])]
    if not report.get("complete", True):
        lines.append("incomplete: not every planned worker produced a result")
    lines += finding_lines(report)
    return lines


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None or value != value else format(value, fmt)


def roofline_table(report: dict[str, Any]) -> Table | None:
    """Slowest layers on the roofline: attained vs bound, efficiency, class; headroom below."""
    roof = report.get("roofline")
    if not roof or not roof.get("layers"):
        return None
    c = roof["ceilings"]
    body = []
    for r in roof["layers"][:TOP_LAYERS]:
        bound = (r["flops"] / (r["roof_ms"] * 1e6) if r.get("roof_ms") and r.get("flops")
                 else None)
        body.append((str(r["layer"]), str(r.get("layer_op") or "?"), fmt_ms(r["ms"], 3),
                     _num(r.get("attained_gflops")), _num(r.get("attained_gbs")),
                     _num(bound), "-" if r.get("efficiency") is None else
                     f"{r['efficiency']:.0%}", str(r.get("bound")).replace("-bound", "")))
    h = roof["headroom"]
    foot = (f"roofs ({c['source']}): f32 {c['peak_gflops']['f32']:.1f} GFLOP/s, int8 "
            f"{c['peak_gflops'].get('int8') or 0:.1f} GOP/s, {c['bandwidth_gbs']:.1f} GB/s. "
            f"Headroom: oneDNN primitives {fmt_ms(h['primitives_ms'])} ms, at their roofs "
            f"{fmt_ms(h['roof_ms'], 3)} ms")
    if h.get("model_at_roof_ms"):
        foot += (f"; the model {fmt_ms(h['latency_ms'])} ms measured, "
                 f"{fmt_ms(h['model_at_roof_ms'])} ms if every layer ran at its roof "
                 f"({fmt_ratio(h.get('speedup_bound'))})")
    foot += f". overhead: below {roof['overhead_efficiency']:.0%} of the roof" + \
        "".join(f"; {why}" for why in _above_roof(roof["layers"][:TOP_LAYERS])) + "."
    bb = (report.get("protocol") or {}).get("breakdown_batch") or 1
    return Table(f"Roofline by layer, MKL-DNN on (batch {bb}, verbose pass)",
                 ("layer", "op", "ms/iter", "GFLOP/s", "GB/s", "roof GFLOP/s", "eff.",
                  "bound by"), tuple(body), foot)


def _above_roof(layers: list[dict[str, Any]]) -> list[str]:
    """Why layers beat their roof, said for the roof they beat: a memory-bound layer's data
    stayed in cache; a compute-bound one ran faster than the peak assumed."""
    over = {str(r.get("bound")) for r in layers if (r.get("efficiency") or 0) > 1}
    out = []
    if any("memory" in b for b in over):
        out.append("memory-bound above 100%: data stayed in cache (the memory roof is DRAM)")
    if any("compute" in b for b in over):
        out.append("compute-bound above 100%: the peak's clock or FLOP-per-cycle assumption "
                   "is below what the cores ran (turbo), or the ceilings were measured under "
                   "load (mxprof ceilings --refresh on an idle machine)")
    return out


def finding_lines(report: dict[str, Any]) -> list[str]:
    """The findings, most to save first: rule, what the fix saves (measured by --try-fixes,
    else estimated), layers, evidence, fix."""
    found = report.get("findings") or []
    lines = [f"findings: {len(found)} (most costly first)"] if found else []
    if "findings" in report and not found:
        lines.append("findings: none (every rule ran; no evidence of a known cause)")
    for i, f in enumerate(found, 1):
        eff = f.get("effect") or {}
        ms = eff.get("ms_per_iter")
        saved = (eff.get("measured") or {}).get("saved_ms")
        stake = (f" (measured: the fix saves {saved:.3f} ms/iter)" if saved is not None
                 and saved > 0 else f" (measured: the fix saves nothing, {saved:+.3f} ms/iter)"
                 if saved is not None else f" (~{ms:.3f} ms/iter to save, estimated)"
                 if ms else "")
        layers = ", ".join(f["layers"][:5]) + (" ..." if len(f["layers"]) > 5 else "")
        lines.append(f"[{i}] {f['rule']}: {f['title']}" + stake
                     + (f"; layers {layers}" if layers else ""))
        lines.append(f"    evidence: {f['evidence']}")
        lines.append(f"    fix: {f['fix']}")
        if eff.get("measured"):
            from mxprof.jobs.profile.try_fixes import measured_line
            lines.append(f"    measured: {measured_line(eff['measured'])}")
    return lines
