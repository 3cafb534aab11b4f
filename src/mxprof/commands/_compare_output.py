"""Output of a compare report (terminal table and files), shared by `compare` and `merge`."""

from __future__ import annotations

import sys

from mxprof.errors import UsageError


def write_outputs(args, report) -> None:
    from mxprof.render.compare_text import CompareMarkdownRenderer
    from mxprof.render.csv_ import CompareCsvRenderer
    from mxprof.render.html import CompareHtmlRenderer
    from mxprof.workers.jsonio import dumps, write_json
    targets = ((args.markdown, CompareMarkdownRenderer), (args.csv, CompareCsvRenderer),
               (args.html, CompareHtmlRenderer))
    try:
        for path, renderer in targets:
            if path:
                renderer().write(report, path)
        if args.json == "-":
            sys.stdout.write(dumps(report) + "\n")
        elif args.json:
            write_json(args.json, report)
    except OSError as exc:
        raise UsageError(f"cannot write output: {exc}") from None

def display(args, report) -> None:
    """The table on stdout, unless --json - owns stdout."""
    import shutil

    from mxprof.render.compare_text import CompareTerminalRenderer
    tty = sys.stdout.isatty()
    # A file or pipe gets the whole table unwrapped; a terminal its own width.
    width = shutil.get_terminal_size().columns if tty else 300
    text = CompareTerminalRenderer(color=tty, width=width).render(report)
    (sys.stderr if args.json == "-" else sys.stdout).write(text)
