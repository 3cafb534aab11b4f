"""The reference table's layout over compare rows (pure functions, no MXNet).

The MXNet 1.3 MKL-DNN benchmark printed, per model: latency at batch 1 without and with
MKL-DNN and the speedup, then throughput at batch 128 without and with and the speedup, with
"(bs N)" on cells measured at another batch. `layout(rows)` arranges `mxprof.jobs.compare.rows.rows`
that way, one line per model and throughput batch, one column group per machine and build;
`table()` formats it for the terminal and Markdown; `mxprof.render.csv_.csv_records` gives the
same numbers unformatted.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence
from typing import Any

from mxprof.jobs.compare.matrix import CONFIG_LABELS, CONFIGS
from mxprof.render.base import fmt_ratio
from mxprof.render.tables import Table, ratio_cell
from mxprof.timing.stats import ratio_text

SHORT = {"reference": "w/o", "mkldnn": "w/", "fused": "fused"}


@dataclasses.dataclass(frozen=True)
class Group:
    machine: str
    build: str
    instances: int
    threads: int | None = None  # only when a --threads sweep has several counts

    def name(self, machines: int, builds: int) -> str:
        parts = []
        if machines > 1:
            parts.append(self.machine.split(" (")[0])
        if builds > 1 or (machines == 1 and self.build != "current"):
            parts.append(self.build)
        if self.instances > 1:
            parts.append(f"{self.instances} inst")
        if self.threads:
            parts.append(f"{self.threads} thr")
        return "/".join(parts)


@dataclasses.dataclass(frozen=True)
class Line:
    model: str
    label: str
    category: str
    batch: int  # throughput batch (1 when only latency was asked)
    inputs: str | None  # per-sample input shapes: one model at two shapes is two lines
    cells: dict[Group, dict[str, dict[str, dict[str, Any]]]]  # group -> metric -> config -> row


@dataclasses.dataclass(frozen=True)
class Layout:
    groups: tuple[Group, ...]
    configs: tuple[str, ...]
    lines: tuple[Line, ...]
    usual_batch: int | None  # the throughput batch named in the header
    failed: tuple[dict[str, Any], ...]

    def group_names(self) -> dict[Group, str]:
        machines = len({g.machine for g in self.groups})
        builds = len({g.build for g in self.groups})
        return {g: g.name(machines, builds) for g in self.groups}


def _grouper(rows: Sequence[dict[str, Any]]):
    """row -> its column group; threads are part of it only in a --threads sweep."""
    swept = len({r.get("threads_asked") for r in rows}) > 1

    def group(r: dict[str, Any]) -> Group:
        return Group(r["machine"], r["build"], r["instances"],
                     r.get("threads_asked") if swept else None)
    return group


def layout(rows: Sequence[dict[str, Any]]) -> Layout:
    ok = [r for r in rows if r["metric"] != "failed"]
    group = _grouper(rows)
    groups = tuple(dict.fromkeys(group(r) for r in rows))
    configs = tuple(c for c in CONFIGS if any(r["config"] == c for r in rows))
    thr_batches = collections.Counter(r["batch_size"] for r in ok if r["metric"] == "throughput")
    usual = thr_batches.most_common(1)[0][0] if thr_batches else None
    models = list(dict.fromkeys((r["model"], r.get("inputs")) for r in rows))
    lines = []
    for model, inputs in models:
        def same(r, model=model, inputs=inputs):
            return r["model"] == model and r.get("inputs") == inputs
        mine = [r for r in ok if same(r)]
        failed = [r for r in rows if same(r) and r["metric"] == "failed"]
        batches = sorted({r["batch_size"] for r in mine if r["metric"] == "throughput"}) or [1]
        first = next((r for r in rows if same(r)), {})
        for batch in batches:
            lines.append(Line(model=model, label=first.get("label", model),
                              category=first.get("category", ""), batch=batch, inputs=inputs,
                              cells=_cells(mine, failed, batch, group)))
    return Layout(groups=groups, configs=configs, lines=tuple(lines), usual_batch=usual,
                  failed=tuple(r for r in rows if r["metric"] == "failed"))


def _cells(mine, failed, batch: int, group) -> dict[Group, dict[str, dict[str, dict[str, Any]]]]:
    cells: dict[Group, dict[str, dict[str, dict[str, Any]]]] = {}
    for r in mine:
        if r["metric"] == "throughput" and r["batch_size"] != batch:
            continue
        cells.setdefault(group(r), {}).setdefault(r["metric"], {})[r["config"]] = r
    for r in failed:
        cells.setdefault(group(r), {}).setdefault("failed", {})[r["config"]] = r
    return cells


def _num(value: float | None, interval: tuple[float, float] | None = None) -> str:
    """The one spread display (mxprof.render.table_model): 'value [low-high]'."""
    if value is None:
        return "-"
    digits = 2 if value < 1000 else 1
    text = f"{value:.{digits}f}"
    if interval is None:
        return text
    return f"{text} [{interval[0]:.{digits}f}-{interval[1]:.{digits}f}]"


def latency_interval(row: dict[str, Any]) -> tuple[float, float] | None:
    """The 95% interval of a latency row's median, in ms (its `stats` record); None when the
    row has none, or sums several bound instances (their medians are averaged)."""
    s = row.get("stats") or {}
    if row.get("instances", 1) > 1 or s.get("ci95_low") is None or s.get("ci95_high") is None:
        return None
    return s["ci95_low"], s["ci95_high"]


def rate_interval(row: dict[str, Any]) -> tuple[float, float] | None:
    """Images/s at the ends of the 95% interval of the median batch time (the slow end gives
    the low rate); None as for `latency_interval`."""
    ci = latency_interval(row)
    if ci is None or ci[0] <= 0:
        return None
    return row["batch_size"] * 1e3 / ci[1], row["batch_size"] * 1e3 / ci[0]


def speed_configs(configs: Sequence[str]) -> list[str]:
    return [c for c in configs if c != "reference" and "reference" in configs]


def _group_headers(lay: Layout, prefix: str = "") -> list[str]:
    out = []
    for metric, unit in (("lat", "ms"), ("thr", "img/s")):
        out += [f"{prefix}{metric} {SHORT[c]} ({unit})" for c in lay.configs]
        out += [f"{prefix}speedup{'' if c == 'mkldnn' else ' ' + SHORT[c]}"
                for c in speed_configs(lay.configs)]
    return out


def headers(lay: Layout) -> tuple[str, ...]:
    names = lay.group_names()
    out = ["model"]
    for g in lay.groups:
        out += _group_headers(lay, f"{names[g]}: " if names[g] else "")
    return tuple(out + _reference_headers(lay))


REFERENCE_HEADERS = ["ref speedup lat", "ref speedup thr"]


def reference_of(line: Line) -> dict[str, Any] | None:
    """Any row of the line: they all carry the reference's figures for the model."""
    for cell in line.cells.values():
        for by_config in cell.values():
            for r in by_config.values():
                return r
    return None


