"""Which files each report kind can be written as: declared once, used by every command.

`OUTPUTS[kind]` lists the formats of one result kind (the `kind` field of its Result, see
mxprof.jobs.contract). From this one table come
- the `--FORMAT PATH` options of the command (mxprof.commands._options.add_outputs), every one
  taking a PATH, `-` meaning stdout (no option takes an optional PATH: it would swallow the
  next positional argument);
- the checks before a run (each path writable, never one of the command's input files, never
  a file that is not an earlier mxprof output of the same kind unless `--force`);
- the writers after it (`write(result, path)`, atomic: mxprof.workers.jsonio).

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

    def load_writer(self) -> Callable[[Any, str], None]:
        module, _, function = self.writer.partition(":")
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


# --- the kinds: each declares its formats once (JSON comes first by itself) -----------------

_MARKDOWN = "write the report as Markdown"
_HTML = "write an HTML page with the tables and charts"

declare("fusion",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.fusion:write_markdown"),
        Format("html", ".html", _HTML, "mxprof.render.html:write_page", stdout=False))
declare("accuracy",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.accuracy:write_markdown"),
        Format("html", ".html", _HTML, "mxprof.render.html:write_page", stdout=False))
# compare and merge write the same kind of result.
declare("compare",
        Format("markdown", ".md", _MARKDOWN, "mxprof.render.compare_text:write_markdown"),
        Format("csv", ".csv", "write the table as CSV", "mxprof.render.csv_:write_compare"),
        Format("html", ".html", _HTML, "mxprof.render.html:write_page", stdout=False),
        Format("pyperf", ".json", "write the timings as a pyperf benchmark suite, one run per "
               "worker process (python -m pyperf stats / compare_to read it)",
               "mxprof.render.pyperf_suite:write_result", stdout=False))
declare("ceilings")


def write(kind: str, result: Any, targets: dict[str, str | None],
          on_warning: Callable[[str], None] | None = None) -> list[str]:
    """Write `result` in each format of `kind` whose path `targets[name]` is set and is not
    "-" (stdout is the caller's); return what could not be written, one message each, so the
    report is still shown. A writer raises OSError for a file it cannot write, ValueError for
    a result it cannot express (a pyperf suite without samples): that one goes to
    `on_warning` when given (the other files are still worth having), else it is an error."""
    errors = []
    for fmt in formats_of(kind):
        path = targets.get(fmt.name)
        if not path or path == "-":
            continue
        try:
            fmt.load_writer()(result, path)
        except OSError as exc:
            errors.append(f"cannot write {path}: {exc.strerror or exc}")
        except ValueError as exc:
            message = f"--{fmt.name} {path} not written: {exc}"
            if on_warning is None:
                errors.append(message)
            else:
                on_warning(message)
    return errors
