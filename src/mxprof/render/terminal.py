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
        from rich.table import Table as RichTable

        buf = io.StringIO()
        console = Console(file=buf, force_terminal=self.color, no_color=not self.color,
                          width=self.width, highlight=False)
        for line in header_lines(report):
            key, _, rest = line.partition(" ")
            console.print(f"[bold]{key}[/bold] {rest.strip()}", soft_wrap=True)
        for t in all_tables(report):
            table = RichTable(title=t.title, title_justify="left", caption=t.footnote or None,
                              caption_justify="left")
            for i, h in enumerate(t.headers):
                table.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
            for row in t.rows:
                table.add_row(*row)
            console.print()
            console.print(table)
        for line in closing_lines(report):
            console.print(line, soft_wrap=True, markup=False)
        return buf.getvalue()
