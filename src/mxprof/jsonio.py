"""The one writer of every file mxprof writes: strict JSON, atomic replacement, whole-line appends.

- Strict JSON (RFC 8259): `jq` and a browser's `JSON.parse` reject `NaN` and `Infinity`, which
  Python's `json` writes by default. `strict(obj)` turns a non-finite float into `null` (the
  report that holds it says why the figure is missing, e.g. a group with no primitive seen),
  numpy scalars and arrays into plain numbers and lists, tuples and sets into lists, and records
  with `to_dict()` into dicts; `dumps` then writes with `allow_nan=False`, so a value that slipped
  through raises instead of producing a file no strict reader can load.
- Atomic files (`write_text`, `write_json`): the text goes to a temporary file in the same
  folder (same file system, so the rename cannot be a copy), is flushed and fsync'd, then
  `os.replace`d over the target. A reader, or a run killed half-way, sees the old file or the
  new one, never half of one; on any failure the temporary file is removed and the old file is
  left as it was. A target that exists and is not a regular file (a device such as /dev/stdout
  or /dev/full, a FIFO) is written in place: renaming over it would replace the device with a
  file (as root, /dev/full became a regular file).
- Appends (`append_line`): one complete line or nothing. `os.write` may write fewer bytes than
  asked (a signal, a full disk), so it loops; if a write fails the file is truncated back to
  its length before the append, then fsync'd.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["append_line", "dumps", "read_json", "strict", "write_json", "write_text"]


def strict(obj: Any) -> Any:
    """`obj` as plain JSON values, every non-finite float replaced by None."""
    if obj is None or isinstance(obj, (str, bool, int)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return [strict(v) for v in sorted(obj)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "to_dict"):
        return strict(obj.to_dict())
    if hasattr(obj, "tolist"):  # numpy arrays and scalars (a scalar's tolist() is a number)
        return strict(obj.tolist())
    if hasattr(obj, "item"):
        return strict(obj.item())
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any, *, indent: int | None = 1, compact: bool = False) -> str:
    """Strict JSON text of `obj` (no trailing newline). `compact`: no spaces, one line."""
    separators = (",", ":") if compact else None
    return json.dumps(strict(obj), allow_nan=False, indent=None if compact else indent,
                      separators=separators)


def write_text(path: str | os.PathLike, text: str | bytes) -> None:
    """Replace `path` with `text` atomically (see the module docstring). Raises OSError.

    A symbolic link is followed (the file it names is replaced, the link stays); a target that
    exists and is not a regular file (/dev/stdout, /dev/full, a FIFO) is written in place,
    since renaming over it would replace the device node itself.
    """
    path = Path(os.path.realpath(path))
    data = text.encode() if isinstance(text, str) else text
    if path.exists() and not path.is_file():  # a device or a FIFO: no rename over it
        with open(path, "wb") as f:
            f.write(data)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; a report is as readable as any file the user creates.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 1) -> None:
    """Strict JSON of `obj` written atomically, with a final newline."""
    write_text(path, dumps(obj, indent=indent) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def append_line(path: str | os.PathLike, obj: Any) -> None:
    """Append `obj` as one compact strict-JSON line: the whole line or nothing.

    A file whose last line was cut short (a writer killed mid-line before this module existed,
    or a full disk) is first ended with a newline, so the new record starts a line of its own.
    """
    line = (dumps(obj, compact=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        start = os.fstat(fd).st_size
        if start and not _ends_with_newline(path, start):
            line = b"\n" + line
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)


def _ends_with_newline(path: str | os.PathLike, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def _umask() -> int:
    # Read, not os.umask(0)/os.umask(mask): that pair would briefly clear the mask for every
    # thread of the process (compare's instances run from threads).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
