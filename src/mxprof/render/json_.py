"""The whole report as JSON (schema 1): what `--json` writes and `--load` reads back."""

from __future__ import annotations

import json
from typing import Any

from mxprof.jobs.profile.spec import _jsonable
from mxprof.render.base import Renderer


class JsonRenderer(Renderer):
    name = "json"
    extension = ".json"

    def render(self, report: dict[str, Any]) -> str:
        return json.dumps(report, indent=1, default=_jsonable) + "\n"
