"""The profile report: worker results folded into one schema-1 document (pure functions).

`build_report(results)` takes the `RunResult`s of one model (any subset: failed or missing
workers leave their sections None and are listed under "runs") and returns a JSON-ready dict:

  schema, tool, created, complete, model, environment, protocol,
  latency_ms {median, mean, p90, p99, min, max, stdev, n, ci95_low, ci95_high, first_call_ms},
  throughput {batch_size, images_per_s, batch_ms}, operators [{op, count, ms, percent}],
  layers [{name, op, ms, output_shape}], coverage {layers_ms, latency_ms, ratio, overhead_ms},
  breakdown_cost {bulk_on_ms, bulk_off_ms, ratio}, primitives {...}, trace [Chrome events],
  wait_policy {policy of the timing processes: active | passive | mixed, workers [{pass,
  policy, asked, why, share}]} (the OpenMP wait decision of every worker; mixed policies and
  a speedup across two policies get a note),
  reference {the same measurements with MKL-DNN off, speedup {latency, throughput}},
  runs [{config, pass, status, wall_s, error, stderr_tail}], notes, missing,
  checks {fusion {status, summary, unfused_ms, fused_ms, gain_percent, groups, findings},
          equivalence {status, inputs, lines, configs [{name, max_abs_diff, max_rel_diff,
          top1_agreement, within_tolerance}]}} (added by the profile command when it runs them).

`diagnosis(report, ceilings)` gives `roofline` {ceilings, layers, primitives, headroom,
roof_refuted} and `findings` [{rule, title, layers, evidence, fix, effect}]
(mxprof.jobs.profile.roofline_section, mxprof.jobs.profile.diagnose) for the profile job's run
to set;
`threads` {busy_threads, cpus_bound, parallelism, ...} comes from the timing pass.

`mxprof.jobs.results.load("profile", path)` reads one back, checking the schema.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from mxprof._version import __version__
from mxprof.jobs.profile.spec import RunResult
from mxprof.schema import SCHEMA
from mxprof.timing.stats import ratio_text

LATENCY_KEYS = ("median", "mean", "p90", "p99", "min", "max", "stdev", "n", "ci95_low",
                "ci95_high", "first_call_ms")


def _latency(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stats:
        return None
    out = {k: stats.get(k) for k in LATENCY_KEYS}
    out["protocol"] = stats.get("protocol")
    out["warnings"] = list(stats.get("warnings") or [])
    # Every timed call, so that a page can draw the distribution, not only its summary.
    out["samples_ms"] = list(stats.get("samples_ms") or [])
    return out


def _pooled_timing(runs: list[RunResult]) -> tuple[dict | None, dict | None]:
    """(latency, throughput) over every timing process of one configuration."""
    from mxprof.timing.pooled import pooled_latency
    ok = [r for r in runs if r.ok and r.latency]
    if not ok:
        return None, None
    latency = pooled_latency([r.latency for r in ok])
    tps = [r.throughput for r in ok if r.throughput]
    if not tps:
        return latency, None
    batch_ms = pooled_latency([t.get("batch_ms") for t in tps])
    batch = tps[0]["batch_size"]
    return latency, {"batch_size": batch, "images_per_s": batch * 1e3 / batch_ms["median"],
                     "batch_ms": batch_ms,
                     "per_process_images_per_s": [t["images_per_s"] for t in tps]}


def _layer_rows(layers: dict[str, Any] | None,
                more: list[dict[str, Any]] = ()) -> list[dict[str, Any]] | None:
    """A per-layer profile (mxprof.mx.layers `LayerProfile.to_dict()`) as {name, op, ms,
    output_shape, samples_ms} rows; `samples_ms` holds each timed iteration's ms, one list per
    layers process (`more`: the profiles of the other processes of the same configuration,
    pooled by node name: `ms` is then the median of all their iterations)."""
    if not layers:
        return None
    rows = layers.get("layers", layers) if isinstance(layers, dict) else layers
    others = [{r.get("name"): r for r in (m.get("layers") or ())} for m in more if m]
    out = []
    for r in rows:
        groups = [list(r.get("samples_ms") or ())] + [
            list(o[r.get("name")].get("samples_ms") or ()) for o in others if r.get("name") in o]
        groups = [g for g in groups if g]
        ms = r.get("ms")
        if len(groups) > 1:
            ms = float(np.median(np.concatenate(groups)))
        out.append({"name": r.get("name"), "op": r.get("op"), "ms": ms,
                    "output_shape": r.get("output_shape"), "samples_ms": groups or None})
    return out


def coverage(layer_rows: list[dict[str, Any]] | None, latency_ms: float | None) -> dict | None:
    """How much of the measured latency the layers explain; the rest is framework overhead."""
    if not layer_rows or not latency_ms:
        return None
    total = sum(float(r["ms"] or 0.0) for r in layer_rows)
    out = {"layers_ms": total, "latency_ms": latency_ms, "ratio": total / latency_ms,
           "overhead_ms": latency_ms - total, "overhead_plausible": total <= latency_ms}
    # The layers were timed in another process with hooks on: a sum above the timing pass's
    # latency is noise or hook cost, not a negative overhead.
    why = implausible("layers", total, latency_ms, "another process, no hooks",
                      "framework overhead not measurable here")
    if why:
        out["implausible"] = why
    return out


def implausible(what: str, total: float | None, latency_ms: float | None, how: str,
                consequence: str) -> str | None:
    """The one plausibility rule of every breakdown (layers, operators, primitives): parts
    that add up to more than the whole are flagged, with why, never shown as a share."""
    if not total or not latency_ms or total <= latency_ms:
        return None
    return (f"the {what} sum to {total:.2f} ms, more than the {latency_ms:.2f} ms median "
            f"latency of the timing pass ({how}): {consequence}")


def _with_pass_latency(cov: dict | None, layers_run: RunResult | None) -> dict | None:
    """Add the layer pass's own latency: the layers were timed there (hooks on, NaiveEngine)."""
    if cov is None or not layers_run or not layers_run.layers:
        return cov
    own = layers_run.layers.get("latency_ms")
    if own:
        cov = {**cov, "layer_pass_latency_ms": own, "layer_pass_ratio": cov["layers_ms"] / own}
    return cov


