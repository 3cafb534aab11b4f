"""Checks of a user's model files before any worker starts, without importing MXNet.

`check_params(path)` walks the layout of an MXNet ``.params`` file (``mx.nd.save``,
``save_parameters``, ``HybridBlock.export``) and `check_symbol(path)` parses an exported
``X-symbol.json``. Both raise `ModelFileError` (a ValueError) naming the file and what is wrong,
so a command can stop with exit status 2 instead of letting every worker fail on the same file.

The ``.params`` layout is MXNet 1.x's ``NDArray::Save`` list format (src/ndarray/ndarray.cc and
src/c_api/c_api.cc ``MXNDArraySave``): u64 magic ``0x112``, u64 reserved, u64 array count, the
arrays, then u64 name count and each name as u64 length + bytes. Each array: u32 magic
(``0xF993FAC9`` v2, ``0xF993FACA`` v3 with NumPy shapes), i32 storage type, the storage shape for
sparse arrays, the shape (i32 ndim, ndim x i64), i32 device type and id, i32 dtype flag, the aux
types and shapes for sparse arrays, then the data. Older per-array layouts (v1, pre-magic) are
accepted after the list header: MXNet still reads them and they are rare.
"""

from __future__ import annotations

import json
import os
import struct
from typing import BinaryIO

LIST_MAGIC = 0x112
ARRAY_MAGICS = (0xF993FAC9, 0xF993FACA)
# mshadow type flags -> bytes per element (3rdparty/mshadow/mshadow/base.h).
DTYPE_BYTES = {0: 4, 1: 8, 2: 2, 3: 1, 4: 4, 5: 1, 6: 8, 7: 1, 8: 2, 9: 2, 10: 4, 11: 8, 12: 2}
# Storage type -> number of aux arrays (kDefaultStorage 0, kRowSparseStorage 1, kCSRStorage 2).
AUX_COUNT = {0: 0, 1: 1, 2: 2}
_MAX_NDIM = 32


class ModelFileError(ValueError):
    """A model file that MXNet could not load; the message names the file and the fault."""


class _Reader:
    def __init__(self, f: BinaryIO, size: int, path: str):
        self.f, self.size, self.path = f, size, path

    def unpack(self, fmt: str, what: str):
        n = struct.calcsize(fmt)
        data = self.f.read(n)
        if len(data) != n:
            raise ModelFileError(f"{self.path}: truncated MXNet .params file (ends inside {what} "
                                 f"at byte {self.f.tell()} of {self.size})")
        return struct.unpack(fmt, data)

    def skip(self, n: int, what: str) -> None:
        end = self.f.tell() + n
        if n < 0 or end > self.size:
            raise ModelFileError(f"{self.path}: truncated MXNet .params file ({what} needs "
                                 f"{n} bytes at byte {self.f.tell()}, the file has {self.size})")
        self.f.seek(end)

    def shape(self, what: str) -> tuple[int, ...] | None:
        (ndim,) = self.unpack("<i", what)
        if ndim <= 0:  # 0 (v2) or -1 (v3): an unknown shape, no data follows
            return None
        if ndim > _MAX_NDIM:
            raise ModelFileError(f"{self.path}: not a valid MXNet .params file ({what} has "
                                 f"{ndim} dimensions)")
        dims = self.unpack(f"<{ndim}q", what)
        if min(dims) < 0:
            raise ModelFileError(f"{self.path}: not a valid MXNet .params file ({what} {dims})")
        return dims


def _count(dims: tuple[int, ...] | None) -> int:
    n = 1
    for d in dims or (0,):
        n *= d
    return n


