"""oneDNN primitive executions attributed to the graph layers that ran them (pure functions).

Inputs:
* layer windows: a `mxprof.mx.layers.LayerProfile` (its `windows`, each layer execution as
  iteration, layer index, start and end in ms since the Unix epoch), or a DataFrame with columns
  iteration, layer, op, start_ms, end_ms;
* primitives: a table of verbose lines with at least timestamp_ms (the primitive's start,
  `DNNL_VERBOSE_TIMESTAMP=1`, ms since the epoch), kind, impl, problem, time_ms; prop_kind and
  mds are carried along when present, and a flops column is used when present.

Under NaiveEngine layer windows do not overlap and a primitive starts inside the window of the
operator that runs it, so one binary search per primitive attributes it. Primitives outside
every window (warm-up, weight reorders done before the timed calls) get layer None and
iteration -1.

Outputs: `attribute_primitives` -> one row per primitive execution with its layer;
`summarize_by_layer` -> per (layer, kind, impl, problem): executions and ms per iteration,
GFLOP/s; `reorder_report` -> how many reorders per iteration, how long, which layers cause them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mxprof.onednn.descriptors import conversion
from mxprof.onednn.flops import GFLOP_KINDS, flops
from mxprof.schema import Record

WINDOW_COLUMNS = ["iteration", "layer", "op", "start_ms", "end_ms"]


def windows_frame(profile_or_windows) -> pd.DataFrame:
    """Layer windows as a DataFrame (WINDOW_COLUMNS), sorted by start."""
    if isinstance(profile_or_windows, pd.DataFrame):
        frame = profile_or_windows[WINDOW_COLUMNS].copy()
    else:
        profile = profile_or_windows
        rows = [(it, profile.layers[i].name, profile.layers[i].op, start, end)
                for it, i, start, end in profile.windows]
        frame = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    return frame.sort_values("start_ms", kind="stable").reset_index(drop=True)


def attribute_primitives(profile_or_windows, primitives: pd.DataFrame) -> pd.DataFrame:
    """Primitives with three more columns: iteration, layer, layer_op (None/-1 if unattributed)."""
    windows = windows_frame(profile_or_windows)
    out = primitives.reset_index(drop=True).copy()
    ts = out["timestamp_ms"].to_numpy(dtype=float)
    starts = windows["start_ms"].to_numpy(dtype=float)
    ends = windows["end_ms"].to_numpy(dtype=float)
    j = np.searchsorted(starts, ts, side="right") - 1
    # Verbose timestamps have 1 us resolution (gettimeofday): allow that much at the window end.
    inside = (j >= 0) & (ts <= ends[np.clip(j, 0, None)] + 1e-3) if len(starts) else j >= 0
    inside &= ~np.isnan(ts)
    pick = np.where(inside, j, 0)
    out["iteration"] = np.where(inside, windows["iteration"].to_numpy()[pick] if len(windows)
                                else -1, -1).astype(np.int64)
    out["layer"] = pd.Series(np.where(inside, windows["layer"].to_numpy()[pick]
                                      if len(windows) else None, None), dtype=object)
    out["layer_op"] = pd.Series(np.where(inside, windows["op"].to_numpy()[pick]
                                         if len(windows) else None, None), dtype=object)
    return out


def _timed_execs(attributed: pd.DataFrame) -> pd.DataFrame:
    """Rows inside a timed iteration that are executions (creation lines carry times too)."""
    keep = attributed["iteration"] >= 0
    if "operation" in attributed.columns:
        keep &= (attributed["operation"] == "exec").to_numpy()
    return attributed[keep]


def _iterations(attributed: pd.DataFrame, iterations: int | None) -> int:
    if iterations is not None:
        return iterations
    seen = _timed_execs(attributed)["iteration"].nunique()
    return max(int(seen), 1)


def _flops(kind: str, problem: str, mds: str, aux: str) -> float | None:
    """FLOPs of one execution of a kind whose GFLOP/s the layer table shows (an rnn descriptor
    lacks the gate count and directions: mxprof.onednn.flops reads them from its aux field)."""
    return flops(kind, problem, mds, aux) if kind in GFLOP_KINDS else None


def summarize_by_layer(attributed: pd.DataFrame, iterations: int | None = None) -> pd.DataFrame:
    """Per (layer, kind, impl, problem) inside the timed iterations: executions and ms per
    iteration, mean ms per execution, GFLOP/s (convolution, inner product, matmul, rnn), sorted
    by ms."""
    n = _iterations(attributed, iterations)
    timed = _timed_execs(attributed).copy()
    if "flops" not in timed.columns:
        aux = timed["aux"] if "aux" in timed.columns else [""] * len(timed)
        mds = timed["mds"] if "mds" in timed.columns else [""] * len(timed)
        flops = (_flops(str(k), str(p), str(m), str(a))
                 for k, p, m, a in zip(timed["kind"], timed["problem"], mds, aux))
        timed["flops"] = [np.nan if f is None else f for f in flops]
    keys = ["layer", "layer_op", "kind", "impl", "problem"]
    grouped = timed.groupby(keys, sort=False, dropna=False, observed=True).agg(
        executions=("time_ms", "size"), total_ms=("time_ms", "sum"), flops=("flops", "sum"))
    table = grouped.reset_index()
    table["count_per_iter"] = table["executions"] / n
    table["ms_per_iter"] = table["total_ms"] / n
    table["ms_per_exec"] = table["total_ms"] / table["executions"]
    with np.errstate(divide="ignore", invalid="ignore"):
        gflops = table["flops"] / (table["total_ms"] * 1e6)
    table["gflops_per_s"] = gflops.where(table["flops"] > 0)
    table = table.drop(columns=["executions", "total_ms", "flops"])
    return table.sort_values("ms_per_iter", ascending=False, kind="stable").reset_index(drop=True)


class LayerReorders(Record, frozen=True):
    """Reorders run inside one layer: per iteration count and ms, and the formats they convert."""

    layer: str
    op: str
    count_per_iter: float
    ms_per_iter: float
    conversions: tuple[str, ...]


class ReorderReport(Record, frozen=True):
    """Reorders per iteration (inside timed layers), their time, and the layers causing them,
    most expensive first; `outside_count` counts reorders outside every layer window."""

    count_per_iter: float
    ms_per_iter: float
    layers: tuple[LayerReorders, ...]
    outside_count: int


def reorder_report(attributed: pd.DataFrame, iterations: int | None = None) -> ReorderReport:
    """How many reorders run per iteration, how long they take, and which layers run them."""
    n = _iterations(attributed, iterations)
    reorders = attributed[(attributed["kind"] == "reorder").to_numpy()]
    timed = _timed_execs(reorders)
    mds = timed["mds"] if "mds" in timed.columns else pd.Series([None] * len(timed),
                                                                 index=timed.index)
    layers = []
    for (layer, op), group in timed.groupby(["layer", "layer_op"], sort=False, observed=True):
        conversions = tuple(sorted({conversion(m) for m in mds.loc[group.index]}))
        layers.append(LayerReorders(str(layer), str(op), len(group) / n,
                                    float(group["time_ms"].sum()) / n, conversions))
    layers.sort(key=lambda x: -x.ms_per_iter)
    return ReorderReport(len(timed) / n, float(timed["time_ms"].sum()) / n, tuple(layers),
                         int((reorders["iteration"] < 0).sum()))
