"""Compare reports as text: the reference layout in the terminal (rich) and in Markdown.

A compare report is the compare job's CompareResult (mxprof.jobs.compare) as its dict:
{"kind": "compare", "rows": [...], "notes": [...]} (older files: "mxprof-compare"), its rows
from `mxprof.jobs.compare.rows.rows`.
"""

from __future__ import annotations

import io
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.compare_table import layout, page_table, stacked_table, table
from mxprof.render.table_model import Table, markdown_lines, print_wide, rich_table


def _notes(report: dict[str, Any]) -> list[str]:
    return list(report.get("notes") or ())


class CompareTerminalRenderer(Renderer):
    name = "compare-terminal"
    extension = ".txt"

    def __init__(self, color: bool = False, width: int = 160):
        self.color = color
        self.width = width

    def render(self, report: dict[str, Any]) -> str:
        from rich.console import Console

        lay = layout(report["rows"])
        t = table(lay)
        if len(lay.groups) > 1 and _width(t) > self.width:
            t = stacked_table(lay)  # column groups side by side would wrap every cell
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=self.color, no_color=not self.color,
                          width=self.width, highlight=False)
        print_wide(console, rich_table(t, caption=False))
        for line in [*t.footnote.splitlines(), *_notes(report)]:
            console.print(line, soft_wrap=True, markup=False)
        return buf.getvalue()


def _width(t: Table) -> int:
    """Characters a rich table needs: widest cell per column plus borders and padding."""
    columns = zip(t.headers, *t.rows)
    return sum(max(len(c) for c in col) + 3 for col in columns) + 1


class CompareMarkdownRenderer(Renderer):
    name = "compare-markdown"
    extension = ".md"

    def render(self, report: dict[str, Any]) -> str:
        t = page_table(layout(report["rows"]))
        out = [*markdown_lines(t, footnote=False), ""]
        out += [f"- {line}" for line in [*t.footnote.splitlines(), *_notes(report)]]
        return "\n".join(out) + "\n"


def write_markdown(result, path: str) -> None:
    """`--markdown PATH` of a compare (or merge) result (mxprof.render.outputs)."""
    from mxprof.render.base import as_dict
    CompareMarkdownRenderer().write(as_dict(result), path)
