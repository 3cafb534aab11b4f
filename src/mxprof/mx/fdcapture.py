"""Capture what C code writes to a file descriptor (oneDNN prints its verbose lines with printf).

`sys.stdout` redirection does not see C stdio: the descriptor itself must point at the file.
C stdio buffers stdout when it is not a terminal, so both the Python and the C buffers are
flushed before the descriptor is switched and again before it is restored; otherwise lines
written inside the block would land after it, on the restored stream.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_libc = ctypes.CDLL(None)


def flush_c_stdio() -> None:
    """fflush(NULL): flush every C stdio output stream of the process."""
    _libc.fflush(None)


def _flush_python(fd: int) -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None and stream.fileno() == fd:
                stream.flush()
        except (AttributeError, OSError, ValueError):  # replaced or closed streams
            pass


@contextmanager
def capture_fd(fd: int = 1, path: str | os.PathLike | None = None,
               *, append: bool = False) -> Iterator[Path]:
    """Redirect file descriptor `fd` to `path` inside the block; yields the path.

    The original descriptor is restored on exit, also when the block raises.
    """
    if path is None:
        raise ValueError("capture_fd needs a path to write to")
    target = Path(path)
    _flush_python(fd)
    flush_c_stdio()
    saved = os.dup(fd)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        out = os.open(target, flags, 0o644)
    except OSError:
        os.close(saved)
        raise
    try:
        os.dup2(out, fd)
        os.close(out)
        yield target
    finally:
        _flush_python(fd)
        flush_c_stdio()
        os.dup2(saved, fd)
        os.close(saved)
