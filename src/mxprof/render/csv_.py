"""Compare reports as CSV: the reference layout, one line per model and column group, numbers
unformatted (ms, images/s, speedup factors), empty where a cell was not measured.

Columns, per configuration C (reference, mkldnn, fused) where they apply: the medians and
quartiles (`latency_ms_C`, `images_per_s_C`...), then each speedup over MKL-DNN off with its 95%
interval and `_significant` (interval excludes 1). Appended after those, so that readers by
position keep working: each median's 95% interval (`latency_ci95_low_ms_C`,
`images_per_s_ci95_low_C`...), fused over MKL-DNN on and this build over the machine's first
(`*_vs_build_C`, `_base` naming it) with their intervals, and what the workers ran with
(hostname, CPU model, physical cores, MXNet, oneDNN, threads, wait policy, binding, affinity,
weights), values joined with ' | ' where the rows of a line differ.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.compare_table import (
    Layout,
    latency_interval,
    layout,
    rate_interval,
    reference_of,
    speed_configs,
)


class CompareCsvRenderer(Renderer):
    name = "compare-csv"
    extension = ".csv"

    def render(self, report: dict[str, Any]) -> str:
        records = csv_records(layout(report["rows"]))
        buf = io.StringIO()
        if not records:
            return ""
        writer = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: "" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in rec.items()})
        return buf.getvalue()


# CSV column prefix -> the compare row's key, per metric (the config name is appended).
_CSV_FIELDS = {
    "latency": (("latency_ms", "latency_ms"), ("latency_q1_ms", "q1_ms"),
                ("latency_q3_ms", "q3_ms")),
    "throughput": (("images_per_s", "images_per_s"), ("images_per_s_low", "images_per_s_low"),
                   ("images_per_s_high", "images_per_s_high")),
}


def csv_records(lay: Layout) -> list[dict[str, Any]]:
    """One record per line and column group, numbers unformatted (for csv and pandas)."""
    out = []
    for line in lay.lines:
        for g in lay.groups:
            cell = line.cells.get(g)
            if not cell:
                continue
            lat, thr = cell.get("latency", {}), cell.get("throughput", {})
            rec: dict[str, Any] = {"machine": g.machine, "build": g.build,
                                   "instances": g.instances, "category": line.category,
                                   "model": line.model, "throughput_batch": line.batch}
            for metric, rows in (("latency", lat), ("throughput", thr)):
                for c in lay.configs:
                    for column, key in _CSV_FIELDS[metric]:
                        rec[f"{column}_{c}"] = rows[c][key] if c in rows else None
                for c in speed_configs(lay.configs):
                    rec[f"{metric}_speedup_{c}"] = rows[c].get("speedup") if c in rows else None
                    rec.update(_ratio_fields(f"{metric}_speedup_{c}", rows.get(c)))
            ref = (reference_of(line) or {}).get("reference_speedups") or (None, None)
            rec["reference_latency_speedup"], rec["reference_throughput_speedup"] = ref
            # Columns added since: appended, so the old ones keep their places.
            rec.update(_interval_fields(lay, lat, thr))
            rec.update(_environment_fields(cell))
            out.append(rec)
    return out


def _interval_fields(lay: Layout, lat: dict[str, Any], thr: dict[str, Any]) -> dict[str, Any]:
    """Each median's 95% interval, and every other comparison with its interval: fused over
    MKL-DNN on, and this build over the machine's first build (`vs_build`)."""
    rec: dict[str, Any] = {}
    for c in lay.configs:
        ci = latency_interval(lat[c]) if c in lat else None
        rec[f"latency_ci95_low_ms_{c}"], rec[f"latency_ci95_high_ms_{c}"] = ci or (None, None)
        ci = rate_interval(thr[c]) if c in thr else None
        rec[f"images_per_s_ci95_low_{c}"], rec[f"images_per_s_ci95_high_{c}"] = ci or (None, None)
    for metric, rows in (("latency", lat), ("throughput", thr)):
        if "fused" in lay.configs and "mkldnn" in lay.configs:
            row = rows.get("fused") or {}
            prefix = f"{metric}_speedup_fused_vs_mkldnn"
            rec[prefix] = row.get("speedup_vs_mkldnn")
            rec.update(_ratio_fields(prefix, {"speedup_ratio": row.get(
                "speedup_vs_mkldnn_ratio")}))
        for c in lay.configs:
            vs = (rows.get(c) or {}).get("vs_build") or {}
            prefix = f"{metric}_vs_build_{c}"
            rec[f"{prefix}_base"] = vs.get("build")
            rec[prefix] = vs.get("speedup")
            rec.update(_ratio_fields(prefix, {"speedup_ratio": vs.get("ratio")}))
    return rec


# CSV column -> the compare row's key: what the cell's workers ran with (README: every report
# names the MXNet and oneDNN versions, CPU, cores, affinity, threads and wait policy).
_ENVIRONMENT_FIELDS = (("hostname", "hostname"), ("cpu_model", "cpu_model"),
                       ("physical_cores", "physical_cores"), ("mxnet", "mxnet"),
                       ("onednn", "onednn"), ("threads", "threads"),
                       ("wait_policy", "wait_policy"), ("cpus", "cpus"),
                       ("membind", "membind"), ("affinity", "affinity"),
                       ("weights", "weights"), ("inputs", "inputs"), ("busy", "busy"),
                       ("other_cpu_fraction", "other_cpu_fraction"))


def _environment_fields(cell: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The environment columns, joined with ' | ' where the cell's rows differ."""
    rows = [r for by_config in cell.values() for r in by_config.values()]
    out = {}
    for column, key in _ENVIRONMENT_FIELDS:
        values = list(dict.fromkeys(str(r[key]) for r in rows if r.get(key) is not None))
        out[column] = " | ".join(values) if values else None
    return out


def _ratio_fields(prefix: str, row: dict[str, Any] | None) -> dict[str, Any]:
    r = (row or {}).get("speedup_ratio") or {}
    return {f"{prefix}_low": r.get("ci95_low"), f"{prefix}_high": r.get("ci95_high"),
            f"{prefix}_significant": r.get("significant")}


def write_compare(result, path: str) -> None:
    """`--csv PATH` of a compare (or merge) result (mxprof.render.outputs)."""
    from mxprof.render.base import as_dict
    CompareCsvRenderer().write(as_dict(result), path)