def _reference_headers(lay: Layout) -> list[str]:
    return REFERENCE_HEADERS if any(
        (reference_of(line) or {}).get("reference_speedups") for line in lay.lines) else []


def _reference_cells(lay: Layout, line: Line) -> list[str]:
    """The MXNet 1.3 benchmark's own speedups, beside ours; "(bs N)" when its throughput batch
    is not this line's."""
    if not _reference_headers(lay):
        return []
    row = reference_of(line) or {}
    ref = row.get("reference_speedups")
    if not ref:
        return ["-", "-"]
    batch = row.get("reference_batch")
    note = f" (bs {batch})" if batch and batch != line.batch else ""
    return [fmt_ratio(ref[0]), fmt_ratio(ref[1]) + note]


def _group_cells(lay: Layout, line: Line, g: Group) -> list[str]:
    cell = line.cells.get(g, {})
    lat, thr = cell.get("latency", {}), cell.get("throughput", {})
    missing = {c: "failed" if c in cell.get("failed", {}) else "-" for c in lay.configs}
    row = [_num(lat[c]["latency_ms"], latency_interval(lat[c]))
           if c in lat else missing[c] for c in lay.configs]
    row += [ratio_cell(lat[c].get("speedup_ratio"), lat[c].get("speedup")) if c in lat else "-"
            for c in speed_configs(lay.configs)]
    note = f" (bs {line.batch})" if line.batch != lay.usual_batch else ""
    row += [_num(thr[c]["images_per_s"], rate_interval(thr[c])) + note
            if c in thr else missing[c] for c in lay.configs]
    row += [ratio_cell(thr[c].get("speedup_ratio"), thr[c].get("speedup")) if c in thr else "-"
            for c in speed_configs(lay.configs)]
    return row


