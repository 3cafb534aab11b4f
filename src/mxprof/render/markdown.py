"""The report as GitHub-flavoured Markdown (for issues, pull requests, wikis)."""

from __future__ import annotations

from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.tables import all_tables, closing_lines, header_lines


def markdown_table(headers, rows, *, numeric_right: bool = False) -> list[str]:
    """A GitHub-flavoured Markdown table; `numeric_right` right-aligns all but the first column."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rule = "|---|" + ("---:|" if numeric_right else "---|") * (len(headers) - 1)
    return ["| " + " | ".join(cell(h) for h in headers) + " |", rule,
            *["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]]


class MarkdownRenderer(Renderer):
    name = "markdown"
    extension = ".md"

    def render(self, report: dict[str, Any]) -> str:
        out = [f"# mxprof profile: {report['model']['name']}", ""]
        out += [f"- {line.split(None, 1)[0]}: {line.split(None, 1)[1]}"
                for line in header_lines(report)]
        for table in all_tables(report):
            out += ["", f"## {table.title}", ""]
            out += markdown_table(table.headers, table.rows)
            if table.footnote:
                out += ["", f"_{table.footnote}_"]
        closing = closing_lines(report)
        if closing:
            out += ["", *[f"- {line}" for line in closing]]
        return "\n".join(out) + "\n"
