"""One self-contained HTML page per report: profile, fusion, accuracy, compare and merge.

`render_page(report) -> str` picks the page from the report's own keys (`kind_of`), and
`write_page(report, path)` writes it; commands call the latter for `--html PATH`. Accuracy
reports may be given as `AccuracyReport` records or their JSON dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.html.compare import CompareHtmlRenderer

KINDS = ("profile", "fusion", "accuracy", "compare")


def kind_of(report: Any) -> str:
    """Which report this is: "profile", "fusion", "accuracy" or "compare" (ValueError else)."""
    if hasattr(report, "to_dict") and hasattr(report, "comparisons"):
        return "accuracy"
    if not isinstance(report, dict):
        raise ValueError(f"not an mxprof report: {type(report).__name__}")
    if report.get("kind") == "fusion":
        return "fusion"
    if "comparisons" in report and "configs" in report:
        return "accuracy"
    if "rows" in report:
        return "compare"
    if "latency_ms" in report and "model" in report:
        return "profile"
    raise ValueError("not an mxprof report: no profile, fusion, accuracy or compare keys")


def render_page(report: Any) -> str:
    kind = kind_of(report)
    if kind == "profile":
        from mxprof.render.html.profile import render
    elif kind == "fusion":
        from mxprof.render.html.fusion import render
    elif kind == "accuracy":
        from mxprof.render.html.accuracy import render
    else:
        from mxprof.render.html.compare import render
    return render(report)


def write_page(report: Any, path: str | Path) -> None:
    """Write the page of `report` to `path` (OSError when it cannot be written)."""
    Path(path).write_text(render_page(report), encoding="utf-8")


class HtmlRenderer(Renderer):
    """The profile renderer registry's entry: `get_renderer("html")`."""

    name = "html"
    extension = ".html"

    def render(self, report: dict[str, Any]) -> str:
        return render_page(report)


__all__ = ["KINDS", "CompareHtmlRenderer", "HtmlRenderer", "kind_of", "render_page",
           "write_page"]
