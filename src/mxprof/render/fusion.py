"""Fusion report renderers: terminal (rich) and Markdown, through the one table model.

Both take the job's FusionResult (mxprof.jobs.fusion.records; or a saved `--json` file's dict,
brought up to date by `mxprof.jobs.fusion.report.upgrade`), build the same
`Table`s (`mxprof.render.table_model`) and differ only in how they print them. Latencies show
the one spread display: the median with its 95% interval.
"""

from __future__ import annotations

import io

from mxprof.jobs.fusion.report import upgrade
from mxprof.render.base import as_dict
from mxprof.render.table_model import (
    Table,
    ci_cell,
    markdown_lines,
    median_ci_cell,
    print_tables,
)
from mxprof.render.tables import ratio_ci_cell
from mxprof.timing.stats import ratio_text


def _n(value, spec: str) -> str:
    return "n/a" if value is None or value != value else format(value, spec)


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
    nodes = finding.get("layers") or finding.get("nodes")
    return f"Nodes: {', '.join(nodes)}." if nodes else ""


def gain_text(report: dict) -> str:
    """The total gain, with the unfused/fused ratio's 95% interval when the file has one."""
    text = f"gain {_n(report['gain_ms'], '+.3f')} ms ({_n(report['gain_percent'], '+.1f')}%)"
    ratio = report.get("gain_ratio")
    return f"{text}; unfused/fused latency {ratio_text(ratio)}" if ratio else text


def _cost(report: dict, p: dict) -> str:
    """A switch's cost, or 'no significant difference' when its interval contains 1."""
    ratio = (report.get("pattern_ratios") or {}).get(p["switch"])
    if ratio and not ratio["significant"]:
        return "no significant difference"
    return f"{_n(p['cost_ms'], '+.3f')} ms" + ("" if p.get("clear", True) else " ~")


def header_lines(report: dict) -> list[str]:
    env = report["environment"]
    shape = "x".join(str(d) for d in report["input_shape"])
    how = ("optimize_for(backend='MKLDNN')" if report["path"] == "gluon"
           else "MXNET_SUBGRAPH_BACKEND=MKLDNN (symbolic executor)")
    static = ("executor bound once" if report["path"] == "symbolic" else
              "static_alloc+static_shape" if report["static"] else "no static_alloc/static_shape")
    weights = env.get("weights")
    note = (", random weights (timing valid, accuracy not)" if weights == "random"
            else f", {weights} weights" if weights else "")
    wait = (env.get("wait_policy") or {}).get("policy") or "not recorded"
    return [
        f"model {report['model']}, input {shape}{note}, fused with {how}, {static}",
        f"MXNet {env['mxnet']}, {env['onednn'] or 'oneDNN version unknown'}, "
        f"ISA {env['isa'] or '?'}; CPU {env['cpu']}; {env['threads'] or '?'} OpenMP threads "
        f"(read in the worker{'; ' + env['threads_why'] if env.get('threads_why') else ''}) on "
        f"CPUs {env.get('allowed_cpus') or '?'} of {env['logical_cpus']} logical CPUs "
        f"({env.get('physical_cores') or '?'} physical cores), OpenMP wait policy {wait}",
        f"latency: {report['protocol']['latency']}",
        f"groups: {report['protocol']['groups']}",
    ]


def _primitive_line(report: dict) -> str:
    p = report.get("primitive_ms") or {}
    if not p:
        return "oneDNN primitive time: not traced"
    return (f"oneDNN primitive time per call (traced runs): unfused "
            f"{_n(p['unfused'], '.3f')} ms, fused {_n(p['fused'], '.3f')} ms; "
            "the rest of the latency is framework overhead")


def latency_table(report: dict) -> Table:
    rows = []
    for side in ("unfused", "fused"):
        s = report[f"{side}_latency"] or {}
        rows.append((side, _n(s.get("median"), ".3f"), ci_cell(s, 3), _n(s.get("p90"), ".3f"),
                     str(s.get("n", "-")), str(s.get("processes") or 1)))
    lat = report.get("unfused_latency") or {}
    foot = [gain_text(report), _primitive_line(report)]
    if lat.get("ci_method"):
        foot.append(f"95% CI of the median: {lat['ci_method']}")
    return Table(f"Latency, unfused vs fused (batch {report['input_shape'][0]})",
                 ("", "median ms", "95% CI ms", "p90 ms", "n", "processes"), tuple(rows),
                 "\n".join(foot))


def group_table(report: dict) -> Table:
    prefix = _common_prefix([m for g in report["groups"] for m in g["members"]])
    rows = tuple(
        (g["fused_node"], g["pattern"], "\n".join(m[len(prefix):] for m in g["members"]),
         median_ci_cell(g.get("unfused_spread"), 3), median_ci_cell(g.get("fused_spread"), 3),
         _n(g["gain_ms"], "+.3f"), _n(g["gain_percent"], "+.1f") + ("" if g["clear"] else " ~"),
         ratio_ci_cell(g.get("gain_ratio")), g["reason"])
        for g in report["groups"])
    cov = report["coverage"]
    foot = (f"{cov['grouped_layers']} layers fused into {len(report['groups'])} nodes; left "
            f"unfused: {', '.join(cov['unfused_layers']) or 'none'}; removed: "
            f"{', '.join(cov['removed_layers']) or 'none'}")
    return Table("Fused groups (oneDNN primitive ms per iteration, median [95% CI]; "
                 "~ = no significant difference)",
                 ("fused node", "pattern", f"members ({prefix}...)" if prefix else "members",
                  "unfused ms", "fused ms", "gain ms", "gain %", "unfused/fused [95% CI]",
                  "why"), rows, foot, align="lllrrrrrl")


