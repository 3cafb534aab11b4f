"""Per-operator-type breakdown from MXNet's own profiler (aggregate statistics).

`collect_aggregate(fn, iterations)` runs `fn` under `mx.profiler` with `aggregate_stats=True` and
returns the parsed `dumps(format="json")` document; `operator_breakdown(aggregate, iterations)`
is the pure analysis: one row per operator type with count and ms per iteration and its share
of the operators' total.

What the aggregate holds (MXNet 1.9.1): {"Time": {"operator": {name: {"Count", "Total", "Min",
"Max", "Avg"}}, "MXNET_C_API": {...}}, "Unit": {"Time": "ms"}}. Engine bookkeeping
(`WaitForVar`, `DeleteVariable`...) sits among the operators; `WaitForVar` is the caller waiting
while the operators run, so counting it would count that time twice: engine entries are kept
apart. Under bulk execution MXNet merges consecutive operators into one event named
"BatchNorm,Activation,..."; such rows are flagged `merged` (the breakdown pass turns bulk off).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mxprof.schema import Record

ENGINE_OPS = frozenset({
    "WaitForVar", "DeleteVariable", "ResourceParallelRandomSetSeed", "CopyCPU2CPU",
    "_zeros", "_full", "SetValueOp", "_copyto",
})


class OperatorRow(Record, frozen=True):
    op: str
    count: float  # calls per iteration
    ms: float  # ms per iteration
    percent: float  # share of the operators' total (engine entries excluded)
    avg_ms: float  # per call
    max_ms: float
    merged: bool = False


class OperatorBreakdown(Record, frozen=True):
    rows: tuple[OperatorRow, ...]
    iterations: int
    total_ms: float  # sum of operator ms per iteration
    engine: dict[str, float]  # engine entry -> ms per iteration (not in rows)


def _to_ms(value: float, unit: str) -> float:
    return {"ms": value, "us": value / 1e3, "ns": value / 1e6, "s": value * 1e3}[unit]


def operator_breakdown(aggregate: dict[str, Any], iterations: int) -> OperatorBreakdown:
    """Rows per operator type, largest first; counts and times divided by `iterations`."""
    if iterations < 1:
        raise ValueError("iterations must be >= 1")
    unit = aggregate.get("Unit", {}).get("Time", "ms")
    ops = aggregate.get("Time", {}).get("operator", {})
    work: list[tuple[str, dict[str, float]]] = []
    engine: dict[str, float] = {}
    for name, st in ops.items():
        if name in ENGINE_OPS:
            engine[name] = _to_ms(float(st["Total"]), unit) / iterations
        else:
            work.append((name, st))
    total = sum(_to_ms(float(st["Total"]), unit) for _, st in work) / iterations
    rows = []
    for name, st in work:
        ms = _to_ms(float(st["Total"]), unit) / iterations
        rows.append(OperatorRow(
            op=name, count=float(st["Count"]) / iterations, ms=ms,
            percent=100.0 * ms / total if total > 0 else 0.0,
            avg_ms=_to_ms(float(st["Avg"]), unit), max_ms=_to_ms(float(st["Max"]), unit),
            merged="," in name))
    rows.sort(key=lambda r: r.ms, reverse=True)
    return OperatorBreakdown(rows=tuple(rows), iterations=iterations, total_ms=total, engine=engine)


def parse_table(text: str) -> dict[str, Any]:
    """The `dumps(format="table")` text as the JSON aggregate shape (older MXNet has no JSON).

    Table rows under an "operator" heading: `Name  Total Count  Time (ms)  Min  Max  Avg`.
    """
    ops: dict[str, dict[str, float]] = {}
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or set(stripped) <= {"=", "-"}:
            continue
        if stripped in ("operator", "MXNET_C_API", "Device Storage"):
            section = stripped
            continue
        if section != "operator" or stripped.startswith("Name"):
            continue
        parts = stripped.rsplit(None, 5)
        if len(parts) != 6:
            continue
        try:
            count, total, mn, mx_, avg = (float(p) for p in parts[1:])
        except ValueError:
            continue
        ops[parts[0]] = {"Count": count, "Total": total, "Min": mn, "Max": mx_, "Avg": avg}
    return {"Time": {"operator": ops}, "Unit": {"Time": "ms"}}


def collect_aggregate(fn: Callable[[], Any], iterations: int, *,
                      trace_file: str = "mxprof-profile.json") -> dict[str, Any]:
    """Run `fn` `iterations` times under MXNet's profiler; the aggregate statistics document.

    `fn` must block until its outputs are computed (e.g. `net(x).wait_to_read()`). MXNet may
    write its own event file to `trace_file` at exit: point it into a scratch directory.
    """
    import mxnet as mx
    mx.nd.waitall()
    mx.profiler.set_config(profile_all=True, aggregate_stats=True, continuous_dump=False,
                           filename=trace_file)
    mx.profiler.dumps(reset=True)  # drop anything recorded before
    mx.profiler.set_state("run")
    try:
        for _ in range(iterations):
            fn()
        mx.nd.waitall()
    finally:
        mx.profiler.set_state("stop")
    try:
        return json.loads(mx.profiler.dumps(reset=True, format="json"))
    except (TypeError, ValueError):
        return parse_table(mx.profiler.dumps(reset=True))


def complete_events(trace_events: list[dict[str, Any]], start_us: float,
                    end_us: float) -> list[dict[str, Any]]:
    """MXNet's begin/end ("B"/"E") operator events inside a time window as Chrome complete
    events ("ph": "X"), ts relative to `start_us`, in start order.

    MXNet's profiler stamps events in microseconds since the epoch, so the window is the
    wall-clock interval of the traced iteration.
    """
    open_events: dict[tuple[Any, str], list[float]] = {}
    out: list[dict[str, Any]] = []
    for e in trace_events:
        if e.get("cat") != "operator" or e.get("ph") not in ("B", "E"):
            continue
        if e["name"] in ENGINE_OPS:
            continue
        key = (e.get("tid"), e["name"])
        if e["ph"] == "B":
            open_events.setdefault(key, []).append(float(e["ts"]))
        elif open_events.get(key):
            begin = open_events[key].pop()
            if begin >= start_us and float(e["ts"]) <= end_us:
                out.append({"name": e["name"], "cat": "operator", "ph": "X",
                            "ts": begin - start_us, "dur": float(e["ts"]) - begin,
                            "pid": 0, "tid": 0, "args": {"op": e["name"]}})
    out.sort(key=lambda ev: ev["ts"])
    return out


def trace_one_iteration(fn: Callable[[], Any], trace_file: str) -> list[dict[str, Any]]:
    """Operator events of one call of `fn`, from MXNet's profiler, as complete events.

    Call it before any other use of the profiler in the process: MXNet keeps writing events to
    the file name of its first run and ignores later `filename` settings (seen in 1.9.1).
    """
    import time

    import mxnet as mx
    mx.nd.waitall()
    mx.profiler.set_config(profile_all=True, aggregate_stats=False, continuous_dump=False,
                           filename=trace_file)
    start_us = time.time_ns() / 1e3
    mx.profiler.set_state("run")
    try:
        fn()
        mx.nd.waitall()
    finally:
        mx.profiler.set_state("stop")
    end_us = time.time_ns() / 1e3
    mx.profiler.dump(finished=False)
    with open(trace_file) as f:
        events = read_trace_events(f.read())
    return complete_events(events, start_us, end_us)


def read_trace_events(text: str) -> list[dict[str, Any]]:
    """Events of an MXNet profiler dump, also one written with `finished=False`, which is not
    valid JSON (stray commas after "[", no closing brackets)."""
    start = text.find("[", text.find('"traceEvents"'))
    if start < 0:
        return []
    decoder = json.JSONDecoder()
    events, pos, n = [], start + 1, len(text)
    while pos < n:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] != "{":
            break
        event, pos = decoder.raw_decode(text, pos)
        events.append(event)
    return events


def layer_trace_events(profile: dict[str, Any], iteration: int | None = None) -> list[dict]:
    """One iteration of a per-layer profile (mxprof.mx.layers `LayerProfile.to_dict()`) as
    Chrome complete events named by graph node, ts relative to the iteration's first layer.

    `windows` rows are (iteration, layer index, start ms, end ms); the last iteration is taken
    by default (the most warmed-up one).
    """
    windows = profile.get("windows") or []
    layers = profile.get("layers") or []
    if not windows or not layers:
        return []
    if iteration is None:
        iteration = max(int(w[0]) for w in windows)
    rows = sorted((w for w in windows if int(w[0]) == iteration), key=lambda w: w[2])
    if not rows:
        return []
    t0 = float(rows[0][2])
    events = []
    for _, idx, start, end in rows:
        layer = layers[int(idx)]
        events.append({"name": layer["name"], "cat": "layer", "ph": "X",
                       "ts": (float(start) - t0) * 1e3, "dur": (float(end) - float(start)) * 1e3,
                       "pid": 0, "tid": 0,
                       "args": {"op": layer["op"], "output_shape": layer.get("output_shape")}})
    return events
