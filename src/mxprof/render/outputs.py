"""Which files each report kind can be written as: declared once, used by every command.

`OUTPUTS[kind]` lists the formats of one result kind (the `kind` field of its Result, see
mxprof.jobs.contract). From this one table come
- the `--FORMAT PATH` options of the command (mxprof.commands._outputs.add_outputs), every one
  taking a PATH, `-` meaning stdout (no option takes an optional PATH: it would swallow the
  next positional argument);
- the checks before a run (each path writable, never one of the command's input files, never
  a file that is not an earlier mxprof output of the same kind unless `--force`);
- the writers after it (`write(result, path)`, atomic: mxprof.jsonio).

A writer is named "module:function" and imported only when used, so `--help` stays fast and a
format whose library is missing (matplotlib for `--html`) fails only when asked for.
Adding a format to a kind is one `Format(...)` line here and its renderer function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import msgspec


class Format(msgspec.Struct, frozen=True):
    """One output format of a kind: `--{name} PATH` writes it with `writer(result, path)`."""

    name: str  # the option: --json, --markdown, ...
    extension: str  # what a file of this format is called: .json, .md, ...
    help: str
    writer: str  # "module:function", function(result, path) -> None
    stdout: bool = True  # whether `-` (stdout) is accepted
    # "module:function", function(result) -> str: what `-` writes; "" for JSON's text.
    text: str = ""

    def load_writer(self) -> Callable[[Any, str], None]:
        return _load(self.writer)

    def stdout_text(self, result: Any) -> str:
        """What `--{name} -` writes on stdout: the format's text, JSON by default."""
        if self.text:
            return _load(self.text)(result)
        from mxprof.jsonio import dumps
        return dumps(result.to_dict() if hasattr(result, "to_dict") else result) + "\n"


def _load(name: str) -> Callable[..., Any]:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def _json(kind: str) -> Format:
    return Format("json", ".json", f"write the {kind} result as JSON ('-' for stdout)",
                  "mxprof.render.json_:write_result")


OUTPUTS: dict[str, tuple[Format, ...]] = {}


def declare(kind: str, *formats: Format) -> None:
    """Register `kind`'s formats (each kind once); JSON is always first and always there."""
    if kind in OUTPUTS:
        raise ValueError(f"outputs of {kind!r} declared twice")
    OUTPUTS[kind] = (_json(kind), *formats)


def formats_of(kind: str) -> tuple[Format, ...]:
    try:
        return OUTPUTS[kind]
    except KeyError:
        raise ValueError(f"no outputs declared for result kind {kind!r}") from None


# --- the declarations: one `declare` per result kind ---------------------------------------
declare(
    "profile",
    Format("markdown", ".md", "write the report as Markdown", "mxprof.render.markdown:write",
           stdout=False),
    Format("trace", ".json", "write one iteration as a Chrome/Perfetto trace",
           "mxprof.render.trace:write", stdout=False),
    Format("html", ".html", "write an HTML page with the tables and charts",
           "mxprof.render.html.profile:write", stdout=False),
    Format("pyperf", ".json", "write the timings as a pyperf benchmark suite, one run per "
           "worker process (python -m pyperf stats / compare_to read it)",
           "mxprof.render.pyperf_suite:write", stdout=False),
)
# Commands whose result is one JSON object (no renderer of its own beyond the terminal).
declare("topology")
declare("verbose-summary")
declare("ceilings")

# The jobs: fusion, accuracy, compare (merge writes compare's kind).
_MARKDOWN = "write the report as Markdown"
_HTML = "write an HTML page with the tables and charts"
declare("fusion",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.fusion:write_markdown",
               stdout=False),
        Format("html", ".html", _HTML, "mxprof.render.html:write_page", stdout=False))
declare("accuracy",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.accuracy:write_markdown",
               stdout=False),
        Format("html", ".html", _HTML, "mxprof.render.html:write_page", stdout=False))
# Several models (accuracy A B, --reference-set, --cluster): one table, no per-model page.
declare("accuracy-sweep",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.accuracy_sweep:write_markdown",
               stdout=False))
declare("compare",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.compare_text:write_markdown",
               stdout=False),
        Format("csv", ".csv", "write the table as CSV", "mxprof.render.csv_:write_compare",
               stdout=False),
        Format("html", ".html", _HTML, "mxprof.render.html:write_page", stdout=False),
        Format("pyperf", ".json", "write the timings as a pyperf benchmark suite, one run per "
               "worker process (python -m pyperf stats / compare_to read it)",
               "mxprof.render.pyperf_suite:write", stdout=False))
declare("diff",
        Format("markdown", ".md", "write the diff as Markdown", "mxprof.render.diff:write_markdown",
               text="mxprof.render.diff:render_markdown"),
        Format("html", ".html", "write the diff as an HTML page (side-by-side bars per layer, "
               "changed primitives highlighted)", "mxprof.render.html.diff:write_page",
               stdout=False))
declare("int8",
        Format("markdown", ".md", "write the report as Markdown ('-' for stdout)",
               "mxprof.render.int8:write_markdown", text="mxprof.render.int8:render_markdown"),
        Format("html", ".html", "write an HTML page with the per-layer error chart and the "
               "accuracy-latency front", "mxprof.render.html.int8:write_page", stdout=False))
