"""The profile report: worker results folded into one schema-1 document (pure functions).

`build_report(results)` takes the `RunResult`s of one model (any subset: failed or missing
workers leave their sections None and are listed under "runs") and returns a JSON-ready dict:

  schema, tool, created, complete, model, environment, protocol,
  latency_ms {median, mean, p90, p99, min, max, stdev, n, ci95_low, ci95_high, first_call_ms},
  throughput {batch_size, images_per_s, batch_ms}, operators [{op, count, ms, percent}],
  layers [{name, op, ms, output_shape}], coverage {layers_ms, latency_ms, ratio, overhead_ms},
  breakdown_cost {bulk_on_ms, bulk_off_ms, ratio}, primitives {...}, trace [Chrome events],
  reference {the same measurements with MKL-DNN off, speedup {latency, throughput}},
  runs [{config, pass, status, wall_s, error, stderr_tail}], notes, missing,
  checks {fusion {status, summary, unfused_ms, fused_ms, gain_percent, groups, findings},
          equivalence {status, inputs, lines, configs [{name, max_abs_diff, max_rel_diff,
          top1_agreement, within_tolerance}]}} (added by the profile command when it runs them).

`add_diagnosis(report, ceilings)` adds `roofline` {ceilings, layers, primitives, headroom} and
`findings` [{rule, title, layers, evidence, fix, effect}] (mxprof.jobs.profile.diagnose);
`threads` {busy_threads, cpus_bound, parallelism, ...} comes from the timing pass.

`load_report(path)` reads one back (for `profile --load`), checking the schema.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import mxprof
from mxprof.jobs.profile.spec import SCHEMA, RunResult, load_json

LATENCY_KEYS = ("median", "mean", "p90", "p99", "min", "max", "stdev", "n", "ci95_low",
                "ci95_high", "first_call_ms")


def _latency(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stats:
        return None
    out = {k: stats.get(k) for k in LATENCY_KEYS}
    out["protocol"] = stats.get("protocol")
    out["warnings"] = list(stats.get("warnings") or [])
    return out


def _throughput(tp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not tp:
        return None
    return {"batch_size": tp["batch_size"], "images_per_s": tp["images_per_s"],
            "batch_ms": _latency(tp.get("batch_ms"))}


def _layer_rows(layers: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """A per-layer profile (mxprof.mx.layers `LayerProfile.to_dict()`) as {name, op, ms,
    output_shape} rows."""
    if not layers:
        return None
    rows = layers.get("layers", layers) if isinstance(layers, dict) else layers
    out = []
    for r in rows:
        out.append({"name": r.get("name"), "op": r.get("op"), "ms": r.get("ms"),
                    "output_shape": r.get("output_shape")})
    return out


def coverage(layer_rows: list[dict[str, Any]] | None, latency_ms: float | None) -> dict | None:
    """How much of the measured latency the layers explain; the rest is framework overhead."""
    if not layer_rows or not latency_ms:
        return None
    total = sum(float(r["ms"] or 0.0) for r in layer_rows)
    return {"layers_ms": total, "latency_ms": latency_ms, "ratio": total / latency_ms,
            "overhead_ms": latency_ms - total}


def _with_pass_latency(cov: dict | None, layers_run: RunResult | None) -> dict | None:
    """Add the layer pass's own latency: the layers were timed there (hooks on, NaiveEngine)."""
    if cov is None or not layers_run or not layers_run.layers:
        return cov
    own = layers_run.layers.get("latency_ms")
    if own:
        cov = {**cov, "layer_pass_latency_ms": own, "layer_pass_ratio": cov["layers_ms"] / own}
    return cov


def _ok(results: dict[str, RunResult], name: str) -> RunResult | None:
    r = results.get(name)
    return r if r is not None and r.ok else None


def _config_section(results: dict[str, RunResult]) -> dict[str, Any]:
    timing, ops_run = _ok(results, "timing"), _ok(results, "operators")
    layers_run, prim_run = _ok(results, "layers"), _ok(results, "primitives")
    latency = _latency(timing.latency) if timing else None
    bulk_off = _latency(ops_run.latency) if ops_run else None
    ops = ops_run.operators if ops_run else None
    layers = _layer_rows(layers_run.layers) if layers_run else None
    median = latency["median"] if latency else None
    trace = (layers_run.trace if layers_run and layers_run.trace
             else ops_run.trace if ops_run else None)
    section: dict[str, Any] = {
        "latency_ms": latency,
        "throughput": _throughput(timing.throughput) if timing else None,
        "operators": list(ops["rows"]) if ops else None,
        "operators_total_ms": ops["total_ms"] if ops else None,
        "operators_source": ops.get("source") if ops else None,
        "layers": layers,
        "layers_method": layers_run.layers.get("method") if layers else None,
        "coverage": _with_pass_latency(coverage(layers, median), layers_run),
        "breakdown_cost": None,
        "primitives": prim_run.primitives if prim_run else None,
        "trace": trace,
    }
    if latency:
        cost: dict[str, Any] = {"bulk_on_ms": latency["median"]}
        if bulk_off:
            cost.update(bulk_off_ms=bulk_off["median"], ratio=bulk_off["median"] / latency["median"])
        if layers_run and layers_run.layers.get("latency_ms"):
            own = layers_run.layers["latency_ms"]
            cost.update(layer_pass_ms=own, layer_pass_ratio=own / latency["median"])
        section["breakdown_cost"] = cost if len(cost) > 1 else None
    return section


