"""Renderers for profile reports, chosen by name: terminal, json, markdown, trace, html.

Each takes the profile job's record (mxprof.jobs.profile.records.ProfileResult) or its dict.
Which files a result kind can be written as, and by which writer, is declared once in
mxprof.render.outputs; the commands write through that table (mxprof.commands._outputs).
"""

from __future__ import annotations

from mxprof.render.base import Renderer
from mxprof.render.html import HtmlRenderer
from mxprof.render.json_ import JsonRenderer
from mxprof.render.markdown import MarkdownRenderer
from mxprof.render.terminal import TerminalRenderer
from mxprof.render.trace import TraceRenderer

RENDERERS: dict[str, type[Renderer]] = {
    r.name: r for r in (TerminalRenderer, JsonRenderer, MarkdownRenderer, TraceRenderer,
                                 HtmlRenderer)
}


def get_renderer(name: str, **options) -> Renderer:
    try:
        return RENDERERS[name](**options)
    except KeyError:
        raise ValueError(f"unknown renderer {name!r}; choose from {', '.join(RENDERERS)}") from None


__all__ = ["RENDERERS", "Renderer", "get_renderer"]
