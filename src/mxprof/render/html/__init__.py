"""One self-contained HTML page per result: profile, fusion, accuracy, compare and merge.

`render_page(result, kind=None) -> str` picks the page by the result's own `kind` (the field
every Result carries, mxprof.jobs.contract), never by guessing from its keys; `kind` names it
for a dict that has none (a profile report written before it did). `write_page(result, path)`
writes it: the `--html PATH` writer of every kind (mxprof.render.outputs). Results may be the
job's Structs or their JSON dicts; which kind an old file without `kind` is, is the loader's
question (mxprof.jobs.results.kind_of_file), asked once when it is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.html.compare import CompareHtmlRenderer

KINDS = ("profile", "fusion", "accuracy", "compare")
# The compare file's kind before it was "compare" (merge writes the same kind).
_OLD_NAMES = {"mxprof-compare": "compare"}


def result_kind(result: Any, kind: str | None = None) -> str:
    """The kind of `result`: `kind` when given, else its `kind` field (ValueError without)."""
    found = kind or getattr(result, "kind", None) or (
        result.get("kind") if isinstance(result, dict) else None)
    found = _OLD_NAMES.get(found, found)
    if found not in KINDS:
        raise ValueError(f"not an mxprof result with a page: kind {found!r} "
                         f"(pages exist for {', '.join(KINDS)})")
    return found


def render_page(result: Any, kind: str | None = None) -> str:
    kind = result_kind(result, kind)
    if kind == "profile":
        from mxprof.render.html.profile import render
    elif kind == "fusion":
        from mxprof.render.html.fusion import render
    elif kind == "accuracy":
        from mxprof.render.html.accuracy import render
    else:
        from mxprof.render.html.compare import render
    if kind in ("fusion", "compare") and hasattr(result, "to_dict"):
        result = result.to_dict()
    return render(result)


def write_page(result: Any, path: str | Path, kind: str | None = None) -> None:
    """Write the page of `result` to `path`, atomically (OSError when it cannot be written)."""
    from mxprof.workers.jsonio import write_text
    write_text(path, render_page(result, kind))


class HtmlRenderer(Renderer):
    """The profile renderer registry's entry: `get_renderer("html")`."""

    name = "html"
    extension = ".html"

    def render(self, report: dict[str, Any]) -> str:
        return render_page(report, "profile")


__all__ = ["KINDS", "CompareHtmlRenderer", "HtmlRenderer", "render_page", "result_kind",
           "write_page"]
