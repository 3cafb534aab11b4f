"""The report as GitHub-flavoured Markdown (for issues, pull requests, wikis)."""

from __future__ import annotations

from typing import Any

from mxprof.render.base import Renderer, as_dict
from mxprof.render.table_model import markdown_lines
from mxprof.render.tables import all_tables, closing_lines, header_lines


class MarkdownRenderer(Renderer):
    name = "markdown"
    extension = ".md"

    def render(self, report: Any) -> str:
        report = as_dict(report)  # a ProfileResult or its dict
        out = [f"# mxprof profile: {report['model']['name']}", ""]
        out += [f"- {line.split(None, 1)[0]}: {line.split(None, 1)[1]}"
                for line in header_lines(report)]
        for table in all_tables(report):
            out += ["", *markdown_lines(table)]
        closing = closing_lines(report)
        if closing:
            out += ["", *[f"- {line}" for line in closing]]
        return "\n".join(out) + "\n"


def write(result: Any, path: str) -> None:
    """`profile --markdown PATH` (mxprof.render.outputs): atomic, never half a report."""
    MarkdownRenderer().write(as_dict(result), path)
