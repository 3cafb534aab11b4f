"""Output of a compare report (terminal table and files), shared by `compare` and `merge`."""

from __future__ import annotations

import sys

from mxprof.commands._options import write_files


def write_outputs(args, report) -> list[str]:
    """Write each requested file; return what could not be written (the table is printed
    regardless). `--json -` goes to stdout here."""
    from mxprof.jsonio import dumps, write_json
    from mxprof.render.compare_text import CompareMarkdownRenderer
    from mxprof.render.csv_ import CompareCsvRenderer
    from mxprof.render.html import CompareHtmlRenderer
    errors = write_files(report, (
        (args.markdown, CompareMarkdownRenderer().write), (args.csv, CompareCsvRenderer().write),
        (args.html, CompareHtmlRenderer().write),
        (args.json, lambda r, path: write_json(path, r))))
    if args.json == "-":
        sys.stdout.write(dumps(report) + "\n")
    if getattr(args, "pyperf", None):
        from mxprof.render import pyperf_suite
        try:
            pyperf_suite.write(report, args.pyperf)
        except ValueError as exc:  # no samples to write, or pyperf missing
            print(f"mxprof: warning: pyperf suite not written: {exc}", file=sys.stderr)
        except OSError as exc:
            errors.append(f"cannot write {args.pyperf}: {exc.strerror or exc}")
    return errors


def display(args, report) -> None:
    """The table on stdout, unless --json - owns stdout."""
    import shutil

    from mxprof.render.compare_text import CompareTerminalRenderer
    tty = sys.stdout.isatty()
    # A file or pipe gets the whole table unwrapped; a terminal its own width.
    width = shutil.get_terminal_size().columns if tty else 300
    text = CompareTerminalRenderer(color=tty, width=width).render(report)
    (sys.stderr if args.json == "-" else sys.stdout).write(text)
