"""The report as rich tables for a terminal (colour only when writing to one)."""

from __future__ import annotations

import io
from typing import Any

from mxprof.render.base import Renderer, as_dict
from mxprof.render.table_model import print_tables
from mxprof.render.tables import all_tables, closing_lines, header_lines


class TerminalRenderer(Renderer):
    name = "terminal"
    extension = ".txt"

    def __init__(self, color: bool = False, width: int = 110):
        self.color = color
        self.width = width

    def render(self, report: Any) -> str:
        report = as_dict(report)  # a ProfileResult or its dict
        from rich.console import Console
        from rich.markup import escape

        buf = io.StringIO()
        console = Console(file=buf, force_terminal=self.color, no_color=not self.color,
                          width=self.width, highlight=False)
        for line in header_lines(report):
            key, _, rest = line.partition(" ")
            # Model names and paths are the user's text: `[v2]` is not markup.
            console.print(f"[bold]{escape(key)}[/bold] {escape(rest.strip())}", soft_wrap=True)
        print_tables(console, all_tables(report))
        for line in closing_lines(report):
            console.print(line, soft_wrap=True, markup=False)
        return buf.getvalue()
