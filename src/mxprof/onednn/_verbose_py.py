"""Pure-Python twin of the native verbose scanner (`csrc/verbose.cpp`).

Same contract, same rules, same output: `scan_buffer(data)` and `scan_file(path)` return a dict
with "primitive" and "graph" tables (line_no, timestamp_ms, time_ms, op codes, body codes and
their interned strings), "stats" and "info". Tests check both implementations row for row; the
twin is the readable reference and the fallback where the native module is absent. It is about
an order of magnitude slower (see bench/verbose_parse.py).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

MAX_INFO_LINES = 64

# What printf %f/%g print. Bounded length and a two-digit exponent keep every accepted value a
# finite, normal double, so C++ from_chars and Python float() round it identically.
_NUMBER = re.compile(rb"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?")
_MAX_NUMBER_LEN = 40
_COMPONENTS = (b"primitive", b"graph", b"common", b"ukernel")
_SUFFIX = b"_verbose,"


def parse_number(text: bytes, need_dot: bool) -> float | None:
    """The strict decimal grammar of the scanner; None when `text` is not such a number."""
    if len(text) > _MAX_NUMBER_LEN or not _NUMBER.fullmatch(text):
        return None
    if need_dot and b"." not in text:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def find_marker(line: bytes) -> tuple[str | None, int]:
    """(marker kind, offset after `<marker>_verbose,`); kind None when the line has none."""
    start = 0
    while True:
        at = line.find(_SUFFIX, start)
        if at < 0:
            return None, 0
        before = line[:at]
        after = at + len(_SUFFIX)
        if before.endswith((b"onednn_graph", b"dnnl_graph")):
            return "graph", after
        if before.endswith(b"mkldnn"):
            return "mkldnn", after
        if before.endswith(b"onednn"):
            return "onednn", after
        if before.endswith(b"dnnl"):
            return "dnnl", after
        start = at + 1


class _Table:
    def __init__(self) -> None:
        self.line_no: list[int] = []
        self.timestamp: list[float] = []
        self.time_ms: list[float] = []
        self.op: list[int] = []
        self.body: list[int] = []
        self.ops: dict[bytes, int] = {}
        self.bodies: dict[bytes, int] = {}

    def add(self, line_no: int, ts: float, ms: float, op: bytes, body: bytes) -> None:
        self.line_no.append(line_no)
        self.timestamp.append(ts)
        self.time_ms.append(ms)
        self.op.append(self.ops.setdefault(op, len(self.ops)))
        self.body.append(self.bodies.setdefault(body, len(self.bodies)))

    def result(self) -> dict:
        def strings(d: dict[bytes, int]) -> list[str]:
            return [s.decode("utf-8", "replace") for s in d]

        return {
            "line_no": np.array(self.line_no, dtype=np.int64),
            "timestamp_ms": np.array(self.timestamp, dtype=np.float64),
            "time_ms": np.array(self.time_ms, dtype=np.float64),
            "op": np.array(self.op, dtype=np.int32),
            "op_strings": strings(self.ops),
            "body": np.array(self.body, dtype=np.int32),
            "body_strings": strings(self.bodies),
        }


class Scanner:
    """Line-by-line state of one scan; `line()` mirrors `Scanner::line` in csrc/verbose.cpp."""

    def __init__(self) -> None:
        self.prim = _Table()
        self.graph = _Table()
        self.info: list[bytes] = []
        self.total = self.verbose = self.parsed = self.graph_rows = 0
        self.untimed = self.malformed = 0
        self.unterminated = False

    def line(self, s: bytes) -> None:
        self.total += 1
        if s.endswith(b"\r"):
            s = s[:-1]
        marker, pos = find_marker(s)
        if marker is None:
            return
        self.verbose += 1
        parts = s[pos:].split(b",")
        # parts[i] is a "token" only while a comma follows it: the last part is the remainder.
        i = 0
        if len(parts) < 2:
            self.malformed += 1
            return
        tok = parts[0]
        if marker == "onednn" and tok == b"v1":
            i += 1
            if i + 1 >= len(parts):
                self.malformed += 1
                return
            tok = parts[i]
        ts = math.nan
        have_ts = have_comp = other = False
        graph = marker == "graph"
        for _ in range(2):
            number = None if have_ts else parse_number(tok, need_dot=True)
            if number is not None:
                ts, have_ts = number, True
            elif not have_comp and tok in _COMPONENTS:
                have_comp = True
                graph = tok == b"graph"
                other = tok in (b"common", b"ukernel")
            else:
                break
            i += 1
            if i + 1 >= len(parts):
                self.malformed += 1
                return
            tok = parts[i]
        op = tok
        if op == b"info":
            self.untimed += 1
            if len(self.info) < MAX_INFO_LINES:
                self.info.append(s)
            return
        if other:
            self.untimed += 1
            return
        if op != b"exec":
            verb = b"compile" if graph else b"create"
            if (not op.startswith(verb) or (len(op) > len(verb) and op[len(verb):len(verb) + 1] != b":")
                    or b"check" in op or b"dispatch" in op):
                self.untimed += 1
                return
        rest = parts[i + 1:]
        if len(rest) < 2:
            self.malformed += 1
            return
        fields = len(rest) - 1
        if graph:
            shape_ok = fields in (8, 9)
        elif marker == "mkldnn":
            shape_ok = fields in (6, 7)
        else:
            shape_ok = fields == 8
        ms = parse_number(rest[-1], need_dot=False) if shape_ok else None
        if ms is None:
            self.malformed += 1
            return
        table = self.graph if graph else self.prim
        table.add(self.total, ts, ms, op, b",".join(rest[:-1]))
        self.parsed += 1
        if graph:
            self.graph_rows += 1

    def result(self) -> dict:
        stats = {
            "lines_total": self.total,
            "lines_verbose": self.verbose,
            "lines_parsed": self.parsed,
            "lines_graph": self.graph_rows,
            "lines_untimed": self.untimed,
            "lines_malformed": self.malformed,
            "lines_skipped": self.total - self.parsed,
            "unterminated_last_line": self.unterminated,
        }
        return {
            "primitive": self.prim.result(),
            "graph": self.graph.result(),
            "stats": stats,
            "info": [s.decode("utf-8", "replace") for s in self.info],
        }


def scan_buffer(data: bytes | bytearray | memoryview) -> dict:
    """Scan verbose output held in memory (the twin of `_core.scan_verbose_buffer`)."""
    data = bytes(data)
    scanner = Scanner()
    lines = data.split(b"\n")
    tail = lines.pop()  # text after the last newline: an unterminated (maybe truncated) line
    for line in lines:
        scanner.line(line)
    if tail:
        scanner.unterminated = True
        scanner.line(tail)
    return scanner.result()


def scan_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> dict:
    """Scan a log file in chunks with a carried partial line (twin of `scan_verbose_file`)."""
    scanner = Scanner()
    carry = b""
    with open(path, "rb") as f:
        while chunk := f.read(max(chunk_size, 64)):
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            for line in lines:
                scanner.line(line)
    if carry:
        scanner.unterminated = True
        scanner.line(carry)
    return scanner.result()
