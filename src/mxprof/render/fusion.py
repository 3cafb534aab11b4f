"""Fusion report renderers: terminal (rich), Markdown, and the one-line summary for `profile`.

All of them read the JSON-ready dict that `mxprof.jobs.fusion.run.run_fusion` returns (or a saved
`--json` file), so recording and viewing stay separate steps.
"""

from __future__ import annotations

import io

from mxprof.jobs.fusion.run import summary_line  # noqa: F401 (re-used by the renderer)


def _n(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _lat(d: dict, stats: dict | None = None) -> str:
    ci = (f", 95% CI of median {_n(stats['ci95_low'], '.3f')}-{_n(stats['ci95_high'], '.3f')}"
          if stats else "")
    return (f"{_n(d['median'], '.3f')} ms (IQR {_n(d['q1'], '.3f')}-{_n(d['q3'], '.3f')}"
            f"{ci}, n={d['n']})")


def _common_prefix(names: list[str]) -> str:
    """The model's name prefix shared by every layer (`resnetv10_`), cut after an underscore."""
    if len(names) < 2:
        return ""
    prefix = min(names, key=len)
    for name in names:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix[: prefix.rfind("_") + 1]


def _left(pattern_effect: dict) -> str:
    left = ", ".join(f"{k} x{v}" for k, v in pattern_effect["patterns"].items())
    if not pattern_effect.get("graph_changed", True):
        return f"graph unchanged ({left}): the difference is run-to-run noise"
    return left


def _nodes(finding: dict) -> str:
    return f"Nodes: {', '.join(finding['nodes'])}." if finding["nodes"] else ""


def _gain(report: dict) -> str:
    lo, hi = report["gain_percent_range"]
    verdict = "" if report["gain_clear"] else ", within noise"
    if report.get("worker_noise_ms") is not None:
        verdict += f"; worker-to-worker noise {_n(report['worker_noise_ms'], '.3f')} ms"
    ratio = report.get("gain_ratio")
    if ratio:  # the interval over worker rounds and calls replaces the CI-overlap verdict
        return (f"gain {_n(report['gain_ms'], '+.3f')} ms ({_n(report['gain_percent'], '+.1f')}%); "
                f"unfused/fused latency {ratio['text']}")
    return (f"gain {_n(report['gain_ms'], '+.3f')} ms ({_n(report['gain_percent'], '+.1f')}%, "
            f"{lo:+.1f}% to {hi:+.1f}% between the 95% CIs of the medians{verdict})")


def _cost(report: dict, p: dict) -> str:
    """A switch's cost, or 'no significant difference' when its interval contains 1."""
    ratio = (report.get("pattern_ratios") or {}).get(p["switch"])
    if ratio and not ratio["significant"]:
        return "no significant difference"
    return f"{_n(p['cost_ms'], '+.3f')} ms" + ("" if p.get("clear", True) else " ~")


def _cell(g: dict, key: str) -> str:
    s = g[f"{key}_spread"]
    return f"{_n(s['median'], '.3f')} ({_n(s['q1'], '.3f')}-{_n(s['q3'], '.3f')})"




def _header_lines(report: dict) -> list[str]:
    env = report["environment"]
    shape = "x".join(str(d) for d in report["input_shape"])
    how = ("optimize_for(backend='MKLDNN')" if report["path"] == "gluon"
           else "MXNET_SUBGRAPH_BACKEND=MKLDNN (symbolic executor)")
    static = ("executor bound once" if report["path"] == "symbolic" else
              "static_alloc+static_shape" if report["static"] else "no static_alloc/static_shape")
    weights = env.get("weights")
    note = (", random weights (timing valid, accuracy not)" if weights == "random"
            else f", {weights} weights" if weights else "")
    return [
        f"model {report['model']}, input {shape}{note}, fused with {how}, {static}",
        f"MXNet {env['mxnet']}, {env['onednn'] or 'oneDNN version unknown'}, "
        f"ISA {env['isa'] or '?'}; CPU {env['cpu']}; {env['threads'] or '?'} OpenMP threads "
        f"(read in the worker) on CPUs {env.get('allowed_cpus') or '?'} of "
        f"{env['logical_cpus']} logical CPUs",
        f"latency: {report['protocol']['latency']}",
        f"groups: {report['protocol']['groups']}",
    ]


def _primitive_line(report: dict) -> str:
    p = report["primitive_ms"]
    return (f"oneDNN primitive time per call (traced runs): unfused "
            f"{_n(p['unfused'], '.3f')} ms, fused {_n(p['fused'], '.3f')} ms; "
            "the rest of the latency is framework overhead")


def render_terminal(report: dict, width: int = 160) -> str:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    console.print(f"[bold]Fusion report[/bold]: {escape(str(report['model']))}")
    for line in _header_lines(report):
        console.print(line, highlight=False, markup=False)
    stats = report.get("latency_stats", {})
    console.print(f"unfused {_lat(report['unfused_latency'], stats.get('unfused'))}; fused "
                  f"{_lat(report['fused_latency'], stats.get('fused'))}; {_gain(report)}",
                  highlight=False)
    for label, st in stats.items():
        for w in st["warnings"]:
            console.print(escape(f"{label} latency: {w}"), highlight=False)
    console.print(_primitive_line(report), highlight=False)

    table = Table(title="fused groups (oneDNN primitive ms per iteration; ~ = IQRs overlap)",
                  show_lines=False)
    prefix = _common_prefix([m for g in report["groups"] for m in g["members"]])
    members_title = f"members ({prefix}...)" if prefix else "members"
    for col in ("fused node", "pattern", members_title, "unfused (IQR)", "fused (IQR)",
                "gain ms", "gain %"):
        table.add_column(col, overflow="fold")
    # "why" takes what is left and wraps: a fixed minimum made rich crop whole rows at the
    # console width, cutting the reason off mid-word.
    table.add_column("why", ratio=1, overflow="fold")
    for g in report["groups"]:
        table.add_row(Text(g["fused_node"]), Text(g["pattern"]),
                      Text("\n".join(m[len(prefix):] for m in g["members"])),
                      _cell(g, "unfused"), _cell(g, "fused"), _n(g["gain_ms"], "+.3f"),
                      _n(g["gain_percent"], "+.1f") + ("" if g["clear"] else " ~"),
                      Text(g["reason"]))
    console.print(table)
    cov = report["coverage"]
    console.print(f"{cov['grouped_layers']} layers fused into {len(report['groups'])} nodes; "
                  f"left unfused: {', '.join(cov['unfused_layers']) or 'none'}; removed: "
                  f"{', '.join(cov['removed_layers']) or 'none'}", highlight=False)

    bp = Table(title="primitive ms per call by pattern (groups summed)")
    for col in ("pattern", "groups", "unfused", "fused", "gain ms", "gain %"):
        bp.add_column(col)
    for r in report["pattern_groups"]:
        bp.add_row(r["pattern"], str(r["groups"]), _n(r["unfused_ms"], ".3f"),
                   _n(r["fused_ms"], ".3f"), _n(r["gain_ms"], "+.3f"),
                   _n(r["gain_percent"], "+.1f"))
    console.print(bp)
    if report["patterns"]:
        pt = Table(title="fusion switches off one at a time (latency; ~ = within the noise: "
                         "CIs overlap or below worker-to-worker noise)")
        for col in ("switch", "latency off, ms (IQR)", "fused, paired run", "costs when off",
                    "patterns left"):
            pt.add_column(col, overflow="fold")
        for p in report["patterns"]:
            lat = p["latency"]
            pt.add_row(p["switch"], _cell({"latency_spread": lat}, "latency"),
                       _n(p.get("fused_paired_ms"), ".3f"),
                       _cost(report, p), _left(p))
        console.print(pt)
    for f in report["failed_workers"]:
        console.print(escape(f"failed worker {f['label']}: {f['error']}"), highlight=False)
    console.print("[bold]diagnosis[/bold]" if report["findings"]
                  else "diagnosis: no problem found in the primitive logs")
    for f in report["findings"]:
        text = (f"- [{f['severity']}] {f['title']} ({f['graph']} graph): {f['evidence']}. "
                f"{_nodes(f)}\n  Fix: {f['fix']}")
        console.print(escape(text), highlight=False)
    return buf.getvalue()


def render_markdown(report: dict) -> str:
    out = [f"# Fusion report: {report['model']}", ""]
    out += [f"- {line}" for line in _header_lines(report)]
    out += ["", "| | latency ms (median) | IQR | n |", "|---|---|---|---|"]
    for label, key in (("unfused", "unfused_latency"), ("fused", "fused_latency")):
        d = report[key]
        out.append(f"| {label} | {_n(d['median'], '.3f')} | {_n(d['q1'], '.3f')}-"
                   f"{_n(d['q3'], '.3f')} | {d['n']} |")
    out += ["", f"G{_gain(report)[1:]}. "
            + _primitive_line(report), "",
            "## Fused groups", "",
            "| fused node | pattern | members | unfused ms (IQR) | fused ms (IQR) | gain ms | "
            "gain % (~ = IQRs overlap) | why |",
            "|---|---|---|---|---|---|---|---|"]
    for g in report["groups"]:
        out.append(f"| {g['fused_node']} | {g['pattern']} | {'<br>'.join(g['members'])} | "
                   f"{_cell(g, 'unfused')} | {_cell(g, 'fused')} | {_n(g['gain_ms'], '+.3f')} | "
                   f"{_n(g['gain_percent'], '+.1f')}{'' if g['clear'] else ' ~'} | {g['reason']} |")
    cov = report["coverage"]
    out += ["", f"Left unfused: {', '.join(cov['unfused_layers']) or 'none'}. "
            f"Removed: {', '.join(cov['removed_layers']) or 'none'}."]
    out += ["", "## Primitive time by fusion pattern", "",
            "| pattern | groups | unfused ms | fused ms | gain ms | gain % |",
            "|---|---|---|---|---|---|"]
    out += [f"| {r['pattern']} | {r['groups']} | {_n(r['unfused_ms'], '.3f')} | "
            f"{_n(r['fused_ms'], '.3f')} | {_n(r['gain_ms'], '+.3f')} | "
            f"{_n(r['gain_percent'], '+.1f')} |" for r in report["pattern_groups"]]
    if report["patterns"]:
        out += ["", "## Patterns switched off one at a time", "",
                "| switch | latency off ms | IQR | fused, paired run ms | costs when off | "
                "patterns left |", "|---|---|---|---|---|---|"]
        for p in report["patterns"]:
            lat = p["latency"]
            left = _left(p)
            out.append(f"| {p['switch']} | {_n(lat['median'], '.3f')} | {_n(lat['q1'], '.3f')}-"
                       f"{_n(lat['q3'], '.3f')} | {_n(p.get('fused_paired_ms'), '.3f')} | "
                       f"{_cost(report, p)} | {left} |")
    out += ["", "## Diagnosis", ""]
    if not report["findings"]:
        out.append("No problem found in the primitive logs.")
    for f in report["findings"]:
        out.append(f"- **{f['severity']}: {f['title']}** ({f['graph']} graph): {f['evidence']}. "
                   f"{_nodes(f)} Fix: {f['fix']}")
    for f in report["failed_workers"]:
        out.append(f"- failed worker {f['label']}: {f['error']}")
    return "\n".join(out) + "\n"
