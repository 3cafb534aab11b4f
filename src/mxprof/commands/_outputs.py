"""The output options of every command, derived from the one table of formats per result kind.

`mxprof.render.outputs.OUTPUTS[kind]` declares what a kind can be written as; from it come
- `add_outputs(parser, kind)`: one `--FORMAT PATH` option per format (every one takes a PATH,
  `-` is stdout where the format allows it: no option takes an optional PATH, which would
  swallow the next positional argument: `verbose summary --json a.log b.log`);
- `check_outputs(args, kind, inputs=...)`: before any worker starts (exit status 2), each PATH
  is writable, is not one of the command's input files, and replaces no file that is not an
  earlier mxprof output of the same kind without `--force` (mxprof.files.check_replace: a
  `--json` over a log or a model file is refused, not written over);
- `write_outputs(args, result, kind)`: each requested file by its format's writer; what could
  not be written comes back as messages, so a computed result is still printed;
- `load_result(kind, path)`: `--load RESULT`, a saved result validated, with the one message.

`legacy_json(argv)`: the old `--json` switch of `topology`, `ceilings` and `verbose` (stdout),
kept only where it cannot take a path that was meant as something else: a bare `--json` as
the last argument or before another option becomes `--json -`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from mxprof.errors import UsageError

# Help of the formats of commands not yet declared in mxprof.render.outputs (a tuple of names
# given to add_outputs instead of a kind).
OUTPUT_HELP = {
    "json": "write the result as JSON ('-' for stdout)",
    "markdown": "write the report as Markdown",
    "csv": "write the table as CSV",
    "html": "write an HTML page with the table and charts",
    "trace": "write one iteration as a Chrome/Perfetto trace",
    "pyperf": "write the timings as a pyperf benchmark suite, one run per worker process "
              "(python -m pyperf stats / compare_to read it)",
}
# Commands whose --json was a switch (stdout) before it took a PATH.
LEGACY_JSON_SWITCH = ("topology", "ceilings", "verbose")


def _formats(kind: str | tuple[str, ...]):
    from mxprof.render.outputs import Format, formats_of
    if isinstance(kind, str):
        return formats_of(kind)
    return tuple(Format(n, "", OUTPUT_HELP[n], "", stdout=n == "json") for n in kind)


def add_outputs(p, kind: str | tuple[str, ...], *, load: bool = True,
                dry_run: bool = True) -> None:
    """`--FORMAT PATH` for each format of `kind` (or of the listed names), then `--load` and
    `--dry-run` unless told otherwise."""
    g = p.add_argument_group("output")
    for f in _formats(kind):
        g.add_argument(f"--{f.name}", metavar="PATH", help=f.help)
    add_force(g)
    if load:
        g.add_argument("--load", metavar="RESULT",
                       help="re-render a saved --json result ('-': stdin); runs nothing")
    if dry_run:
        g.add_argument("--dry-run", action="store_true",
                       help="print the plan (workers, batches, estimated time); run nothing")


def add_force(g) -> None:
    g.add_argument("--force", action="store_true",
                   help="replace an output file even when it is not an earlier mxprof output "
                        "of the same kind")


def check_output_path(flag: str, path: str | None) -> None:
    """`path` can be written: its folder exists and takes a new file (probed with a temporary
    file, since access() says yes to root even in /proc), and it is not a folder itself."""
    if not path or path == "-":
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{flag} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"{flag} {path}: the file exists and is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".probe")
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write in {folder} "
                         f"({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


# Formats that are a kind of their own (mxprof.files.json_kind's names), whatever the command.
_FORMAT_KIND = {"trace": "trace", "pyperf": "pyperf"}


def check_outputs(args, kind: str | tuple[str, ...] = ("json", "markdown", "csv", "html",
                                                         "trace", "pyperf"),
                  *, inputs: tuple[str | None, ...] = ()) -> None:
    """Every output PATH of `kind` in `args` can be written, is none of `inputs` (the
    command's input files), and replaces no file that is not an earlier mxprof output of the
    same kind unless `--force` (mxprof.files.check_replace: the one output check); at most
    one of them goes to stdout (`-`). Raises
    UsageError (exit 2) naming the option."""
    from mxprof.files import OutputFileError, check_replace
    force = bool(getattr(args, "force", False))
    on_stdout = [f"--{f.name} -" for f in _formats(kind) if getattr(args, f.name, None) == "-"]
    if len(on_stdout) > 1:
        raise UsageError(f"{' and '.join(on_stdout)} would all write to stdout: pick one"
                         if len(on_stdout) > 2 else
                         f"{' and '.join(on_stdout)} would both write to stdout: pick one")
    for f in _formats(kind):
        path = getattr(args, f.name, None)
        if not path:
            continue
        flag = f"--{f.name}"
        if path == "-":
            if not f.stdout:
                raise UsageError(f"{flag} -: this format cannot go to stdout; give a file name")
            continue
        try:
            check_replace(flag, path, f.name,
                          _FORMAT_KIND.get(f.name, kind if isinstance(kind, str) else None),
                          force=force, inputs=inputs)
        except OutputFileError as exc:
            raise UsageError(str(exc)) from None
        check_output_path(flag, path)
    distinct_files(args, kind)


def write_outputs(args, result: Any, kind: str | tuple[str, ...]) -> list[str]:
    """Write each requested format of `result` with its declared writer; `-` (stdout) is
    written here for the formats that allow it. Returns the files that could not be written,
    one message each; a format with nothing to write (a trace without events) is a warning."""
    errors = []
    for f in _formats(kind):
        path = getattr(args, f.name, None)
        if not path:
            continue
        try:
            if path == "-":
                sys.stdout.write(f.stdout_text(result))
                sys.stdout.flush()
            else:
                f.load_writer()(result, path)
        except ValueError as exc:
            print(f"mxprof: warning: {f.name} not written: {exc}", file=sys.stderr)
        except OSError as exc:
            errors.append(f"cannot write --{f.name} {path}: {exc.strerror or exc}")
    return errors


def load_result(kind: str, path: str, *, kind_field: str | None = None) -> dict:
    """A saved `kind` result for --load, validated (mxprof.jobs.results.load); `kind_field`:
    the value its "kind" key must hold. Raises UsageError (exit 2) naming the file and, for a
    bad file, the wrong field: the same message in every command."""
    from mxprof.files import InputFileError
    from mxprof.jobs.results import load
    try:
        report = load(kind, path)
    except InputFileError as exc:  # a device, a folder, no such file: before any read
        raise UsageError(f"cannot load {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot load {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # names the file and the wrong field
        raise UsageError(str(exc)) from None
    if kind_field is not None and report.get("kind") != kind_field:
        raise UsageError(f"{path}: not an mxprof {kind} result: kind {report.get('kind')!r}, "
                         f"not {kind_field!r}")
    return report


def legacy_json(argv: list[str]) -> list[str]:
    """The old bare `--json` of LEGACY_JSON_SWITCH commands as `--json -` where nothing can be
    meant as its PATH: last on the line, or followed by another option (`--`, `--top`...)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in LEGACY_JSON_SWITCH:
        return argv
    out = []
    for i, arg in enumerate(argv):
        out.append(arg)
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if arg == "--json" and (nxt is None or (nxt.startswith("-") and nxt != "-")):
            out.append("-")
        if arg == "--":
            out.extend(argv[i + 1:])
            break
    return out


def distinct_files(args, kind: str | tuple[str, ...]) -> None:
    """UsageError when two formats of `kind` name one file: the last writer won and the other
    report was lost, with exit status 0 (`--json r.x --markdown r.x` left Markdown only)."""
    taken: dict[str, str] = {}
    for f in _formats(kind):
        path = getattr(args, f.name, None)
        if not path or path == "-":
            continue
        flag = f"--{f.name}"
        same = taken.setdefault(os.path.realpath(path), flag)
        if same != flag:
            raise UsageError(f"{flag} {path}: {same} writes that file too; give each output "
                             "its own file")