def _ok(results: dict[str, list[RunResult]], name: str) -> RunResult | None:
    return next((r for r in reversed(results.get(name) or []) if r.ok), None)


def _config_section(results: dict[str, list[RunResult]]) -> dict[str, Any]:
    ops_run = _ok(results, "operators")
    layers_run, prim_run = _ok(results, "layers"), _ok(results, "primitives")
    latency, throughput = _pooled_timing(results.get("timing") or [])
    bulk_off = _latency(ops_run.latency) if ops_run else None
    ops = ops_run.operators if ops_run else None
    # Every layers process of the configuration (one, or one per --processes) pooled.
    other_layers = [r.layers for r in results.get("layers") or () if r.ok and r is not layers_run]
    layers = _layer_rows(layers_run.layers, other_layers) if layers_run else None
    median = latency["median"] if latency else None
    trace = (layers_run.trace if layers_run and layers_run.trace
             else ops_run.trace if ops_run else None)
    section: dict[str, Any] = {
        "latency_ms": latency,
        "throughput": throughput,
        "operators": list(ops["rows"]) if ops else None,
        "operators_total_ms": ops["total_ms"] if ops else None,
        "operators_source": ops.get("source") if ops else None,
        "operators_implausible": implausible(
            "operators", ops["total_ms"] if ops else None, median,
            "the operator pass ran with bulk execution off and the profiler on",
            "their shares are of that pass, not of this latency"),
        "layers": layers,
        "layers_method": layers_run.layers.get("method") if layers else None,
        "coverage": _with_pass_latency(coverage(layers, median), layers_run),
        "breakdown_cost": None,
        "primitives": prim_run.primitives if prim_run else None,
        "trace": trace,
        "wait_policy": _wait_section(results),
    }
    if latency:
        cost: dict[str, Any] = {"bulk_on_ms": latency["median"]}
        if bulk_off:
            cost.update(bulk_off_ms=bulk_off["median"], ratio=bulk_off["median"] / latency["median"])
            # A comparison like any other: its interval, from both sides' calls.
            from mxprof.timing.pooled import ratio
            interval = ratio(bulk_off, latency, "bulk execution off vs on")
            cost["ratio_interval"] = interval.to_dict() if interval else None
        if layers_run and layers_run.layers.get("latency_ms"):
            own = layers_run.layers["latency_ms"]
            cost.update(layer_pass_ms=own, layer_pass_ratio=own / latency["median"])
        section["breakdown_cost"] = cost if len(cost) > 1 else None
    return section


def _wait_section(results: dict[str, list[RunResult]]) -> dict[str, Any] | None:
    """How the OpenMP threads of one configuration's workers waited: {policy (of its timing
    processes: "active", "passive" or "mixed"), workers [{pass, policy, asked, why, share}]};
    None for results from before decisions were recorded."""
    workers = [{"pass": r.spec.pass_name, "policy": r.wait.policy, "asked": r.wait.asked,
                "why": r.wait.why, "share": r.wait.window.share if r.wait.window else None}
               for runs in results.values() for r in runs if r.wait is not None]
    if not workers:
        return None
    timing = {w["policy"] for w in workers if w["pass"] == "timing"} or {
        w["policy"] for w in workers}
    return {"policy": timing.pop() if len(timing) == 1 else "mixed", "workers": workers}


