"""What a command does with its standard streams while it works.

`stdout_to_stderr()`: while in-process MXNet code runs (building networks to count their
parameters), whatever it prints, from Python (`print("infer_shape error...")` in
mxnet/symbol/symbol.py) or from C (fd 1), goes to stderr, so a command's stdout holds only
what the command itself writes: its table, or its JSON with `--json -`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point fd 1 and sys.stdout at stderr for the block; restored after, also on errors."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all (closed): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)
