"""The text of a verbose-log summary (`mxprof verbose summary`, `verbose run`): the header
(library, generation, ISA, machine, line counts, totals), the exec and creation time tables
(the larger first), the GFLOP/s table and the rejected lines; `format_summary` returns lines.
"""

from __future__ import annotations

from typing import Any

REJECTED_SHOWN = 20  # rejected lines listed without --show-rejected


def _fmt_row(cells: list[str], widths: list[int], numeric_from: int) -> str:
    return "  ".join(c.rjust(w) if i >= numeric_from else c.ljust(w)
                     for i, (c, w) in enumerate(zip(cells, widths))).rstrip()


def format_table(headers: list[str], rows: list[list[str]], numeric_from: int) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = [_fmt_row(headers, widths, numeric_from), "  ".join("-" * w for w in widths)]
    return lines + [_fmt_row(r, widths, numeric_from) for r in rows]


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _ms(value: float, count: int, resolution: float | None, digits: int = 3) -> str:
    """A time in ms; a group whose calls all printed 0 was below the log's resolution."""
    if value == 0 and count and resolution:
        return f"< {resolution:g}"
    return f"{value:.{digits}f}"


def _machine_line(machine: dict[str, Any] | None) -> str:
    if machine is None:
        return ("  machine: not recorded in a verbose log (CPU model, cores, affinity and the "
                "MXNet version are not in it); the library, ISA and threads above are the log's")
    return (f"  machine (captured here by `mxprof verbose run`): {machine['hostname']}, CPU "
            f"{machine['cpu_model'] or '?'}, {machine['physical_cores'] or '?'} physical cores / "
            f"{machine['logical_cpus']} logical CPUs, affinity {machine['affinity'] or '?'}; "
            f"MXNet installed here {machine['mxnet_installed'] or 'none'} (the command may "
            "have loaded another)")


def _header(log: Any, t: dict[str, Any], path: str,
            machine: dict[str, Any] | None = None) -> list[str]:
    h, s = log.header, log.stats
    lib = f"{h['library']} v{h['version']}" if h["version"] else "no version header"
    generation = h["generation"] or "unknown"
    if h.get("generation_inferred"):
        generation += " (inferred from the line layout)"
    threads = f"; threads: {h['threads']}" if h.get("threads") else ""
    res = log.resolution_ms
    lines = [
        f"{path}: {lib}, format generation {generation}",
        f"  isa: {h['isa'] or '-'}; runtime: {h['runtime'] or '-'}{threads}",
        _machine_line(machine),
        f"  lines: {s.lines_total} read, {s.lines_parsed} timed rows, {s.lines_untimed} "
        f"untimed verbose (info/check/dispatch/start/error), {s.lines_total - s.lines_verbose} "
        "other",
    ]
    if s.lines_malformed:
        lines.append(f"  {s.lines_malformed} lines rejected, see below")
    lines += [
        f"  primitive exec: {t['exec_count']} calls, {t['exec_ms']:.3f} ms total "
        f"(sum of per-call wall times reported by oneDNN)",
        f"  primitive create: {t['create_count']} timed, {t['create_ms']:.3f} ms"
        + (f"; nested creation: {t['create_nested_count']}, {t['create_nested_ms']:.3f} ms "
           "(inside their parent's time)" if t["create_nested_count"] else ""),
        "  wall span of the log (first timestamp to last end): " + (
            f"{t['span_ms']:.3f} ms" if t["span_ms"] is not None
            else "- (no timestamps: set DNNL_VERBOSE_TIMESTAMP=1 / ONEDNN_VERBOSE_TIMESTAMP=1)"),
        "  reorder share of exec time: " + ("- (no primitive exec time logged)"
                                             if t["reorder_share"] is None
                                             else f"{100 * t['reorder_share']:.1f} %"),
        "  time resolution: " + (f"{res:g} ms (finest step printed; 0 prints as < {res:g})"
                                 if res is not None else "-"),
    ]
    if t["graph_exec_count"] or t["graph_compile_count"]:
        lines.append(f"  graph partitions: {t['graph_exec_count']} exec, "
                     f"{t['graph_exec_ms']:.3f} ms; {t['graph_compile_count']} compiled")
    return lines


def _time_table(title: str, summary: Any, top: int, resolution: float | None) -> list[str]:
    if not len(summary):
        return ["", f"{title}: no such lines in the log"]
    lines = ["", f"{title} ({min(top, len(summary))} of {len(summary)} groups):"]
    keys = list(summary.index.names)
    rows = []
    for idx, r in summary.head(top).iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        n = int(r["count"])
        rows.append([_shorten(str(v)) for v in idx] + [
            str(n), _ms(r["total_ms"], n, resolution), _ms(r["mean_ms"], n, resolution, 4),
            _ms(r["min_ms"], n, resolution, 4), _ms(r["max_ms"], n, resolution, 4),
            f"{r['percent']:.1f}"])
    return lines + format_table([*keys, "calls", "total ms", "mean ms", "min ms", "max ms", "%"],
                                rows, len(keys))


def _rejected(log: Any, show_all: bool) -> list[str]:
    bad = log.malformed
    if not bad:
        return []
    shown = bad if show_all else bad[:REJECTED_SHOWN]
    more = "" if len(shown) == len(bad) else \
        f"; first {len(shown)}, --show-rejected for all"
    lines = ["", f"Rejected lines ({len(bad)}{more}):"]
    width = len(str(shown[-1][0]))
    for n, reason, text in shown:
        lines += [f"  line {n:>{width}}: {reason}", f"{' ' * (width + 9)}{text!r}"]
    return lines


def format_summary(log: Any, summary: Any, by: str, top: int, path: str,
                   create_summary: Any = None, show_rejected: bool = False,
                   machine: dict[str, Any] | None = None) -> list[str]:
    t = log.totals()
    lines = _header(log, t, path, machine)
    res = log.resolution_ms
    tables = [(t["exec_ms"], _time_table(f"Exec time by {by}", summary, top, res))]
    if create_summary is not None and len(create_summary):
        tables.append((t["create_ms"], _time_table(f"Creation time by {by}", create_summary,
                                                   top, res)))
    if len(log.graph):  # graph-API partitions: their own lines, never in the primitives'
        from mxprof.onednn.verbose import summarize_graph
        tables.append((t["graph_exec_ms"], _time_table(
            "Graph API partitions by operation, ops, engine and partition id",
            summarize_graph(log.graph), top, res)))
    for _, table in sorted(tables, key=lambda x: -x[0]):  # the largest first
        lines += table
    flops = log.gflops()
    if len(flops):
        lines += ["", f"GFLOP/s (GOP/s for int8) of convolution / inner product / matmul "
                      f"(top {top} by time; FLOPs from the problem descriptor, time = sum of "
                      "exec ms):"]
        rows = [[k, _shorten(i, 28), _shorten(p, 56), str(int(r["calls"])), f"{r['total_ms']:.3f}",
                 "-" if r["gflops"] != r["gflops"] or r["total_ms"] == 0
                 else f"{r['gflops']:.2f}"]
                for (k, i, p), r in flops.head(top).iterrows()]
        lines += format_table(["kind", "impl", "problem", "calls", "total ms", "GFLOP/s"], rows, 3)
    return lines + _rejected(log, show_rejected)
