"""The tokens of one oneDNN verbose line, for the pure-Python scanner twin (`_verbose_py`).

What `csrc/verbose.cpp` decides token by token, written the same way: the strict number
grammar (`parse_number`, `decimals`), the marker (`find_marker`), the operation
(`classify_op`), a timestamp printed with a decimal comma (`comma_timestamp`), the body's field
count (`count_fields`) and the counts each generation allows (`field_counts`). The rules they
implement are listed in `_verbose_py`'s docstring; the scanner's state (rows, rejected lines,
the log's decimal separator) is there too.
"""

from __future__ import annotations

import math
import re

# oneDNN's dnnl_prim_kind2str names, all releases (v0.x convolution_relu included).
PRIMITIVE_KINDS = frozenset(
    b"convolution deconvolution convolution_relu inner_product matmul reorder sum concat "
    b"shuffle eltwise softmax softmax_v2 logsoftmax lrn pooling pooling_v2 batch_normalization "
    b"layer_normalization group_normalization binary prelu reduction resampling rnn gemm "
    b"sdpa gated_mlp zero_pad".split())
ENGINES = (b"cpu", b"gpu")

# What printf %f/%g print. Bounded length and a two-digit exponent keep every accepted value a
# finite, normal double, so C++ from_chars and Python float() round it identically.
_NUMBER = re.compile(rb"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,2})?")
_MAX_NUMBER_LEN = 40
COMPONENTS = (b"primitive", b"graph", b"common", b"ukernel")
_SUFFIX = b"_verbose,"
_UNTIMED_SUFFIXES = (b"check", b"dispatch", b"start")
_TIMED_SUFFIXES = (b"cache_miss", b"cache_hit", b"from_cache_blob")


def parse_number(text: bytes, need_dot: bool) -> float | None:
    """The strict decimal grammar of the scanner; None when `text` is not such a number."""
    if len(text) > _MAX_NUMBER_LEN or not _NUMBER.fullmatch(text):
        return None
    if need_dot and b"." not in text:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def decimals(text: bytes) -> int:
    """Decimal places a (grammar-valid) time prints: 10**-decimals ms is its resolution."""
    mant, _, exp = text.lower().partition(b"e")
    frac = len(mant.partition(b".")[2])
    return max(0, frac - int(exp or b"0"))


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


def classify_op(op: bytes, graph: bool) -> str:
    """"info", "untimed", "timed" or "unknown" (see the module docstring)."""
    if op == b"info":
        return "info"
    verb, sep, suffix = op.partition(b":")
    if verb in (b"error", b"warn", b"warning"):
        return "untimed"
    if verb == b"exec":
        return "timed" if not sep else "untimed" if suffix == b"check" else "unknown"
    if verb in (b"create", b"create_nested", b"compile"):
        if sep and suffix in _UNTIMED_SUFFIXES:
            return "untimed"
        if (verb == b"compile") != graph:
            return "unknown"
        if not sep or suffix in _TIMED_SUFFIXES or suffix.endswith((b"_cache_hit", b"_cache_miss")):
            return "timed"
    return "unknown"


def comma_timestamp(parts: list[bytes], i: int, graph: bool) -> float | None:
    """The timestamp `parts[i],parts[i+1]` printed with a decimal comma, or None.

    Read only where the line's shape leaves no other reading: both parts all digits and the
    token after them a component or an operation this scanner knows, all three followed by a
    comma (parts[j] is a token only while j < len(parts) - 1).
    """
    if i + 3 >= len(parts) or not (all_digits(parts[i]) and all_digits(parts[i + 1])):
        return None
    after = parts[i + 2]
    if after not in COMPONENTS and classify_op(after, graph) == "unknown":
        return None
    return parse_number(parts[i] + b"." + parts[i + 1], need_dot=True)


def quote(text: bytes) -> bytes:
    return b'"' + (text[:40] + b"..." if len(text) > 40 else text) + b'"'


def count_fields(body: bytes, graph: bool) -> int:
    """Comma-separated fields; in graph lines commas inside {...} do not count."""
    if not graph or b"{" not in body:
        return body.count(b",") + 1
    depth, n = 0, 1
    for c in body:
        if c == 0x7B:
            depth += 1
        elif c == 0x7D:
            depth = max(depth - 1, 0)
        elif c == 0x2C and depth == 0:
            n += 1
    return n


def all_digits(s: bytes) -> bool:
    return bool(s) and s.isdigit()


def field_counts(marker: str, graph: bool, body: bytes) -> tuple[tuple[int, ...], bytes, bool]:
    """(allowed body field counts, generation label, engine expected first)."""
    if graph:
        return (6, 8, 9), b"graph", True
    if marker == "mkldnn":
        engine = body.split(b",", 1)[0] in ENGINES
        return ((7,), b"v1.0", True) if engine else ((6,), b"v0.x", False)
    return (8,), b"v1.1+", True