def gain_ratio_cell(row: dict) -> str:
    """A pattern's gain ratio with its 95% interval ('n.s.' when it contains 1); why there is
    none when the log cannot carry one; a dash for files written before pattern ratios."""
    ratio = row.get("gain_ratio")
    if ratio:
        return ratio_ci_cell(ratio)
    return "no figure (log resolution)" if row.get("implausible") else "-"


def _unclear(row: dict) -> str:
    """' ~' after a gain whose interval contains no change, as the groups table marks it (a
    row without an interval has none: its ratio cell says why)."""
    ratio = row.get("gain_ratio")
    return " ~" if ratio and not ratio["significant"] else ""


def pattern_group_table(report: dict) -> Table:
    rows = tuple((r["pattern"], str(r["groups"]), _n(r["unfused_ms"], ".3f"),
                  _n(r["fused_ms"], ".3f"), _n(r["gain_ms"], "+.3f"),
                  _n(r["gain_percent"], "+.1f") + _unclear(r), gain_ratio_cell(r))
                 for r in report["pattern_groups"])
    foot = ("" if all(r.get("gain_ratio") for r in report["pattern_groups"]) else
            "'-': no interval recorded for this sum; each group's is in the table above")
    return Table("Primitive ms per call by pattern (median of the groups' sum per iteration; "
                 "~ = no significant difference)",
                 ("pattern", "groups", "unfused ms", "fused ms", "gain ms", "gain %",
                  "unfused/fused [95% CI]"), rows, foot)


def switch_table(report: dict) -> Table | None:
    if not report["patterns"]:
        return None
    ratios = report.get("pattern_ratios") or {}
    rows = tuple((p["switch"], median_ci_cell(p["latency"], 3),
                  _n(p.get("fused_paired_ms"), ".3f"), str(p.get("processes") or 1),
                  _cost(report, p), ratio_ci_cell(ratios.get(p["switch"])), _left(p))
                 for p in report["patterns"])
    return Table("Fusion switches off one at a time (latency; ~ = no significant difference)",
                 ("switch", "latency off ms [95% CI]", "fused ms (same rounds)", "processes",
                  "costs when off", "off/fused [95% CI]", "patterns left"), rows,
                 align="lrrrrrl")


def tables(report: dict) -> list[Table]:
    if report.get("complete") is False:  # stopped early: only what was timed
        return [latency_table(report)]
    out = [latency_table(report), group_table(report), pattern_group_table(report),
           switch_table(report)]
    return [t for t in out if t is not None]


def warning_lines(report: dict) -> list[str]:
    lines = []
    for side in ("unfused", "fused"):
        lines += [f"{side} latency: {w}"
                  for w in (report[f"{side}_latency"] or {}).get("warnings") or ()]
    lines += [f"failed worker {f['label']}: {f['error']}" for f in report["failed_workers"]]
    return lines


def finding_lines(report: dict) -> list[str]:
    return [f"[{f['severity']}] {f['title']} ({f['graph']} graph): {f['evidence']}. "
            f"{_nodes(f)} Fix: {f['fix']}" for f in report["findings"]]


def render_terminal(report, width: int = 160) -> str:
    from rich.console import Console
    from rich.markup import escape

    report = upgrade(as_dict(report))
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    console.print(f"[bold]Fusion report[/bold]: {escape(str(report['model']))}")
    for line in header_lines(report):
        console.print(line, highlight=False, markup=False)
    print_tables(console, tables(report))
    for line in warning_lines(report):
        console.print(line, highlight=False, markup=False)
    if report.get("complete") is False:
        console.print(f"partial report: {report.get('summary')}", highlight=False,
                      markup=False)
        return buf.getvalue()
    console.print("[bold]diagnosis[/bold]" if report["findings"]
                  else "diagnosis: no problem found in the primitive logs")
    for line in finding_lines(report):
        console.print(f"- {line}", highlight=False, markup=False)
    return buf.getvalue()


def render_markdown(report) -> str:
    report = upgrade(as_dict(report))
    out = [f"# Fusion report: {report['model']}", ""]
    out += [f"- {line}" for line in header_lines(report)]
    for t in tables(report):
        out += ["", *markdown_lines(t)]
    if report.get("complete") is False:
        return "\n".join([*out, "", f"Partial report: {report.get('summary')}",
                          *[f"- {line}" for line in warning_lines(report)]]) + "\n"
    out += ["", "## Diagnosis", ""]
    if not report["findings"]:
        out.append("No problem found in the primitive logs.")
    out += [f"- {line}" for line in finding_lines(report) + warning_lines(report)]
    return "\n".join(out) + "\n"


def write_markdown(result, path: str) -> None:
    """`--markdown PATH` (mxprof.render.outputs), written atomically."""
    from mxprof.jsonio import write_text
    write_text(path, render_markdown(result))