def _array(r: _Reader, i: int) -> bool:
    """Skip array `i`; False when its layout is an older one this walker does not follow."""
    (magic,) = r.unpack("<I", f"array {i}")
    if magic not in ARRAY_MAGICS:
        return False
    (stype,) = r.unpack("<i", f"array {i}")
    if stype not in AUX_COUNT:
        raise ModelFileError(f"{r.path}: not a valid MXNet .params file (array {i} has "
                             f"storage type {stype})")
    nad = AUX_COUNT[stype]
    storage = r.shape(f"array {i} storage shape") if nad else None
    shape = r.shape(f"array {i} shape")
    if shape is None:
        return True
    r.unpack("<ii", f"array {i} context")
    (dtype,) = r.unpack("<i", f"array {i} dtype")
    if dtype not in DTYPE_BYTES:
        raise ModelFileError(f"{r.path}: not a valid MXNet .params file (array {i} has dtype "
                             f"flag {dtype})")
    aux = []
    for k in range(nad):
        (aux_type,) = r.unpack("<i", f"array {i} aux type")
        aux.append((DTYPE_BYTES.get(aux_type, 8), r.shape(f"array {i} aux shape {k}")))
    r.skip(_count(storage if nad else shape) * DTYPE_BYTES[dtype], f"array {i} data")
    for nbytes, aux_shape in aux:
        r.skip(_count(aux_shape) * nbytes, f"array {i} aux data")
    return True


def check_params(path: str | os.PathLike) -> int:
    """Check that `path` is a readable, complete MXNet ``.params`` file.

    Returns the number of arrays. Raises `ModelFileError` for a missing, unreadable, truncated or
    foreign file. Reads only headers (seeks over the data), so a 100 MB file takes milliseconds.
    """
    return _walk(os.fspath(path))[0]


def param_names(path: str | os.PathLike) -> list[str] | None:
    """The names saved in a ``.params`` file, without their ``arg:``/``aux:`` prefixes (what
    ``HybridBlock.export`` writes), or None for an older array layout whose names this walker
    does not reach. Raises `ModelFileError` like `check_params`."""
    names = _walk(os.fspath(path))[1]
    return None if names is None else [n.split(":", 1)[-1] for n in names]


def _names(r: _Reader, count: int) -> list[str]:
    (names,) = r.unpack("<Q", "the name count")
    if names not in (0, count):
        raise ModelFileError(f"{r.path}: not a valid MXNet .params file ({count} arrays but "
                             f"{names} names)")
    found = []
    for i in range(names):
        (length,) = r.unpack("<Q", f"name {i}")
        data = r.f.read(min(length, r.size))
        if len(data) != length:
            raise ModelFileError(f"{r.path}: truncated MXNet .params file (ends inside name "
                                 f"{i} at byte {r.f.tell()} of {r.size})")
        found.append(data.decode("utf-8", "replace"))
    return found


def _walk(path: str) -> tuple[int, list[str] | None]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, the reader needs it open
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a .params file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with f:
        size = os.fstat(f.fileno()).st_size
        r = _Reader(f, size, path)
        if size < 16:
            raise ModelFileError(f"{path}: not an MXNet .params file ({size} bytes)")
        magic, _reserved = r.unpack("<QQ", "the header")
        if magic != LIST_MAGIC:
            raise ModelFileError(f"{path}: not an MXNet .params file (header {magic:#x}, "
                                 f"expected {LIST_MAGIC:#x})")
        (count,) = r.unpack("<Q", "the array count")
        if count > size:
            raise ModelFileError(f"{path}: not a valid MXNet .params file ({count} arrays)")
        for i in range(count):
            if not _array(r, i):
                return count, None  # an older array layout: the header is all we check
        found = _names(r, count)
        if f.tell() != size:
            raise ModelFileError(f"{path}: not a valid MXNet .params file ({size - f.tell()} "
                                 "bytes after the last name)")
    return count, found


def check_symbol(path: str | os.PathLike) -> int:
    """Check that `path` is a readable MXNet symbol JSON (``X-symbol.json``).

    Returns the number of graph nodes. Raises `ModelFileError` when the file is missing,
    unreadable, not JSON (a truncated file included) or has no ``nodes``/``heads``.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            graph = json.load(f)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a symbol JSON file") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not an MXNet symbol JSON file (not text)") from None
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not an MXNet symbol JSON file ({exc.msg}, line "
                             f"{exc.lineno} column {exc.colno}; truncated?)") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) \
            or "heads" not in graph:
        raise ModelFileError(f"{path}: JSON, but not an MXNet symbol (no 'nodes' and 'heads')")
    return len(graph["nodes"])