def _model_cell(line: Line) -> str:
    name = line.label if line.label == line.model else f"{line.label} ({line.model})"
    return f"{name}, {line.inputs}" if line.inputs else name


def _title(lay: Layout) -> str:
    title = "MKL-DNN comparison (latency batch 1 in ms"
    return title + (f"; throughput batch {lay.usual_batch} in images/s unless noted)"
                    if lay.usual_batch else ")")


def table(lay: Layout) -> Table:
    """The reference layout as text cells (value [95% CI of the median], speedups as 7.45x),
    one column group per machine and build."""
    out_rows = [tuple([_model_cell(line), *(c for g in lay.groups
                                            for c in _group_cells(lay, line, g)),
                       *_reference_cells(lay, line)])
                for line in lay.lines]
    return Table(title=_title(lay), headers=headers(lay), rows=tuple(out_rows),
                 footnote=footnote(lay))


MAX_SIDE_BY_SIDE = 2  # column groups a page shows side by side before stacking them


def page_table(lay: Layout) -> Table:
    """For Markdown and HTML: groups side by side up to MAX_SIDE_BY_SIDE, stacked beyond."""
    return table(lay) if len(lay.groups) <= MAX_SIDE_BY_SIDE else stacked_table(lay)


def stacked_table(lay: Layout) -> Table:
    """The same cells with the column groups as rows (model, then one row per machine and
    build): what fits a terminal when there are many groups."""
    names = lay.group_names()
    out_rows = []
    for line in lay.lines:
        ref = _reference_cells(lay, line)
        for i, g in enumerate(g for g in lay.groups if g in line.cells):
            out_rows.append((_model_cell(line) if i == 0 else "", names[g] or g.build,
                             *_group_cells(lay, line, g), *(ref if i == 0 else ["" for _ in ref])))
    return Table(title=_title(lay), headers=("model", "machine/build", *_group_headers(lay),
                                             *_reference_headers(lay)),
                 rows=tuple(out_rows), footnote=footnote(lay))


def footnote(lay: Layout) -> str:
    rows = [r for line in lay.lines for cell in line.cells.values()
            for metric, by_config in cell.items() if metric != "failed"
            for r in by_config.values()]
    parts = _measurement_lines(lay, rows) if rows else ["no finished runs"]
    parts += interval_lines(rows)
    parts += busy_lines(rows)
    if lay.failed:
        parts.append(f"{len(lay.failed)} run(s) failed, shown as 'failed': " + "; ".join(
            f"{r['model']} {r['config']} [{r['build']}]: {r.get('error')}" for r in lay.failed))
    return "\n".join(parts)


