"""The report as rich tables for a terminal (colour only when writing to one)."""

from __future__ import annotations

import io
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.tables import all_tables, closing_lines, header_lines


class TerminalRenderer(Renderer):
    name = "terminal"
    extension = ".txt"

    def __init__(self, color: bool = False, width: int = 110):
        self.color = color
        self.width = width

    def render(self, report: dict[str, Any]) -> str:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table as RichTable
        from rich.text import Text

        buf = io.StringIO()
        console = Console(file=buf, force_terminal=self.color, no_color=not self.color,
                          width=self.width, highlight=False)
        for line in header_lines(report):
            key, _, rest = line.partition(" ")
            # Model names and paths are the user's text: `[v2]` is not markup.
            console.print(f"[bold]{escape(key)}[/bold] {escape(rest.strip())}", soft_wrap=True)
        for t in all_tables(report):
            table = RichTable(title=Text(t.title) if t.title else None, title_justify="left",
                              caption=Text(t.footnote) if t.footnote else None,
                              caption_justify="left")
            for i, h in enumerate(t.headers):
                table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
            for row in t.rows:
                table.add_row(*(Text(c) if isinstance(c, str) else c for c in row))
            console.print()
            console.print(table)
        for line in closing_lines(report):
            console.print(line, soft_wrap=True, markup=False)
        return buf.getvalue()
