"""Pure-Python twin of the native verbose scanner (`csrc/verbose.cpp`).

Same contract, same rules, same output: `scan_buffer(data)` and `scan_file(path)` return a dict
with "primitive" and "graph" tables (line_no, timestamp_ms, time_ms, op codes, body codes and
their interned strings), "stats", "info", "malformed" (line number, reason, first 320 bytes of
each rejected line) and "layout" (the prefix form of the first timed line). Tests check both
implementations row for row and reason for reason; the twin is the readable reference and the
fallback where the native module is absent. It is about an order of magnitude slower (see
bench/verbose_parse.py). The tokens of a line (numbers, marker, operation, field counts) are
read by `_verbose_tokens_py`; the scanner's state machine is here.

Rules (the line forms of docs/onednn-verbose-formats.md and of logs pasted into bug reports):

- a line is verbose when it holds `<marker>_verbose,` anywhere (output may precede it);
  trailing blanks, CR and backticks (a Markdown fence) are ignored;
- after the marker: optional `v1`, then a timestamp and/or a component in either order, then
  the operation. `info`, `error`, `warn`, `exec:check`, `create:check|dispatch|start` are
  untimed; `exec`, `create[:cache_*]`, `create_nested:cache_*` and graph `compile[:cache_*]`
  are timed; any other operation is rejected;
- a timed line's body (fields between operation and time) must have its generation's field
  count: 6 (MKL-DNN v0.x, no engine), 7 (MKL-DNN v1.0, engine first), 8 (DNNL/oneDNN v1.1+),
  6, 8 or 9 for graph lines (commas inside `{...}` do not split graph fields);
- decimal comma (Windows, non-English locale): one field more than allowed and the last two
  fields all digits reads `A,B` as A.B ms (a graph line's last field, the backend, is never
  digits); all-digit last two fields at an allowed count (`...,64,0`: descriptor 64, time 0)
  read with a decimal point, unless most of the log's times and timestamps use decimal commas:
  then they are ambiguous and rejected (the separator is the log's, decided at the end);
- decimal-comma timestamp (`1795911005473,738037` for 1795911005473.738037 ms): in the
  timestamp slot, two all-digit tokens followed by a component or a known operation read as
  A.B; any other shape stays rejected (an all-digit token is never an operation or component,
  so the line has no other reading);
- the engine must be cpu or gpu, a primitive's kind one of `PRIMITIVE_KINDS`.
"""

from __future__ import annotations

import math
import os

import numpy as np

from mxprof.onednn._verbose_tokens_py import (
    COMPONENTS,
    ENGINES,
    PRIMITIVE_KINDS,
    all_digits,
    classify_op,
    comma_timestamp,
    count_fields,
    decimals,
    field_counts,
    find_marker,
    parse_number,
    quote,
)