def wait_notes(main: dict[str, Any] | None, ref: dict[str, Any] | None) -> list[str]:
    """What a reader must know before comparing figures that ran under different OpenMP wait
    policies (passive cost 41% of resnet50_v1's batch-1 latency on the quiet 2-CPU VM)."""
    notes = []
    for name, section in (("MKL-DNN on", main), ("MKL-DNN off", ref)):
        wait = (section or {}).get("wait_policy") or {}
        if wait.get("policy") == "mixed":
            counts = _policy_counts(w for w in wait["workers"] if w["pass"] == "timing")
            notes.append(f"wait policy: the timing processes of {name} ran under different "
                         f"OpenMP wait policies ({counts}; auto decides per worker from the "
                         "CPUs' load just before it starts): its pooled latency mixes them")
    on = ((main or {}).get("wait_policy") or {}).get("policy")
    off = ((ref or {}).get("wait_policy") or {}).get("policy")
    if on and off and on != off:
        notes.append(f"wait policy: MKL-DNN on ran {on}, MKL-DNN off ran {off}: the MKL-DNN "
                     "speedup includes the difference of wait policies; run again with "
                     "--wait-policy active or passive to compare under one")
    return notes


def _policy_counts(workers) -> str:
    counts: dict[str, int] = {}
    for w in workers:
        counts[w["policy"]] = counts.get(w["policy"], 0) + 1
    return ", ".join(f"{p} x{n}" for p, n in sorted(counts.items()))


def _speedup(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    """Plain ratios (schema 1) plus `*_ratio`: the Ratio record with interval and significance."""
    from mxprof.timing.pooled import ratio
    lat_on, lat_off = on.get("latency_ms"), off.get("latency_ms")
    thr_on, thr_off = on.get("throughput"), off.get("throughput")
    lat_r = ratio(lat_off, lat_on, "latency")
    thr_r = ratio((thr_off or {}).get("batch_ms"), (thr_on or {}).get("batch_ms"), "throughput")
    return {
        "latency": lat_off["median"] / lat_on["median"] if lat_on and lat_off else None,
        "throughput": (thr_on["images_per_s"] / thr_off["images_per_s"]
                       if thr_on and thr_off else None),
        "latency_ratio": lat_r.to_dict() if lat_r else None,
        "throughput_ratio": thr_r.to_dict() if thr_r else None,
    }


def _run_row(r: RunResult) -> dict[str, Any]:
    return {"config": r.spec.config, "pass": r.spec.pass_name, "status": r.status,
            "wall_s": r.wall_s, "error": r.error, "returncode": r.returncode,
            "stderr_tail": r.stderr_tail if not r.ok else None}


# What each pass really hybridizes with: the per-layer hooks need CachedOp to invoke nodes one by
# one, so the layers and primitives passes re-hybridize with mxprof.mx.layers.LAYER_HYBRIDIZE
# (static_shape=False); the test in tests/test_worker_protocol.py holds this text to it.
HYBRIDIZE = ("timing, operators: static_alloc=True, static_shape=True; layers, primitives: "
             "static_alloc=True, static_shape=False (per-layer hooks, mxprof.mx.layers)")


def _passes_text(results: list[RunResult]) -> str:
    """How the passes ran, and which shared a process (mxprof.jobs.profile.runner.JOINS)."""
    shared = any("timing" in r.shared_with for r in results if r.spec.pass_name == "operators")
    where = ("in the last timing process of its configuration, after the timing is written; "
             "bulk off is read when the re-hybridized graph is built" if shared else
             "in its own worker")
    return ("timing (bulk exec on, no profiler); operators (bulk exec off, MXNet profiler "
            f"aggregate; {where}); layers (own worker: per-layer hooks, mxprof.mx.layers "
            "LAYER_ENV, NaiveEngine is chosen at load); primitives (own worker: DNNL_VERBOSE=1 "
            "with layer windows, read once at oneDNN's first primitive, never during timing)")


def build_report(results: list[RunResult], *, planned: int | None = None,
                 created: str | None = None) -> dict[str, Any]:
    """One schema-1 report from the runs of one model; `planned` = number of workers planned."""
    if not results:
        raise ValueError("no runs to report")
    by_config: dict[str, dict[str, list[RunResult]]] = {}
    for r in results:
        by_config.setdefault(r.spec.config, {}).setdefault(r.spec.pass_name, []).append(r)
    ok = [r for r in results if r.ok]
    first = next((r for r in ok if r.spec.mkldnn), ok[0] if ok else results[0])
    spec = first.spec
    env = dict(first.environment)
    prim = _ok(by_config.get("mkldnn", {}), "primitives")
    if prim and prim.environment.get("onednn_version"):
        env["onednn_version"] = prim.environment["onednn_version"]
    main = _config_section(by_config.get("mkldnn", {}))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": f"mxprof {__version__} profile",
        "created": created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "complete": len(ok) == (planned if planned is not None else len(results)),
        "model": {**spec.model.to_dict(), "weights": first.weights,
                  "weights_path": first.weights_path, "param_count": first.param_count},
        "environment": env,
        "protocol": {**spec.protocol.to_dict(), "batch_size": spec.batch_size,
                     "threads": spec.threads, "threads_why": spec.threads_why,
                     "cpus": spec.cpus, "membind": spec.membind,
                     "hybridize": HYBRIDIZE,
                     "breakdown_batch": spec.breakdown,
                     "passes": _passes_text(results)},
        "mkldnn": True,
        **main,
        "machine_load": None,
        "reference": None,
        "runs": [_run_row(r) for r in results],
        "notes": sorted({n for r in results for n in r.notes}),
        "missing": sorted({m for r in results for m in r.missing}),
    }
    lat = main.get("latency_ms") or {}
    report["protocol"]["processes"] = lat.get("processes", 1)
    report["protocol"]["interval"] = lat.get("ci_method")
    report["protocol"]["processes_order"] = "interleaved A B A B across configurations"
    timing = _ok(by_config.get("mkldnn", {}), "timing")
    if timing and timing.latency and timing.latency.get("threads"):
        report["threads"] = timing.latency["threads"]  # busy threads during the bs=1 timing
    if first.weights == "random":
        report["notes"].insert(0, "weights: random initialisation (no local pretrained file): "
                                  "timing is valid, accuracy is not")
    if "reference" in by_config:
        ref = _config_section(by_config["reference"])
        ref.pop("primitives")
        ref.pop("trace")
        report["reference"] = {"mkldnn": False, **ref, "speedup": _speedup(main, ref)}
    waits = wait_notes(main, report["reference"])
    report["notes"].extend(waits)
    if report["reference"] and any("speedup includes" in n for n in waits):
        report["reference"]["speedup"]["note"] = waits[-1]
    return report


