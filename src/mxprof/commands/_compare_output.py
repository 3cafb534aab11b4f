"""The terminal table of a compare result, shared by `compare` and `merge`."""

from __future__ import annotations

import sys
from typing import TextIO


def display(result, out: TextIO) -> None:
    """The table on `out` (stdout, or stderr when `--json -` owns stdout)."""
    import shutil

    from mxprof.render.base import as_dict
    from mxprof.render.compare_text import CompareTerminalRenderer
    tty = sys.stdout.isatty()
    # A file or pipe gets the whole table unwrapped; a terminal its own width.
    width = shutil.get_terminal_size().columns if tty else 300
    out.write(CompareTerminalRenderer(color=tty, width=width).render(as_dict(result)))