MAX_INFO_LINES = 64
TEXT_BYTES = 320  # bytes kept of a rejected line: always >= its first 80 characters


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

    def drop(self, lines: set[int]) -> int:
        """Remove the rows of these line numbers; how many went."""
        keep = [k for k, n in enumerate(self.line_no) if n not in lines]
        dropped = len(self.line_no) - len(keep)
        for name in ("line_no", "timestamp", "time_ms", "op", "body"):
            column = getattr(self, name)
            setattr(self, name, [column[k] for k in keep])
        return dropped

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
        self.rejected: list[tuple[int, bytes, bytes]] = []
        self.layout = b""
        self.total = self.verbose = self.parsed = self.graph_rows = 0
        self.untimed = self.time_decimals = 0
        self.unterminated = False
        # Times/timestamps printed with a decimal point or comma, and the ambiguous lines read
        # with a point until the end decides (`settle`): (line, graph, reason, text).
        self.point_lines = self.comma_lines = 0
        self.line_ts_comma = False
        self.pending: list[tuple[int, bool, bytes, bytes]] = []

    def reject(self, s: bytes, reason: bytes) -> None:
        self.rejected.append((self.total, reason, s[:TEXT_BYTES]))

    def line(self, s: bytes) -> None:  # noqa: C901 - the native scanner's state machine, mirrored
        self.total += 1
        s = s.rstrip(b" \t\r`")
        marker, pos = find_marker(s)
        if marker is None:
            return
        self.verbose += 1
        parts = s[pos:].split(b",")
        # parts[i] is a "token" only while a comma follows it: the last part is the remainder.
        if len(parts) < 2:
            return self.reject(s, b"line ends after " + quote(parts[-1]))
        i, tok, v1 = 0, parts[0], False
        if marker == "onednn" and tok == b"v1":
            i, v1 = 1, True
            if i + 1 >= len(parts):
                return self.reject(s, b"line ends after " + quote(parts[-1]))
            tok = parts[i]
        ts = math.nan
        have_ts = have_comp = other = False
        self.line_ts_comma = False  # this line's timestamp was printed with a decimal comma
        graph = marker == "graph"
        for _ in range(2):
            number = None if have_ts else parse_number(tok, need_dot=True)
            if number is not None:
                self.point_lines += 1
            elif not have_ts:
                number = comma_timestamp(parts, i, graph)
                if number is not None:
                    self.comma_lines += 1
                    self.line_ts_comma = True
                    i += 1  # the fraction after the comma is part of the timestamp
            if number is not None:
                ts, have_ts = number, True
            elif not have_comp and tok in COMPONENTS:
                have_comp = True
                graph = tok == b"graph"
                other = tok in (b"common", b"ukernel")
            else:
                break
            i += 1
            if i + 1 >= len(parts):
                return self.reject(s, b"line ends after " + quote(parts[-1]))
            tok = parts[i]
        op = tok
        kind = classify_op(op, graph)
        if kind == "info":
            self.untimed += 1
            if len(self.info) < MAX_INFO_LINES:
                self.info.append(s)
            return
        if other or kind == "untimed":
            self.untimed += 1
            return
        if kind == "unknown":
            return self.reject(s, b"unknown operation " + quote(op))
        rest = b",".join(parts[i + 1:])
        form = marker.encode() + (b",v1" if v1 else b",component" if have_comp else b"")
        self._timed(s, marker, graph, ts, op, rest, form)

    def _timed(self, s: bytes, marker: str, graph: bool, ts: float, op: bytes, rest: bytes,
               form: bytes) -> None:
        last = rest.rfind(b",")
        if last < 0:
            return self.reject(s, b"fields missing after " + quote(op))
        body, time = rest[:last], rest[last + 1:]
        allowed, label, engine_first = field_counts(marker, graph, body)
        fields = count_fields(body, graph)
        cut = body.rfind(b",")
        tail = body[cut + 1:]
        ambiguous = all_digits(tail) and all_digits(time)
        comma, pending = False, b""
        if fields - 1 in allowed and ambiguous:  # decimal comma: "11,4111" is 11.4111 ms
            number, body, comma = tail + b"." + time, body[:cut], True
        elif fields in allowed:
            if ambiguous and self.line_ts_comma:  # its own timestamp says comma: a field is missing
                return self.reject(s, b"ambiguous time " + quote(tail + b"," + time)
                                   + b": the line's timestamp uses a decimal comma, so its time "
                                   b"does too, and then a field is missing")
            if ambiguous:  # read with a decimal point for now; the log's majority decides
                pending = (b"ambiguous time " + quote(tail + b"," + time)
                           + b": a decimal comma or a missing field, in a log whose times use "
                           b"decimal commas")
            number = time
        else:
            counts = b", ".join(str(n).encode() for n in allowed[:-1])
            counts = counts + b" or " + str(allowed[-1]).encode() if counts else str(allowed[0]).encode()
            return self.reject(s, b"%d %s where %s lines have %s" % (
                fields, b"field" if fields == 1 else b"fields", label, counts))
        ms = parse_number(number, need_dot=False)
        if ms is None:
            return self.reject(s, b"time field " + quote(number) + b" is not a number")
        head = body.split(b",", 2)
        if engine_first and head[0] not in ENGINES:
            return self.reject(s, b"engine " + quote(head[0]) + b" is not cpu or gpu")
        if not graph and head[1 if engine_first else 0] not in PRIMITIVE_KINDS:
            return self.reject(s, b"kind " + quote(head[1 if engine_first else 0])
                               + b" is not a oneDNN primitive kind")
        table = self.graph if graph else self.prim
        table.add(self.total, ts, ms, op, body)
        self.time_decimals = max(self.time_decimals, decimals(number))
        if not self.layout:
            self.layout = form
        self.parsed += 1
        if graph:
            self.graph_rows += 1
        self._separator(s, graph, number, comma, pending)

    def _separator(self, s: bytes, graph: bool, number: bytes, comma: bool,
                   pending: bytes) -> None:
        """Count the row's decimal separator; keep an ambiguous row for `settle`."""
        if comma:
            self.comma_lines += 1
        elif b"." in number:
            self.point_lines += 1
        if pending:
            self.pending.append((self.total, graph, pending, s[:TEXT_BYTES]))

    def settle(self) -> None:
        """The log's decimal separator decides the ambiguous lines (`Scanner::settle`)."""
        if not self.pending or self.comma_lines <= self.point_lines:
            return
        for graph in (False, True):
            drop = {line for line, g, _, _ in self.pending if g == graph}
            if drop:
                self.parsed -= (self.graph if graph else self.prim).drop(drop)
                if graph:
                    self.graph_rows -= len(drop)
        self.rejected += [(line, reason, text) for line, _, reason, text in self.pending]
        self.rejected.sort(key=lambda r: r[0])
        self.pending = []

    def result(self) -> dict:
        self.settle()
        stats = {
            "lines_total": self.total,
            "lines_verbose": self.verbose,
            "lines_parsed": self.parsed,
            "lines_graph": self.graph_rows,
            "lines_untimed": self.untimed,
            "lines_malformed": len(self.rejected),
            "lines_skipped": self.total - self.parsed,
            "unterminated_last_line": self.unterminated,
            "time_decimals": self.time_decimals,
        }
        return {
            "primitive": self.prim.result(),
            "graph": self.graph.result(),
            "stats": stats,
            "info": [s.decode("utf-8", "replace") for s in self.info],
            "malformed": [(n, r.decode("utf-8", "replace"), t.decode("utf-8", "replace"))
                          for n, r, t in self.rejected],
            "layout": self.layout.decode(),
        }


def scan_buffer(data: bytes | bytearray | memoryview) -> dict:
    """Scan verbose output held in memory (the twin of `_core.scan_verbose_buffer`).

    Raises BufferError for a buffer that is not C-contiguous (as the native scanner does),
    TypeError for an object that is not a buffer.
    """
    view = memoryview(data)
    if not view.c_contiguous:
        raise BufferError("verbose scan needs a C-contiguous buffer")
    data = view.tobytes()
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
    """Scan a log file in chunks with a carried partial line (twin of `scan_verbose_file`).

    Raises what `open()` raises: FileNotFoundError, PermissionError, IsADirectoryError, OSError.
    """
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
