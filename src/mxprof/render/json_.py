"""The whole report as JSON (schema 1): what `--json` writes and `--load` reads back."""

from __future__ import annotations

from typing import Any

from mxprof.render.base import Renderer
from mxprof.workers.jsonio import dumps


class JsonRenderer(Renderer):
    name = "json"
    extension = ".json"

    def render(self, report: dict[str, Any]) -> str:
        return dumps(report) + "\n"
