"""Output of a compare result (terminal table and files), shared by `compare` and `merge`."""

from __future__ import annotations

import sys


def write_outputs(args, result) -> list[str]:
    """Write each requested file of the "compare" kind (mxprof.render.outputs, `--json -` on
    stdout); return what could not be written (the table is printed regardless)."""
    from mxprof.commands._options import write_outputs as write
    return write(args, result, "compare")


def display(args, result) -> None:
    """The table on stdout, unless --json - owns stdout."""
    import shutil

    from mxprof.render.base import as_dict
    from mxprof.render.compare_text import CompareTerminalRenderer
    tty = sys.stdout.isatty()
    # A file or pipe gets the whole table unwrapped; a terminal its own width.
    width = shutil.get_terminal_size().columns if tty else 300
    text = CompareTerminalRenderer(color=tty, width=width).render(as_dict(result))
    (sys.stderr if args.json == "-" else sys.stdout).write(text)