def _speedup(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    lat_on, lat_off = on.get("latency_ms"), off.get("latency_ms")
    thr_on, thr_off = on.get("throughput"), off.get("throughput")
    return {
        "latency": lat_off["median"] / lat_on["median"] if lat_on and lat_off else None,
        "throughput": (thr_on["images_per_s"] / thr_off["images_per_s"]
                       if thr_on and thr_off else None),
    }


def _run_row(r: RunResult) -> dict[str, Any]:
    return {"config": r.spec.config, "pass": r.spec.pass_name, "status": r.status,
            "wall_s": r.wall_s, "error": r.error, "returncode": r.returncode,
            "stderr_tail": r.stderr_tail if not r.ok else None}


def build_report(results: list[RunResult], *, planned: int | None = None,
                 created: str | None = None) -> dict[str, Any]:
    """One schema-1 report from the runs of one model; `planned` = number of workers planned."""
    if not results:
        raise ValueError("no runs to report")
    by_config: dict[str, dict[str, RunResult]] = {}
    for r in results:
        by_config.setdefault(r.spec.config, {})[r.spec.pass_name] = r
    ok = [r for r in results if r.ok]
    first = next((r for r in ok if r.spec.mkldnn), ok[0] if ok else results[0])
    spec = first.spec
    env = dict(first.environment)
    prim = by_config.get("mkldnn", {}).get("primitives")
    if prim and prim.ok and prim.environment.get("onednn_version"):
        env["onednn_version"] = prim.environment["onednn_version"]
    main = _config_section(by_config.get("mkldnn", {}))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": f"mxprof {mxprof.__version__} profile",
        "created": created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "complete": len(ok) == (planned if planned is not None else len(results)),
        "model": {**spec.model.to_dict(), "weights": first.weights,
                  "weights_path": first.weights_path, "param_count": first.param_count},
        "environment": env,
        "protocol": {**spec.protocol.to_dict(), "batch_size": spec.batch_size,
                     "threads": spec.threads, "cpus": spec.cpus, "membind": spec.membind,
                     "hybridize": "static_alloc=True, static_shape=True",
                     "passes": "each pass in its own worker: timing (bulk exec on, no profiler); "
                               "operators (bulk exec off, MXNet profiler aggregate); layers "
                               "(per-layer hooks, mxprof.mx.layers LAYER_ENV); primitives "
                               "(DNNL_VERBOSE=1 with layer windows, never during timing)"},
        "mkldnn": True,
        **main,
        "reference": None,
        "runs": [_run_row(r) for r in results],
        "notes": sorted({n for r in results for n in r.notes}),
        "missing": sorted({m for r in results for m in r.missing}),
    }
    timing = by_config.get("mkldnn", {}).get("timing")
    if timing and timing.ok and timing.latency and timing.latency.get("threads"):
        report["threads"] = timing.latency["threads"]  # busy threads during the bs=1 timing
    if first.weights == "random":
        report["notes"].insert(0, "weights: random initialisation (no local pretrained file): "
                                  "timing is valid, accuracy is not")
    if "reference" in by_config:
        ref = _config_section(by_config["reference"])
        ref.pop("primitives")
        ref.pop("trace")
        report["reference"] = {"mkldnn": False, **ref, "speedup": _speedup(main, ref)}
    return report


def load_report(path: str) -> dict[str, Any]:
    data = load_json(path)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or "model" not in data:
        raise ValueError(f"{path} is not an mxprof profile result (schema {SCHEMA})")
    return data


def summary_line(report: dict[str, Any]) -> str:
    """One line for the end of a run: model, latencies, speedup, throughput."""
    name = report["model"]["name"]
    lat = report.get("latency_ms")
    ref = report.get("reference") or {}
    parts = [f"{name}:"]
    if lat:
        parts.append(f"latency bs=1 {lat['median']:.2f} ms (median of {lat['n']}, p90 "
                     f"{lat['p90']:.2f}) with MKL-DNN")
    else:
        parts.append("MKL-DNN timing failed")
    ref_lat = ref.get("latency_ms")
    if ref_lat:
        parts.append(f"vs {ref_lat['median']:.2f} ms without")
    sp = (ref.get("speedup") or {})
    if sp.get("latency"):
        parts.append(f"({sp['latency']:.2f}x)")
    thr = report.get("throughput")
    if thr:
        parts.append(f"; throughput bs={thr['batch_size']} {thr['images_per_s']:.1f} img/s")
        if sp.get("throughput"):
            parts.append(f"({sp['throughput']:.2f}x)")
    failed = [r for r in report.get("runs", []) if r["status"] != "ok"]
    if failed:
        parts.append(f"; {len(failed)} worker(s) failed")
    return " ".join(parts).replace(" ;", ";")


def add_diagnosis(report: dict[str, Any], ceilings: dict[str, Any] | None) -> dict[str, Any]:
    """The roofline section and the findings, most costly first (in place; returns report)."""
    from mxprof.jobs.profile.diagnose import diagnose, roofline_section
    report["roofline"] = roofline_section(report, ceilings)
    if ceilings and not ceilings.get("measured"):
        report["notes"].append(f"roofline: no measured ceilings ({ceilings.get('error')})")
    report["findings"] = [f.to_dict() for f in diagnose(report, ceilings)]
    return report
