"""The page shell every HTML report shares: CSS, tables that sort and filter, inline SVG charts.

A page is one file with nothing to fetch: the style and a few lines of plain script sit in the
head, and charts are matplotlib figures written as SVG into the page itself (text stays text,
so the page is small, searchable, sharp at any zoom and printable). Tables with the class
`sortable` sort on a header click (numbers by value, the rest alphabetically; a second click
reverses); a `<input data-filter=ID>` above a table hides the rows that do not contain its
text. Every chart sits in a `<figure class=chart>`, which the browser tests count.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

esc = html.escape

STYLE = """
:root { --fg: #1d1d1f; --muted: #666; --line: #d6d6d6; --head: #f2f2f2; --accent: #1f77b4; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
       max-width: 1180px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em;
     border-bottom: 1px solid var(--line); padding-bottom: 0.2em; }
.sub { color: var(--muted); margin-top: 0; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
th, td { border: 1px solid var(--line); padding: 0.25em 0.55em; vertical-align: top; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.t, th.t { text-align: left; }
th { background: var(--head); position: sticky; top: 0; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " \\25B2"; font-size: 0.7em; }
table.sortable th[aria-sort=descending]::after { content: " \\25BC"; font-size: 0.7em; }
.scroll { max-height: 32em; overflow: auto; display: inline-block; max-width: 100%; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 1em; margin: 0.5em 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; }
figure.chart { margin: 0.8em 0; } figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.85em; }
.warn { color: #a34700; } .bad { color: #b00020; font-weight: 600; }
input.filter { margin: 0.3em 0; padding: 0.2em 0.4em; width: 18em; }
ul.findings li { margin: 0.35em 0; }
@media print {
  body { max-width: none; margin: 0; font-size: 11px; }
  input.filter, .noprint { display: none; }
  .scroll { max-height: none; overflow: visible; }
  figure, table { break-inside: avoid; }
  th { position: static; }
}
"""

# Sorting and filtering, in plain script: no library to inline or fetch.
SCRIPT = """
function mxKey(td) {
  var v = td.getAttribute('data-v');
  if (v !== null) return parseFloat(v);
  var t = td.textContent.trim(), n = parseFloat(t.replace(/[,x%]/g, ''));
  return /^[-+]?[0-9.,]+(e[-+]?[0-9]+)?( ?[a-zA-Z%]*)?$/.test(t) && !isNaN(n) ? n : t.toLowerCase();
}
function mxSort(th) {
  var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
  var asc = th.getAttribute('aria-sort') !== 'ascending';
  Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute('aria-sort'); });
  th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = mxKey(a.cells[col]), y = mxKey(b.cells[col]);
    if (typeof x !== typeof y) { x = String(x); y = String(y); }
    return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
function mxFilter(input) {
  var body = document.getElementById(input.getAttribute('data-filter')).tBodies[0];
  var q = input.value.toLowerCase();
  Array.prototype.forEach.call(body.rows, function (r) {
    r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
  });
}
document.addEventListener('DOMContentLoaded', function () {
  document.querySelectorAll('table.sortable th').forEach(function (th) {
    th.addEventListener('click', function () { mxSort(th); });
  });
  document.querySelectorAll('input[data-filter]').forEach(function (input) {
    input.addEventListener('input', function () { mxFilter(input); });
  });
});
"""


class Num:
    """A table cell holding a number: shown as `text`, sorted by `value` (None sorts as -inf)."""

    __slots__ = ("text", "value")

    def __init__(self, value: float | None, fmt: str = "{:.3f}", text: str | None = None):
        self.value = value
        self.text = text if text is not None else ("-" if value is None else fmt.format(value))


def _cell(value: Any, tag: str = "td") -> str:
    if isinstance(value, Num):
        key = "-1e300" if value.value is None else repr(float(value.value))
        return f"<{tag} data-v='{key}'>{esc(value.text)}</{tag}>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _cell(Num(value, "{:,}" if isinstance(value, int) else "{:.3f}"), tag)
    text = "-" if value is None else str(value)
    return f"<{tag} class='t'>{esc(text)}</{tag}>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, id: str | None = None,
          sortable: bool = True, filterable: bool = False, scroll: bool = False) -> str:
    """An HTML table; cells are str (left-aligned), numbers or `Num` (right-aligned, sorted by
    value). `filterable` adds a text box above it (needs `id`)."""
    cls = " class='sortable'" if sortable else ""
    ident = f" id='{esc(id)}'" if id else ""
    out = []
    if filterable and id:
        out.append(f"<div><input class='filter' type='search' data-filter='{esc(id)}' "
                   f"placeholder='filter rows (name, op...)' aria-label='filter {esc(id)}'></div>")
    if scroll:
        out.append("<div class='scroll'>")
    out.append(f"<table{ident}{cls}><thead><tr>"
               + "".join(f"<th class='t'>{esc(h)}</th>" if i == 0 else f"<th>{esc(h)}</th>"
                         for i, h in enumerate(headers)) + "</tr></thead><tbody>")
    out += ["<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    if scroll:
        out.append("</div>")
    return "\n".join(out)


def kv(pairs: Iterable[tuple[str, Any]]) -> str:
    """A definition list of label/value pairs; None values are left out."""
    items = [f"<dt>{esc(k)}</dt><dd>{esc(str(v))}</dd>" for k, v in pairs if v is not None]
    return "<dl class='kv'>" + "".join(items) + "</dl>"


def bullets(lines: Iterable[str], cls: str = "") -> str:
    items = [f"<li>{esc(line)}</li>" for line in lines if line]
    if not items:
        return ""
    return f"<ul class='{cls}'>" + "".join(items) + "</ul>" if cls else "<ul>" + "".join(items) + "</ul>"


def section(title: str, *parts: str, id: str | None = None) -> str:
    body = "\n".join(p for p in parts if p)
    if not body:
        return ""
    ident = f" id='s-{esc(id)}'" if id else ""  # tables own the bare ids
    return f"<section{ident}><h2>{esc(title)}</h2>\n{body}\n</section>"


def page(title: str, subtitle: str, sections: Iterable[str]) -> str:
    """The whole document: head with style and script, a title, then the non-empty sections."""
    body = "\n".join(s for s in sections if s)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>\n"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n<script>{SCRIPT}</script>\n"
            f"</head><body>\n<h1>{esc(title)}</h1>\n<p class='sub'>{esc(subtitle)}</p>\n"
            f"{body}\n</body></html>\n")


# --- charts -------------------------------------------------------------------------------

def pyplot():
    """matplotlib's pyplot on the Agg backend (no display), with fixed SVG ids so that the same
    report gives the same page byte for byte."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "mxprof",
                                "font.size": 9, "axes.spines.top": False,
                                "axes.spines.right": False})
    return plt


_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.S)


def figure(fig, caption: str, alt: str | None = None) -> str:
    """A matplotlib figure as an inline SVG inside <figure class=chart>; closes the figure."""
    plt = pyplot()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    svg = _XML_HEAD.sub("", buf.getvalue(), count=1)
    label = esc(alt or caption)
    svg = svg.replace("<svg ", f"<svg role='img' aria-label='{label}' ", 1)
    return f"<figure class='chart'>{svg}<figcaption>{esc(caption)}</figcaption></figure>"


def short_names(names: Sequence[str]) -> tuple[str, list[str]]:
    """Layer names without the prefix they all share (`resnetv10_`), cut after an underscore."""
    if len(names) < 2:
        return "", list(names)
    prefix = min(names, key=len)
    for name in names:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    prefix = prefix[: prefix.rfind("_") + 1]
    return prefix, [n[len(prefix):] or n for n in names]


def fmt(value: float | None, spec: str = ".3f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"