def busy_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The busy-machine rule (mxprof.cpu.load), the same for every command: which cells were
    measured while other processes used the CPUs, and how much they used."""
    busy = [r for r in rows if r.get("busy")]
    fractions = [r["other_cpu_fraction"] for r in rows if r.get("other_cpu_fraction") is not None]
    if not busy:
        return [f"machine load: other processes used at most {100 * max(fractions):.0f}% of "
                "the CPU time while each cell ran (busy above 10%)"] if fractions else [
            "machine load: not recorded (results written before mxprof measured it)"]
    cells = "; ".join(f"{r['model']} {SHORT[r['config']]} {r['metric']} bs={r['batch_size']} "
                      f"[{r['build']}]: {100 * (r.get('other_cpu_fraction') or 0):.0f}%"
                      for r in busy)
    # In the footnote rather than the cells: a mark would widen every column of a busy run.
    return [f"busy machine: {len(busy)} cell(s) ran while other processes used more than 10% "
            f"of the CPU time; their timings include waiting for the CPU (biased slow; "
            f"measure again on an idle machine): {cells}"]


def interval_lines(rows: list[dict[str, Any]]) -> list[str]:
    """How the intervals were made, and every build-vs-build ratio with its interval."""
    out = []
    procs = sorted({r.get("processes") or 1 for r in rows})
    if any(r.get("speedup_ratio") for r in rows):
        out.append(f"{'-'.join(map(str, procs))} process(es) per cell, interleaved; speedups "
                   "marked 'n.s.' have a 95% interval (hierarchical bootstrap over processes, "
                   "then calls) that contains 1: no significant difference")
    bare = sorted({r["model"] for r in rows if r.get("speedup") and not r.get("speedup_ratio")})
    if bare:
        out.append("speedups with no interval (summed bound instances, or files without "
                   f"per-call samples), significance unknown: {', '.join(bare)}")
    several = len({(r["machine"], r["build"]) for r in rows}) > 1
    for r in rows:
        # The cells show the ratio and 'n.s.'; its interval is here (and in --csv, --json).
        where = f" [{r['build']}, {r['machine'].split(' (')[0]}]" if several else ""
        what = f"{r['model']} {r['metric']} bs={r['batch_size']}{where}"
        for key, over in (("speedup_ratio", "w/o"), ("speedup_vs_mkldnn_ratio", "w/")):
            if r.get(key):
                out.append(f"{what}: {SHORT[r['config']]} over {over}: {ratio_text(r[key])}")
        vs = r.get("vs_build") or {}
        if vs.get("ratio"):
            out.append(f"{r['model']} {r['metric']} {SHORT[r['config']]} bs={r['batch_size']}: "
                       f"build {r['build']} vs {vs['build']}: {ratio_text(vs['ratio'])}")
        elif vs.get("speedup"):  # summed instances, or a side without samples
            out.append(f"{r['model']} {r['metric']} {SHORT[r['config']]} bs={r['batch_size']}: "
                       f"build {r['build']} vs {vs['build']}: {vs['speedup']:.2f}x, no interval "
                       "(summed instances or no per-call samples)")
    return out


def _measurement_lines(lay: Layout, rows: list[dict[str, Any]]) -> list[str]:
    n = [r["iterations"] for r in rows]
    threads = sorted({str(r["threads"] or "unknown") for r in rows})
    waits = sorted({str(r.get("wait_policy") or "not recorded") for r in rows})
    cpus = sorted({str(r["cpus"] or "not bound") for r in rows})
    affinity = sorted({str(r.get("affinity") or "not recorded") for r in rows})
    random = any(r.get("weights") == "random" for r in rows)
    names = lay.group_names()
    parts = [
        f"median of {min(n)}-{max(n)} timed calls per cell after a first call and "
        f"{warmup_text(rows)}; [low-high] is the 95% interval of the "
        "median (for images/s, the rates at the ends of the batch time's interval; none for "
        "summed instances)",
        "speedup: latency w/o / w/, throughput w/ / w/o (same machine, build and batch)",
        *(["ref speedup: the MXNet 1.3.0 benchmark's own (c5.18xlarge, 18 cores of one "
           "socket; throughput at its batch)"] if _reference_headers(lay) else []),
        f"threads {', '.join(threads)} (OpenMP wait policy {', '.join(waits)}); CPUs "
        f"{', '.join(cpus)}; workers' CPU affinity {', '.join(affinity)}",
        "configs: " + ", ".join(f"{SHORT[c]} = {CONFIG_LABELS[c]}" for c in lay.configs),
    ]
    for g in lay.groups:
        inst = f", {g.instances} bound instances, images/s summed" if g.instances > 1 else ""
        mine = [r for r in rows if r["machine"] == g.machine and r["build"] == g.build]
        parts.append(f"{names[g] or 'columns'}: {g.machine}{_cores(mine)}, build {g.build} "
                     f"(MXNet {_values(mine, 'mxnet')}, oneDNN {_values(mine, 'onednn')})"
                     f"{inst}")
    if random:
        parts.append("weights: random initialisation (timing valid, accuracy not)")
    return parts


def warmup_text(rows: list[dict[str, Any]]) -> str:
    """'5 warm-up calls' when every row had as many, else per metric as the protocol set
    them: '5 warm-up calls (latency) / 1 (throughput)' (a bare '1, 5' read as a list)."""
    per: dict[str, list[int]] = {}
    for r in rows:
        per.setdefault(r["metric"], []).append(r["warmup"])
    spans = {m: f"{min(w)}" if min(w) == max(w) else f"{min(w)}-{max(w)}"
             for m, w in sorted(per.items())}
    if len(set(spans.values())) == 1:
        return f"{next(iter(spans.values()))} warm-up calls"
    first, *rest = spans.items()
    return " / ".join([f"{first[1]} warm-up calls ({first[0]})",
                       *(f"{span} ({metric})" for metric, span in rest)])


def _values(rows: list[dict[str, Any]], key: str) -> str:
    return ", ".join(sorted({str(r.get(key) or "not recorded") for r in rows}))


def _cores(rows: list[dict[str, Any]]) -> str:
    cores = sorted({r["physical_cores"] for r in rows if r.get("physical_cores")})
    return f", {'/'.join(map(str, cores))} physical cores" if cores else ""