def summary_line(report: dict[str, Any]) -> str:
    """One line for the end of a run: model, latencies, speedup, throughput."""
    name = report["model"]["name"]
    lat = report.get("latency_ms")
    ref = report.get("reference") or {}
    parts = [f"{name}:"]
    if lat:
        p90 = "-" if lat.get("p90") is None else f"{lat['p90']:.2f}"
        procs = f" in {lat['processes']} processes" if (lat.get("processes") or 1) > 1 else ""
        parts.append(f"latency bs=1 {lat['median']:.2f} ms (median of {lat['n']}{procs}, p90 "
                     f"{p90}) with MKL-DNN")
    else:
        parts.append("MKL-DNN timing failed")
    ref_lat = ref.get("latency_ms")
    if ref_lat:
        parts.append(f"vs {ref_lat['median']:.2f} ms without")
    sp = (ref.get("speedup") or {})
    if sp.get("latency_ratio"):
        parts.append(f"({ratio_text(sp['latency_ratio'])})")
    elif sp.get("latency"):
        parts.append(f"({sp['latency']:.2f}x)")
    thr = report.get("throughput")
    if thr:
        parts.append(f"; throughput bs={thr['batch_size']} {thr['images_per_s']:.1f} img/s")
        if sp.get("throughput_ratio"):
            parts.append(f"({ratio_text(sp['throughput_ratio'])})")
        elif sp.get("throughput"):
            parts.append(f"({sp['throughput']:.2f}x)")
    failed = [r for r in report.get("runs", []) if r["status"] != "ok"]
    if failed:
        parts.append(f"; {len(failed)} worker(s) failed")
    return " ".join(parts).replace(" ;", ";")


def diagnosis(report: dict[str, Any], ceilings: dict[str, Any] | None) -> dict[str, Any]:
    """The sections a diagnosis sets, from `report` without changing it: `roofline`,
    `findings` (most costly first) and `notes` (the report's, with this diagnosis's roofline
    notes replacing those of an earlier one, so diagnosing again with re-measured ceilings
    leaves one set)."""
    from mxprof.jobs.profile.diagnose import diagnose
    from mxprof.jobs.profile.roofline_section import roofline_section
    roofline = roofline_section(report, ceilings)
    notes = [n for n in report["notes"] if not n.startswith("roofline: ")]
    if ceilings and not ceilings.get("measured"):
        notes.append(f"roofline: no measured ceilings ({ceilings.get('error')})")
    notes += [f"roofline: {w}" for w in (roofline or {}).get("warnings", [])]
    return {"roofline": roofline, "notes": notes,
            "findings": [f.to_dict() for f in diagnose(report, ceilings)]}


def add_diagnosis(report: dict[str, Any], ceilings: dict[str, Any] | None) -> dict[str, Any]:
    """`report` with `diagnosis(report, ceilings)` applied (in place; returns report)."""
    report.update(diagnosis(report, ceilings))
    return report
