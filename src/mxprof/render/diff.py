"""`mxprof diff` as tables: terminal (rich), Markdown, and the lines both share.

`tables(result)` builds the report's `Table`s (mxprof.render.table_model) from a DiffResult:
environment differences, layers (A, B, B - A with its interval, A/B, significant, share,
roofline efficiency A -> B), layers of one side only, primitive changes, primitive totals,
findings of one side only. `header_lines` gives the headline and how the figures were pooled.
`render_terminal(result, color)` and `render_markdown(result)` return text; `write_markdown`
is the `--markdown PATH` writer (mxprof.render.outputs).
"""

from __future__ import annotations

import io
from typing import Any

from mxprof.jobs.diff.records import DiffResult, LayerDiff
from mxprof.render.base import environment_phrase
from mxprof.render.table_model import Table, markdown_lines, print_tables
from mxprof.timing.stats import ratio_text

TOP_LAYERS = 30


def _f(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def verdict(d: LayerDiff) -> str:
    if d.significant is None:
        return "no interval"
    if not d.significant:
        return "no"
    return "yes, slower" if d.diff_ms > 0 else "yes, faster"


def header_lines(r: DiffResult) -> list[str]:
    out = [f"{name}: {s.path} ({s.model}, {s.created or 'undated'}; "
           f"{environment_phrase(s.mxnet, s.onednn, s.cpu_model, s.cores, s.cpus, s.threads)})"
           for name, s in (("A", r.a), ("B", r.b))]
    la, lb = r.latency_ms
    lat = ratio_text(r.latency) if r.latency else "no interval (a file without timing samples)"
    out.append(f"latency bs=1: A {_f(la)} ms, B {_f(lb)} ms; B vs A: {lat}")
    ia, ib = r.images_per_s
    if ia is not None or ib is not None:
        thr = ratio_text(r.throughput) if r.throughput else "no interval"
        out.append(f"throughput: A {_f(ia, '.1f')} img/s, B {_f(ib, '.1f')} img/s; "
                   f"B vs A per image: {thr}")
    if r.layers:
        sig = [d for d in r.layers if d.significant]
        share = (f"; the significant layers explain {_pct(r.significant_share)} of it"
                 if r.significant_share is not None else "")
        out.append(f"layers: {len(r.layers)} matched by {r.match}, summed B - A "
                   f"{r.layers_diff_ms:+.3f} ms/iteration; {len(sig)} significant{share}")
    return out


def _layer_table(r: DiffResult) -> Table:
    rows = []
    for d in r.layers[:TOP_LAYERS]:
        name = d.name if not d.name_b else f"{d.name} = {d.name_b}"
        diff = f"{d.diff_ms:+.3f}"
        if d.diff_low is not None:
            diff += f" [{d.diff_low:+.3f},{d.diff_high:+.3f}]"
        ratio = "-" if d.ratio is None else f"{d.ratio:.2f}x"
        if d.ratio_low is not None:
            ratio += f" [{d.ratio_low:.2f}-{d.ratio_high:.2f}]"
        eff = ("-" if d.efficiency_a is None and d.efficiency_b is None
               else f"{_pct(d.efficiency_a)} -> {_pct(d.efficiency_b)}")
        rows.append((name, _f(d.ms_a), _f(d.ms_b), diff, ratio, verdict(d),
                     _pct(d.share), eff))
    more = len(r.layers) - TOP_LAYERS
    pooled = sorted({d.pooled for d in r.layers if d.pooled})
    note = (f"ms per iteration (median); sorted by |B - A|; [interval]: 95% for all "
            f"{len(r.layers)} layers at once; A/B above 1: B faster; share: of the summed B - A; "
            f"eff.: roofline efficiency; pooled: {'; '.join(pooled)}"
            + (f"; {more} more layers in --json" if more > 0 else ""))
    return Table("Layers, A vs B", ("layer", "A ms", "B ms", "B - A [interval]",
                                    "A/B [interval]", "significant", "share", "eff. A -> B"),
                 tuple(rows), footnote=note, align="lrrrrlrr")


def _env_table(r: DiffResult) -> Table | None:
    if not r.environment:
        return None
    return Table("Environment differences", ("what", "A", "B"),
                 tuple((e.what, e.a or "-", e.b or "-") for e in r.environment), align="lll")


def _one_sided_table(r: DiffResult) -> Table | None:
    rows = [(o.name, o.op or "-", "A only (fused away or removed)", _f(o.ms)) for o in r.only_a]
    rows += [(o.name, o.op or "-", "B only (added)", _f(o.ms)) for o in r.only_b]
    if not rows:
        return None
    return Table("Layers in one file only", ("layer", "op", "where", "ms"), tuple(rows),
                 align="lllr")


def _primitive_table(r: DiffResult) -> Table | None:
    if not r.primitives:
        return None
    rows = tuple((p.layer or "(outside layers)", p.what, p.kind or "-", p.a or "-", p.b or "-",
                  _f(p.ms_a), _f(p.ms_b)) for p in r.primitives)
    return Table("Primitive changes per layer", ("layer", "change", "kind", "A", "B", "A ms",
                                                 "B ms"), rows, align="llllllrr",
                 footnote="from each file's primitives pass (a few iterations with "
                          "DNNL_VERBOSE); ms per iteration")


def _totals_table(r: DiffResult) -> Table | None:
    t = r.primitive_totals
    if not t:
        return None
    rows = [(kind, _f(a), _f(b)) for kind, (a, b) in t.get("by_kind", {}).items()]
    for key, label in (("reorder_share", "reorder share of primitive time"),
                       ("create_count", "primitives created (verbose level 2)"),
                       ("create_ms", "creation ms"),
                       ("outside_reorders", "reorders outside every layer")):
        a, b = t.get(key) or (None, None)
        fmt = _pct if key == "reorder_share" else (lambda v: "-" if v is None else f"{v:g}")
        rows.append((label, fmt(a), fmt(b)))
    return Table("Primitive time by kind (ms per iteration)", ("kind", "A", "B"), tuple(rows))


def _findings_table(r: DiffResult) -> Table | None:
    if not r.findings:
        return None
    return Table("Findings in one file only", ("rule", "where", "title", "layers"),
                 tuple((f.rule, f.side, f.title, ", ".join(f.layers[:5]) or "-")
                       for f in r.findings), align="llll")


def tables(r: DiffResult) -> list[Table]:
    out = [_env_table(r), _layer_table(r) if r.layers else None, _one_sided_table(r),
           _primitive_table(r), _totals_table(r), _findings_table(r)]
    return [t for t in out if t is not None]


def closing_lines(r: DiffResult) -> list[str]:
    out = [f"note: {n}" for n in r.notes]
    if r.method:
        out.append(f"method: {r.method}")
    return out


def render_terminal(r: DiffResult, color: bool = False, width: int = 120) -> str:
    from rich.console import Console
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, width=width,
                      highlight=False)
    for line in header_lines(r):
        console.print(line, soft_wrap=True, markup=False)
    console.print()
    print_tables(console, tables(r))
    for line in closing_lines(r):
        console.print(line, soft_wrap=True, markup=False)
    return buf.getvalue()


def render_markdown(r: DiffResult) -> str:
    lines = [f"# mxprof diff: {r.a.model} A vs B", ""]
    lines += [f"- {line}" for line in header_lines(r)] + [""]
    for t in tables(r):
        lines += [*markdown_lines(t), ""]
    lines += [f"- {line}" for line in closing_lines(r)]
    return "\n".join(lines) + "\n"


def write_markdown(result: Any, path: str) -> None:
    from mxprof.jsonio import write_text
    write_text(path, render_markdown(result))
