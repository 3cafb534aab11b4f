"""oneDNN / MKL-DNN verbose logs of every generation as tables.

`parse(source)` scans a log (a path, bytes, or text) with the native scanner (or its pure-Python
twin, `native=False`) and returns a `VerboseLog`:

- `.primitives`: one row per timed primitive line (exec, and create[:cache_*] at level 2), with
  categorical string columns (timestamp_ms, operation, cache, engine, kind, impl, prop_kind, mds,
  attrs, aux, problem, time_ms, line_no);
- `.graph`: one row per timed graph-API partition line (exec, compile[:cache_*]);
- `.malformed`: every line with a verbose marker that was neither counted nor an untimed
  marker (info, check, dispatch, create:start, error, warn), as (line, reason, text);
- analysis on top: `summary(by=...)`, `totals()`, `reorder_share()`, `gflops()`.

The scanner interns everything between the operation and the time as one "body" string; this
module splits the few unique bodies into columns. The body's field count is the generation's
shape: 6 fields for MKL-DNN v0.x (no engine, no attributes), 7 for v1.0 (no attributes), 8 for
DNNL/oneDNN v1.1 and later; graph lines have 8 or 9 (v3.x) or 6 (the attrs/inputs/outputs
layout of 2026). The line rules are in `_verbose_py`'s docstring.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mxprof.onednn.flops import gflops_table
from mxprof.onednn.verbose_header import parse_header
from mxprof.schema import Record

PRIMITIVE_COLUMNS = ("timestamp_ms", "operation", "cache", "engine", "kind", "impl", "prop_kind",
                     "mds", "attrs", "aux", "problem", "time_ms", "line_no")
GRAPH_COLUMNS = ("timestamp_ms", "operation", "cache", "engine", "partition_id", "partition_kind",
                 "op_names", "data_formats", "logical_tensors", "fpmath", "impl", "backend",
                 "op_attrs", "inputs", "outputs", "time_ms", "line_no")
# Body layouts by field count (see module docstring); "" where a generation has no such field.
_PRIM_LAYOUT = {
    6: ("kind", "impl", "prop_kind", "mds", "aux", "problem"),
    7: ("engine", "kind", "impl", "prop_kind", "mds", "aux", "problem"),
    8: ("engine", "kind", "impl", "prop_kind", "mds", "attrs", "aux", "problem"),
}
_GRAPH_LAYOUT = {
    6: ("engine", "op_names", "partition_id", "op_attrs", "inputs", "outputs"),
    8: ("engine", "partition_id", "partition_kind", "op_names", "data_formats",
        "logical_tensors", "fpmath", "backend"),
    9: ("engine", "partition_id", "partition_kind", "op_names", "data_formats",
        "logical_tensors", "fpmath", "impl", "backend"),
}
# Names users may group by, mapped to columns ("shape" is the problem descriptor).
GROUP_ALIASES = {"shape": "problem", "implementation": "impl", "prop": "prop_kind"}


class VerboseStats(Record, frozen=True):
    """Line counts of one scan: every line is either parsed or skipped."""

    lines_total: int
    lines_verbose: int  # carried a verbose marker
    lines_parsed: int  # timed primitive or graph lines kept as rows
    lines_graph: int
    lines_untimed: int  # info/check/dispatch/error/... lines: verbose but not timed
    lines_malformed: int  # verbose marker but wrong shape or a time that is not a number
    lines_skipped: int  # lines_total - lines_parsed
    unterminated_last_line: bool
    time_decimals: int = 0  # most decimal places printed by a counted time field


@dataclass(frozen=True, eq=False)  # DataFrames have no truth value: compare tables explicitly
class VerboseLog:
    """A parsed verbose log: primitive and graph tables plus header and line counts."""

    primitives: pd.DataFrame
    graph: pd.DataFrame
    header: dict[str, Any]
    stats: VerboseStats
    info_lines: tuple[str, ...] = field(default=())
    # (line number, reason, first 80 characters) of each rejected line, in file order
    malformed: tuple[tuple[int, str, str], ...] = field(default=())

    @property
    def resolution_ms(self) -> float | None:
        """The finest time step the log prints (10**-d ms for the most decimals d of any
        counted time field); None without timed lines. A time printed as 0 was below it:
        report it as `< resolution`, not as zero cost or an infinite ratio."""
        if self.stats.lines_parsed == 0:
            return None
        return 10.0 ** -self.stats.time_decimals

    def to_pandas(self) -> pd.DataFrame:
        return self.primitives

    def exec(self) -> pd.DataFrame:
        """Primitive exec rows only (what the time was spent on)."""
        return self.primitives[self.primitives["operation"] == "exec"]

    def summary(self, by: str | tuple[str, ...] | list[str] = ("kind",),
                operation: str = "exec") -> pd.DataFrame:
        return summarize(self.primitives, by, operation)

    def totals(self) -> dict[str, Any]:
        return totals(self)

    def reorder_share(self) -> float | None:
        return reorder_share(self.primitives)

    def gflops(self, aggregate: bool = True) -> pd.DataFrame:
        return gflops_table(self.primitives, aggregate=aggregate)


class NoVerboseLines(ValueError):
    """A log without one oneDNN/MKL-DNN verbose line: most likely the wrong file (or a run
    with verbose output off), so bad input for a summary rather than an empty result."""


def require_verbose(log: VerboseLog, path: str | os.PathLike) -> VerboseLog:
    """`log` itself when it holds at least one verbose line (timed or not). Raises
    NoVerboseLines naming `path`, the lines read and how to get a verbose log."""
    if log.stats.lines_verbose:
        return log
    read = log.stats.lines_total
    raise NoVerboseLines(
        f"{os.fspath(path)} holds no oneDNN/MKL-DNN verbose lines ({read} line"
        f"{'' if read == 1 else 's'} read): expected a log of a program run with "
        "DNNL_VERBOSE=1 (mxnet 1.7+), MKLDNN_VERBOSE=1 (mxnet-mkl <= 1.6) or ONEDNN_VERBOSE=1; "
        "`mxprof verbose run -- CMD` writes one")


def parse(source: str | os.PathLike | bytes | bytearray | memoryview, *, native: bool = True,
          chunk_size: int = 1 << 20) -> VerboseLog:
    """Parse a verbose log given as a path to an existing file, as bytes, or as text.

    A `str` is taken as a path unless it contains a newline or a verbose marker and is not an
    existing file. Files are streamed in `chunk_size` pieces; memory grows with the rows only.
    Raises FileNotFoundError / PermissionError / IsADirectoryError / OSError for a path that
    cannot be read (both scanners), BufferError for a buffer that is not C-contiguous.
    """
    if native:
        from mxprof._native import core

        scan_file, scan_buffer = core.scan_verbose_file, core.scan_verbose_buffer
    else:
        from mxprof.onednn import _verbose_py
        scan_file, scan_buffer = _verbose_py.scan_file, _verbose_py.scan_buffer
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = scan_buffer(_utf8(source))
    elif isinstance(source, str) and ("\n" in source or "_verbose," in source) \
            and not _is_file(source):
        raw = scan_buffer(source.encode("utf-8", "surrogateescape"))
    elif _has_bom(source):  # a UTF-16 log (a Windows shell's `>`): the scanners read UTF-8
        from mxprof.files import read_input
        raw = scan_buffer(_utf8(read_input(source, "verbose log")))
    else:
        raw = scan_file(os.fspath(Path(source)), chunk_size)
    return from_scan(raw)


def _utf8(data):
    """`data` (a buffer) as UTF-8 when it begins with a byte order mark; else as it is."""
    head = bytes(memoryview(data).cast("B")[:3]) if memoryview(data).c_contiguous else b""
    if head[:2] in _BOMS or head in _BOMS:
        from mxprof.files import decode_text
        return decode_text(bytes(data))
    return data


_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")


def _has_bom(path: str | os.PathLike) -> bool:
    """A regular file beginning with a UTF-16 or UTF-8 byte order mark (a FIFO is not peeked:
    what is read from it is gone)."""
    try:
        if not Path(path).is_file():
            return False
        with open(path, "rb") as f:
            head = f.read(3)
    except OSError:
        return False
    return head[:2] in _BOMS or head in _BOMS


def _is_file(text: str) -> bool:
    try:
        return len(text) < 4096 and os.path.isfile(text)
    except (OSError, ValueError):
        return False


def from_scan(raw: dict) -> VerboseLog:
    """Build the tables from a scanner result (native or twin: the same dict shape)."""
    prims = _table(raw["primitive"], _PRIM_LAYOUT, PRIMITIVE_COLUMNS)
    graph = _table(raw["graph"], _GRAPH_LAYOUT, GRAPH_COLUMNS)
    info = tuple(raw["info"])
    header = parse_header(info, prims, raw.get("layout", ""))
    malformed = tuple((n, reason, text[:80]) for n, reason, text in raw.get("malformed", ()))
    return VerboseLog(prims, graph, header, VerboseStats.from_dict(raw["stats"]), info, malformed)


def _table(t: dict, layouts: dict[int, tuple[str, ...]], columns: tuple[str, ...]) -> pd.DataFrame:
    graph = "fpmath" in columns
    bodies = [split_graph_body(b) if graph else b.split(",") for b in t["body_strings"]]
    string_cols = [c for c in columns if c not in ("timestamp_ms", "time_ms", "line_no",
                                                   "operation", "cache")]
    per_body = {c: [] for c in string_cols}
    for parts in bodies:
        names = layouts.get(len(parts), ())
        values = dict(zip(names, parts))
        for c in string_cols:
            per_body[c].append(values.get(c, "").strip())
    op_split = [_split_op(s) for s in t["op_strings"]]
    data: dict[str, Any] = {
        "timestamp_ms": t["timestamp_ms"],
        "operation": _categorical(t["op"], [o for o, _ in op_split]),
        "cache": _categorical(t["op"], [c for _, c in op_split]),
    }
    data.update(_categoricals(t["body"], per_body))
    data["time_ms"] = t["time_ms"]
    data["line_no"] = t["line_no"]
    # copy=False also skips pandas' consolidation of the numeric columns (a copy of each)
    return pd.DataFrame(data, columns=list(columns), copy=False)


def split_graph_body(body: str) -> list[str]:
    """Graph body fields: commas inside {...} (attrs, inputs, outputs) do not split."""
    if "{" not in body:
        return body.split(",")
    out, depth, start = [], 0, 0
    for i, c in enumerate(body):
        if c == "{":
            depth += 1
        elif c == "}":
            depth = max(depth - 1, 0)
        elif c == "," and depth == 0:
            out.append(body[start:i])
            start = i + 1
    return [*out, body[start:]]


def _split_op(op: str) -> tuple[str, str]:
    """'create:cache_miss' -> ('create', 'miss'); 'create_nested:cache_hit' ->
    ('create_nested', 'hit'); 'exec' -> ('exec', '')."""
    verb, _, state = op.partition(":")
    return verb, state[len("cache_"):] if state.startswith("cache_") else state


# The codes come from the scanner and are in range by construction: skip pandas' re-check
# (pandas >= 2.1; older versions always validate).
_TRUSTED_CODES = ({"validate": False}
                  if "validate" in inspect.signature(pd.Categorical.from_codes).parameters else {})


def _remap(values_by_code: list[str]) -> tuple[np.ndarray, list[str]]:
    uniques: dict[str, int] = {}
    remap = np.array([uniques.setdefault(v, len(uniques)) for v in values_by_code] or [0],
                     dtype=np.int32)
    return remap, list(uniques) or [""]


def _categorical(codes: np.ndarray, values_by_code: list[str]) -> pd.Categorical:
    """Row codes into `values_by_code` (may repeat values) as a Categorical of unique values."""
    remap, categories = _remap(values_by_code)
    row_codes = remap[codes] if len(codes) else np.zeros(0, dtype=np.int32)
    return pd.Categorical.from_codes(row_codes, categories=categories, **_TRUSTED_CODES)


def _categoricals(codes: np.ndarray, per_body: dict[str, list[str]]) -> dict[str, Any]:
    """`_categorical` of every body column; the row codes are widened to intp once, not
    inside every gather (numpy converts int32 indices to intp on each fancy index)."""
    idx = codes.astype(np.intp)
    out = {}
    for c, values in per_body.items():
        remap, categories = _remap(values)
        row_codes = remap[idx] if len(idx) else np.zeros(0, dtype=np.int32)
        out[c] = pd.Categorical.from_codes(row_codes, categories=categories, **_TRUSTED_CODES)
    return out


# ---- analysis: pure functions over the primitive table -------------------------------------

def _group_columns(by: str | tuple[str, ...] | list[str]) -> list[str]:
    names = [b.strip() for b in (by.split(",") if isinstance(by, str) else by) if b.strip()]
    cols = [GROUP_ALIASES.get(n, n) for n in names]
    bad = [n for n, c in zip(names, cols) if c not in PRIMITIVE_COLUMNS or c in
           ("time_ms", "timestamp_ms", "line_no")]
    if bad or not cols:
        raise ValueError(f"cannot group by {bad or names}: choose from kind, impl, shape, "
                         "prop_kind, engine, mds, attrs, aux, problem, operation, cache")
    return cols


def summarize(prims: pd.DataFrame, by: str | tuple[str, ...] | list[str] = ("kind",),
              operation: str = "exec") -> pd.DataFrame:
    """count, total/mean/min/max ms and percent of the total per group, largest total first."""
    cols = _group_columns(by)
    rows = prims[prims["operation"] == operation] if operation else prims
    out = (rows.groupby(cols, observed=True, sort=False)["time_ms"]
           .agg(count="count", total_ms="sum", mean_ms="mean", min_ms="min", max_ms="max"))
    total = float(rows["time_ms"].sum())
    out["percent"] = 100.0 * out["total_ms"] / total if total > 0 else 0.0
    return out.sort_values("total_ms", ascending=False)


# A graph-API partition line: what ran (its operations), where, and which partition.
GRAPH_GROUP = ("operation", "op_names", "engine", "partition_id")


def summarize_graph(graph: pd.DataFrame) -> pd.DataFrame:
    """The graph-API lines per GRAPH_GROUP (exec and compile apart): count, total/mean/min/max
    ms and percent of all graph time, largest total first (empty without graph lines)."""
    out = (graph.groupby(list(GRAPH_GROUP), observed=True, sort=False, dropna=False)["time_ms"]
           .agg(count="count", total_ms="sum", mean_ms="mean", min_ms="min", max_ms="max"))
    total = float(graph["time_ms"].sum())
    out["percent"] = 100.0 * out["total_ms"] / total if total > 0 else 0.0
    return out.sort_values("total_ms", ascending=False)


def _by_kind(rows: pd.DataFrame) -> dict[str, dict[str, float]]:
    """{kind: {count, ms}}, largest ms first."""
    by_kind = {str(k): {"count": len(v), "ms": float(v.sum())}
               for k, v in rows.groupby("kind", observed=True, sort=False)["time_ms"]}
    return dict(sorted(by_kind.items(), key=lambda kv: -kv[1]["ms"]))


def totals(log: VerboseLog) -> dict[str, Any]:
    """The headline numbers (the CLI's --json object).

    Times in ms (sums of the per-line times oneDNN printed). `create_*` counts top-level
    creation; `create_nested_*` the primitives created inside another one's creation (v3.8+),
    whose time is part of their parent's. `malformed` lists every rejected line as
    {line (1-based), reason, text (first 80 characters)}.
    """
    p, g = log.primitives, log.graph
    exec_rows = p[p["operation"] == "exec"]
    create_rows = p[p["operation"] == "create"]
    nested = p[p["operation"] == "create_nested"]
    graph_exec = g[g["operation"] == "exec"]
    return {
        "exec_count": len(exec_rows),
        "exec_ms": float(exec_rows["time_ms"].sum()),
        "create_count": len(create_rows),
        "create_ms": float(create_rows["time_ms"].sum()),
        "create_nested_count": len(nested),
        "create_nested_ms": float(nested["time_ms"].sum()),
        "graph_exec_count": len(graph_exec),
        "graph_exec_ms": float(graph_exec["time_ms"].sum()),
        "graph_compile_count": int((g["operation"] == "compile").sum()),
        "graph_partitions": [
            {**dict(zip(GRAPH_GROUP, (None if v != v else str(v) for v in key))),
             "count": int(r["count"]), "ms": float(r["total_ms"])}
            for key, r in summarize_graph(g).iterrows()],
        "span_ms": span_ms(p, g),
        "reorder_share": reorder_share(p),
        "resolution_ms": log.resolution_ms,
        "by_kind": _by_kind(exec_rows),
        "create_by_kind": _by_kind(create_rows),
        "malformed_count": len(log.malformed),
        "malformed": [{"line": n, "reason": r, "text": t} for n, r, t in log.malformed],
    }


def span_ms(prims: pd.DataFrame, graph: pd.DataFrame | None = None) -> float | None:
    """Wall time from the first timed line's start to the last one's end, from the timestamps
    (*_VERBOSE_TIMESTAMP=1: each line's start in ms); None when the log has no timestamps."""
    frames = [f for f in (prims, graph) if f is not None and len(f)]
    starts = [f["timestamp_ms"] for f in frames]
    if not starts or all(s.isna().all() for s in starts):
        return None
    first = min(float(s.min()) for s in starts if s.notna().any())
    last = max(float((f["timestamp_ms"] + f["time_ms"]).max()) for f in frames
               if f["timestamp_ms"].notna().any())
    return last - first


def reorder_share(prims: pd.DataFrame) -> float | None:
    """Reorder exec ms over all primitive exec ms, 0-1; None when no primitive exec time was
    logged (0/0: a graph-API-only log has no share, and 0.0 would read as "no reorders")."""
    rows = prims[prims["operation"] == "exec"]
    total = float(rows["time_ms"].sum())
    return float(rows.loc[rows["kind"] == "reorder", "time_ms"].sum()) / total if total else None
