"""One inference iteration as a Chrome/Perfetto trace (open in ui.perfetto.dev or
chrome://tracing): each layer or operator a complete event ("ph": "X", ts/dur in microseconds)."""

from __future__ import annotations

from typing import Any

from mxprof.render.base import Renderer, as_dict
from mxprof.workers.jsonio import dumps


class TraceRenderer(Renderer):
    name = "trace"
    extension = ".json"

    def render(self, report: Any) -> str:
        report = as_dict(report)  # a ProfileResult or its dict
        events = list(report.get("trace") or [])
        if not events:
            raise ValueError("this report has no per-iteration events (the operators and layers "
                             "passes failed or were skipped): no trace to write")
        model = report["model"]["name"]
        meta = [{"ph": "M", "pid": 0, "name": "process_name",
                 "args": {"name": f"{model} batch 1, MKL-DNN on, one iteration"}},
                {"ph": "M", "pid": 0, "tid": 0, "name": "thread_name",
                 "args": {"name": "layers in execution order" if events[0].get("cat") == "layer"
                          else "operators in execution order"}}]
        doc = {"traceEvents": meta + events, "displayTimeUnit": "ms",
               "otherData": {"model": model,
                             "source": "per-layer hooks (mxprof.mx.layers)"
                             if events[0].get("cat") == "layer"
                             else "MXNet profiler, bulk execution off",
                             "schema": report.get("schema")}}
        return dumps(doc, compact=True) + "\n"


def write(result: Any, path: str) -> None:
    """`profile --trace PATH` (mxprof.render.outputs); ValueError when the run has no events."""
    TraceRenderer().write(as_dict(result), path)
