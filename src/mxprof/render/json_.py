"""The whole report as JSON (schema 1): what `--json` writes and `--load` reads back."""

from __future__ import annotations

from typing import Any

from mxprof.render.base import Renderer, as_dict
from mxprof.workers.jsonio import dumps


class JsonRenderer(Renderer):
    name = "json"
    extension = ".json"

    def render(self, report: Any) -> str:
        report = as_dict(report)  # a ProfileResult or its dict
        return dumps(report) + "\n"


def write_result(result: Any, path: str) -> None:
    """The `--json PATH` writer of every kind (mxprof.render.outputs): a Result Struct or a
    report dict, written atomically; `-` is the caller's stdout."""
    from mxprof.workers.jsonio import write_text

    data = result.to_dict() if hasattr(result, "to_dict") else result
    write_text(path, dumps(data) + "\n")
