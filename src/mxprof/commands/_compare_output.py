"""Output of a compare result (terminal table and files), shared by `compare` and `merge`."""

from __future__ import annotations

import sys


def write_outputs(args, result) -> list[str]:
    """Write each requested file of the "compare" kind (mxprof.render.outputs); return what
    could not be written (the table is printed regardless). `--json -` goes to stdout here."""
    from mxprof.render import outputs
    from mxprof.render.base import as_report
    from mxprof.workers.jsonio import dumps

    def warn(text: str) -> None:
        print(f"mxprof: warning: {text}", file=sys.stderr)

    errors = outputs.write("compare", result, vars(args), on_warning=warn)
    if args.json == "-":
        sys.stdout.write(dumps(as_report(result)) + "\n")
    return errors


def display(args, result) -> None:
    """The table on stdout, unless --json - owns stdout."""
    import shutil

    from mxprof.render.base import as_report
    from mxprof.render.compare_text import CompareTerminalRenderer
    tty = sys.stdout.isatty()
    # A file or pipe gets the whole table unwrapped; a terminal its own width.
    width = shutil.get_terminal_size().columns if tty else 300
    text = CompareTerminalRenderer(color=tty, width=width).render(as_report(result))
    (sys.stderr if args.json == "-" else sys.stdout).write(text)
