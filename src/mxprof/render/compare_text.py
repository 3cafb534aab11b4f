"""Compare reports as text: the reference layout in the terminal (rich) and in Markdown.

A compare report is the dict `mxprof.commands.compare` builds: {"kind": "mxprof-compare",
"rows": [...], "notes": [...]}, its rows from `mxprof.jobs.compare.plan.rows`.
"""

from __future__ import annotations

import io
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.compare_table import Table, layout, page_table, stacked_table, table
from mxprof.render.markdown import markdown_table


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
        from rich.table import Table as RichTable

        lay = layout(report["rows"])
        t = table(lay)
        if len(lay.groups) > 1 and _width(t) > self.width:
            t = stacked_table(lay)  # column groups side by side would wrap every cell
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=self.color, no_color=not self.color,
                          width=self.width, highlight=False)
        from rich.text import Text
        rich_table = RichTable(title=Text(t.title) if t.title else None, title_justify="left",
                               expand=False)
        for i, h in enumerate(t.headers):
            rich_table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
        for row in t.rows:
            rich_table.add_row(*(Text(c) if isinstance(c, str) else c for c in row))
        console.print(rich_table)
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
        out = [f"## {t.title}", ""]
        out += markdown_table(t.headers, t.rows, numeric_right=True)
        out.append("")
        out += [f"- {line}" for line in [*t.footnote.splitlines(), *_notes(report)]]
        return "\n".join(out) + "\n"
