"""The files a user hands mxprof, and the files mxprof writes over: one check each.

Inputs (`check_input`, `read_input`, `input_lines`): every option that reads a file (`--load`,
`--results`, `merge FILES`, a verbose log) goes through here, so a device, a folder or a socket
is refused by name before a byte is read: `compare --results /dev/zero` once read the device
until the kernel's OOM killer stopped the machine. A FIFO (`<(ssh host cat r.jsonl)`) is
accepted where the reader streams (`stream=True`); `-` is stdin where the caller allows it.
Reads are bounded (`MAX_INPUT_BYTES`): a result or a log larger than that is not ours.

Outputs (`check_replace`): an output may replace a file only when that file is an earlier
mxprof output of the same kind (`output_kind` recognises it: JSON with our kind, a Markdown,
HTML or CSV report mxprof wrote, a verbose log), an empty file, or when the user said
`--force`; it is never one of the command's input files. Devices and FIFOs (/dev/stdout) are
written in place (mxprof.jsonio) and always allowed.

Raises `InputFileError` / `OutputFileError` (ValueErrors): the commands turn them into usage
errors (exit 2) before any worker starts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = [
    "LOADERS",
    "MAX_INPUT_BYTES",
    "InputFileError",
    "OutputFileError",
    "check_input",
    "check_replace",
    "decode_text",
    "input_lines",
    "json_kind",
    "output_kind",
    "read_input",
]

MAX_INPUT_BYTES = 1 << 30  # 1 GiB: a profile result is a few MB, a long verbose log ~100 MB
_SNIFF_BYTES = 1 << 16

# The kind of every JSON file mxprof writes -> the command that reads it back.
LOADERS = {
    "profile": "mxprof profile --load",
    "fusion": "mxprof fusion --load",
    "accuracy": "mxprof accuracy --load",
    "accuracy-sweep": "mxprof accuracy --load",
    "accuracy-results": "mxprof accuracy --results FILE (resumes the sweep)",
    "compare": "mxprof compare --load (or merge's --json)",
    "compare-results": "mxprof merge FILE (or compare --results FILE)",
    "verbose-summary": None,
    "topology": None,
    "ceilings": None,
    "int8": None,
    "diff": None,
    "models": None,
    "trace": "chrome://tracing or ui.perfetto.dev",
    "pyperf": "python -m pyperf stats",
}


class InputFileError(ValueError):
    """A file given to read that is not a readable regular file (or FIFO where allowed)."""


class OutputFileError(ValueError):
    """An output path that would replace a file mxprof did not write."""


def _what_node(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _a(what: str) -> str:
    return f"{'an' if what[:1] in 'aeiou' or what.startswith('mxprof') else 'a'} {what}"


def check_input(path: str | os.PathLike, what: str = "file", *, stream: bool = False) -> None:
    """`path` is a readable regular file (or a FIFO when `stream`), checked without reading it.

    Raises InputFileError: "r.json: no such file", "/dev/zero: is a character device, not a
    results file", "logs/: is a folder, not a verbose log", "r.json: not readable".
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except PermissionError:
        raise InputFileError(f"{path}: not readable (permission denied)") from None
    except OSError as exc:
        raise InputFileError(f"{path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode) or (stream and stat.S_ISFIFO(mode)):
        if not os.access(path, os.R_OK):
            raise InputFileError(f"{path}: not readable (permission denied)")
        return
    raise InputFileError(f"{path}: is {_what_node(mode)}, not {_a(what)}"
                         + ("" if stream else "; give a regular file"))


def read_input(path: str | os.PathLike, what: str = "file", *, stdin: bool = False,
               stream: bool = True, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a checked input (`check_input`); `-` reads stdin when `stdin`. At most
    `limit` bytes: a longer input raises InputFileError rather than filling the memory."""
    if stdin and os.fspath(path) == "-":
        return _bounded(sys.stdin.buffer, "stdin", what, limit)
    check_input(path, what, stream=stream)
    try:
        with open(path, "rb") as f:
            return _bounded(f, path, what, limit)
    except OSError as exc:
        raise InputFileError(f"{path}: {exc.strerror or exc}") from None


def _bounded(f, name, what: str, limit: int) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise InputFileError(f"{name}: more than {limit >> 20} MiB, not {_a(what)}")
    return data


def input_lines(path: str | os.PathLike, what: str = "file", *,
                stream: bool = True) -> Iterator[bytes]:
    """The lines of a checked input, one at a time (the newline kept, so a last line without
    one is seen as cut short); a line longer than MAX_INPUT_BYTES raises InputFileError."""
    check_input(path, what, stream=stream)
    with open(path, "rb") as f:
        while True:
            line = f.readline(MAX_INPUT_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_INPUT_BYTES:
                raise InputFileError(f"{path}: a line of more than {MAX_INPUT_BYTES >> 20} "
                                     f"MiB, not {_a(what)}")
            yield line


def decode_text(data: bytes) -> bytes:
    """`data` as UTF-8 bytes: a UTF-16 file (what a Windows shell's `>` writes, with its byte
    order mark) or a UTF-8 file with a BOM is converted; anything else is returned as is."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace").encode("utf-8")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:]
    return data


# --- what a file mxprof wrote looks like ----------------------------------------------------

def json_kind(data: object) -> str | None:
    """Which mxprof JSON file `data` is (a key of LOADERS), or None when it is none of ours.
    Files carry their kind ("kind"); older ones are told by their fields."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    named = {"fusion": "fusion", "mxprof-compare": "compare", "mxprof-models": "models",
             "mxprof-compare-run": "compare-results", "mxprof-verbose-summary":
             "verbose-summary", "mxprof-topology": "topology", "profile": "profile",
             "accuracy": "accuracy", "accuracy-sweep": "accuracy-sweep",
             "mxprof-accuracy-run": "accuracy-results", "compare": "compare", "ceilings": "ceilings",
             "int8": "int8", "diff": "diff", "topology": "topology",
             "verbose-summary": "verbose-summary"}
    if isinstance(kind, str) and kind in named:
        return named[kind]
    if "traceEvents" in data:
        return "trace"
    if "benchmarks" in data and "version" in data:
        return "pyperf"
    if "schema" not in data:
        return None
    tool = data.get("tool")
    if isinstance(tool, str) and tool.startswith("mxprof") and tool.endswith(" profile"):
        return "profile"
    if {"configs", "comparisons", "tolerance"} <= data.keys():
        return "accuracy"
    return None


def _text_kind(head: str, fmt: str) -> str | None:
    """The kind of a Markdown/HTML/CSV report from its first bytes."""
    first = head.lstrip().split("\n", 1)[0]
    if fmt == "markdown":
        for prefix, kind in (("# mxprof profile:", "profile"), ("# mxprof accuracy:", "accuracy"),
                             ("# mxprof accuracy sweep", "accuracy-sweep"),
                             ("# mxprof fusion:", "fusion"), ("# Fusion report:", "fusion"),
                             ("## MKL-DNN comparison", "compare"), ("# INT8:", "int8"),
                             ("# mxprof diff:", "diff")):
            if first.startswith(prefix):
                return kind
        return None
    if fmt == "html":
        if not first.lower().startswith("<!doctype html>"):
            return None
        title = head.partition("<title>")[2].partition("</title>")[0]
        for prefix, kind in (("mxprof profile:", "profile"), ("mxprof accuracy:", "accuracy"),
                             ("mxprof fusion:", "fusion"), ("MKL-DNN comparison", "compare"),
                             ("mxprof int8:", "int8"), ("mxprof diff:", "diff")):
            if title.startswith(prefix):
                return kind
        return None
    if fmt == "csv":
        return "compare" if first.startswith("machine,build,") and "latency_ms" in first \
            else None
    if fmt == "log":
        return "verbose-log" if "_verbose," in head else None
    return None


def output_kind(path: str | os.PathLike, fmt: str) -> str | None:
    """The kind of the mxprof `fmt` output in `path` ("json", "trace", "pyperf", "markdown",
    "html", "csv", "log"), "empty" for an empty file, None when mxprof did not write it."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty"
        with open(path, "rb") as f:
            if fmt in ("json", "trace", "pyperf"):
                if size > MAX_INPUT_BYTES:
                    return None
                try:
                    return json_kind(json.loads(f.read()))
                except ValueError:
                    return None
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return None
    return _text_kind(decode_text(head).decode("utf-8", "replace"), fmt)


def check_replace(flag: str, path: str | os.PathLike | None, fmt: str, kind: str | None, *,
                  force: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """`path` may be written by `flag`: not one of `inputs`, and, if it is a regular file
    already, an earlier mxprof `fmt` output of `kind` (None: of any kind), an empty file, or
    `force`. Raises OutputFileError naming what the file is and how to go on."""
    if not path or os.fspath(path) == "-":
        return
    real = os.path.realpath(path)
    for given in inputs:
        if given and os.fspath(given) != "-" and os.path.realpath(given) == real:
            raise OutputFileError(f"{flag} {path}: is also an input of this command; an "
                                  "output never replaces its input")
    if force or not Path(real).is_file():
        return
    found = output_kind(real, fmt)
    if found == "empty" or (found is not None and (kind is None or found == kind)):
        return
    if found:
        what = f"an mxprof {found} file, not {kind}"
    elif fmt in ("json", "trace", "pyperf") and not _parses_as_json(real):
        what = f"not JSON (an input meant as an argument? {flag} takes a PATH, '-' for stdout)"
    else:
        what = f"not an earlier mxprof {kind or fmt} output"
    raise OutputFileError(f"{flag} {path}: the file exists and is {what}; give another path, "
                          "or --force to replace it")


def _parses_as_json(path: str) -> bool:
    try:
        if os.path.getsize(path) > MAX_INPUT_BYTES:
            return False
        with open(path, "rb") as f:
            json.loads(f.read())
    except (OSError, ValueError):
        return False
    return True


# --- mxprof's temporary folders -------------------------------------------------------------

_TEMP = re.compile(r"^mxprof-[a-z0-9]+-p(\d+)-")


def temp_dir(what: str, *, dir: str | os.PathLike | None = None
             ) -> tempfile.TemporaryDirectory:
    """A temporary folder `mxprof-WHAT-pPID-XXXX` (removed when the context ends, or by the
    next mxprof command if this process is killed: `reap_stale`)."""
    reap_stale(dir)
    return tempfile.TemporaryDirectory(prefix=f"mxprof-{what}-p{os.getpid()}-", dir=dir)


def make_temp_dir(what: str) -> Path:
    """`temp_dir`'s folder for a caller that removes it itself (shutil.rmtree in a finally)."""
    reap_stale()
    return Path(tempfile.mkdtemp(prefix=f"mxprof-{what}-p{os.getpid()}-"))


def reap_stale(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove the temporary folders of mxprof processes that are gone (SIGKILL, a lost
    machine): only ours (same user), only when the PID in the name no longer runs. A PID that
    was reused keeps its folder until that process ends too."""
    removed = []
    try:
        entries = list(os.scandir(root or tempfile.gettempdir()))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != uid or _alive(int(m.group(1))):
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
