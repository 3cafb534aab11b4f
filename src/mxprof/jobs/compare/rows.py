"""The rows of a comparison: one per machine, build, model, configuration and batch (pure).

`rows(records)` reads the records a sweep left in its results file (`mxprof.jobs.compare.matrix`
`make_record`, one per finished run) and gives one row per (machine, build, model,
configuration, batch) with `latency_ms` (batch 1) or `images_per_s`, spread and protocol, and
`speedup` of MKL-DNN (and fused) over MKL-DNN off in the same machine and build: latency
off/on, throughput on/off. Several processes of one run (one record each, `process` 0..N-1)
are pooled into one row (`mxprof.timing.pooled`), and every speedup gets `*_ratio` (a
`mxprof.timing.stats.Ratio` dict: 95% interval, `significant`) from the hierarchical bootstrap
of the per-process samples. `build_report(records, notes)` is the `compare --json` document.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mxprof.jobs.compare.cluster import class_label
from mxprof.jobs.compare.instances import instance_binding
from mxprof.jobs.compare.matrix import (
    MODEL_BATCH,
    MODEL_LABEL,
    REFERENCE_SPEEDUPS,
    category,
    machine_label,
    machine_of,
)
from mxprof.jobs.compare.results_log import latest_by_key
from mxprof.jobs.profile.spec import RunResult
from mxprof.schema import SCHEMA


def _quartiles(stats: dict[str, Any]) -> tuple[float, float]:
    """(q1, q3) of the per-call times; the median twice when a timer did not give them."""
    return (stats.get("q1") or stats["median"], stats.get("q3") or stats["median"])


def _base_row(record: dict[str, Any], result: RunResult) -> dict[str, Any]:
    spec = result.spec
    env = result.environment or {}
    mx = env.get("mxnet") or {}
    build = record["build"]
    load = record.get("machine_load")
    # The worker's own fingerprint names the machine; the sweep's copy covers failed workers.
    machine = machine_of(env) if env.get("hostname") else record["machine"]
    # On a cluster a column group is a machine class, whichever of its hosts ran the run.
    cls = record.get("machine_class")
    return {
        "machine": class_label(cls, machine) if cls else machine_label(machine),
        "machine_class": cls, "hostname": machine.get("hostname"),
        "cpu_model": machine.get("cpu_model"), "build": build["name"],
        "mxnet": mx.get("version") or build.get("mxnet"), "model": spec.model.name,
        # What the worker ran with, read inside it: every report names them (README).
        "onednn": env.get("onednn_version"),
        "affinity": (env.get("affinity") or {}).get("cpus"),
        "physical_cores": env.get("physical_cores"),
        "label": MODEL_LABEL.get(spec.model.name, spec.model.name),
        "category": category(spec.model.name), "input_shape": list(spec.model.input_shape),
        # What the model was fed: rows of one model at two input shapes never pool.
        "inputs": inputs_text(spec.model),
        "config": spec.config, "mkldnn": spec.mkldnn,
        "instances": len(record.get("instance_cpus") or ()) or 1,
        # The OpenMP threads the worker ran with (read inside it), else what was asked for.
        "threads": mx.get("openmp_threads") or spec.threads or env.get("threads"),
        # What was asked for (None: the default): a --threads sweep axis groups by it.
        "threads_asked": spec.threads,
        # How its OpenMP threads waited, read from the worker's environment.
        "wait_policy": (env.get("wait_policy") or {}).get("policy") or spec.wait_policy,
        "cpus": " | ".join(record.get("instance_cpus") or ()) or spec.cpus,
        "membind": spec.membind,
        "weights": result.weights, "status": record["status"], "key": record["key"],
        "reference_speedups": REFERENCE_SPEEDUPS.get(spec.model.name),
        "reference_batch": MODEL_BATCH.get(spec.model.name),
        "notes": [*result.notes, *result.missing],
        # The one busy-machine rule (mxprof.cpu.load), measured around the run.
        "machine_load": load, "busy": bool(load and load.get("busy")),
        "other_cpu_fraction": load.get("other_cpu_fraction") if load else None,
    }


def inputs_text(model) -> str:
    """The per-sample input shapes of a ModelSpec: `3x224x224`, or `src 50; tgt 50`."""
    specs = model.input_specs
    if len(specs) == 1:
        return "x".join(map(str, specs[0].shape))
    return "; ".join(f"{i.name} {'x'.join(map(str, i.shape))}" for i in specs)


def _record_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    results = [RunResult.from_dict(r) for r in record["results"]]
    base = _base_row(record, results[0])
    spec = results[0].spec
    if record["status"] != "ok":
        bad = next(r for r in results if not r.ok)
        return [{**base, "metric": "failed", "batch_size": spec.batch_size, "error": bad.error,
                 "stderr_tail": bad.stderr_tail}]
    lat = [r.latency for r in results]
    quart = [_quartiles(s) for s in lat]
    latency = {**base, "metric": "latency", "batch_size": 1, "from_batch": spec.batch_size,
               "latency_ms": _mean([s["median"] for s in lat]),
               "q1_ms": _mean([q[0] for q in quart]), "q3_ms": _mean([q[1] for q in quart]),
               "stdev_ms": max(s.get("stdev") or 0.0 for s in lat),
               "iterations": min(s["n"] for s in lat), **_protocol(lat[0]), "stats": lat[0]}
    if len(results) > 1:
        latency["per_instance_latency_ms"] = [s["median"] for s in lat]
        latency["instance_cpus"] = record["instance_cpus"]
    out = [latency]
    if spec.batch_size > 1 or len(results) > 1:
        tps = [r.throughput for r in results]
        per = [t["images_per_s"] for t in tps]
        batch = spec.batch_size
        # Images/s at the quartiles of the batch times: q3 (slower calls) gives the low end.
        low = sum(batch * 1e3 / _quartiles(t["batch_ms"])[1] for t in tps)
        high = sum(batch * 1e3 / _quartiles(t["batch_ms"])[0] for t in tps)
        thr = {**base, "metric": "throughput", "batch_size": batch,
               "images_per_s": sum(per), "images_per_s_low": low, "images_per_s_high": high,
               "batch_ms": max(t["batch_ms"]["median"] for t in tps),
               "iterations": min(t["batch_ms"]["n"] for t in tps), **_protocol(tps[0]["batch_ms"]),
               "stats": tps[0]["batch_ms"]}
        if len(results) > 1:
            thr["per_instance_images_per_s"] = per
            thr["instance_cpus"] = record["instance_cpus"]
            thr["instance_bindings"] = [instance_binding(r) for r in results]
        out.append(thr)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _protocol(stats: dict[str, Any]) -> dict[str, Any]:
    p = stats.get("protocol") or {}
    return {"warmup": p.get("warmup"), "min_time_s": p.get("min_time_s"), "timer": p.get("timer")}


def group_key(row: dict[str, Any]) -> tuple:
    """Rows that can be compared: same machine, build, model and inputs, batch, metric and
    instances."""
    return (row["machine"], row["build"], row["model"], row.get("inputs"), row["metric"],
            row["batch_size"], row["instances"], row.get("threads_asked"))


def record_identity(record: dict[str, Any]) -> tuple:
    """A run is its key on the machine its fingerprint names (files merged from several
    machines may share keys when a results file was copied and re-measured elsewhere)."""
    envs = [r.get("environment") or {} for r in record.get("results", ())]
    env = next((e for e in envs if e.get("hostname")), None)
    machine = machine_of(env) if env else record.get("machine") or {}
    return (record["key"], machine.get("hostname"), machine.get("cpu_model"))


def rows(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for every latest record, latency deduplicated (each timing run measures batch 1:
    the run with the smallest batch supplies it), with speedups."""
    groups: list[list[dict[str, Any]]] = []
    seen: dict[tuple, int] = {}
    for record in latest_by_key(records, identity=record_identity):
        for row in _record_rows(record):
            # The policy that ran is part of what a row is: a passive process is never pooled
            # with an active one (auto decides per worker, mxprof.jobs.profile.runner).
            k = (*group_key(row), row["config"], row.get("wait_policy"))
            if k not in seen:
                seen[k] = len(groups)
                groups.append([row])
                continue
            first = groups[seen[k]][0]
            if row.get("from_batch", 0) < first.get("from_batch", 0):
                groups[seen[k]] = [row]
            elif row.get("from_batch", 0) == first.get("from_batch", 0):
                groups[seen[k]].append(row)  # another process of the same run
    return add_speedups([_pooled_row(g) for g in groups])


def _pooled_row(group: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of one run's processes as one row: figures over all their calls."""
    from mxprof.timing.pooled import pooled_latency
    row = dict(group[0])
    if row["metric"] == "failed":
        return row
    # Busy when any process of the cell was: its figure pools that process's calls.
    row["busy"] = any(r.get("busy") for r in group)
    fractions = [r["other_cpu_fraction"] for r in group if r.get("other_cpu_fraction") is not None]
    row["other_cpu_fraction"] = max(fractions) if fractions else None
    stats = pooled_latency([r.get("stats") for r in group if r["metric"] != "failed"])
    row["stats"] = stats
    row["processes"] = (stats or {}).get("processes", 1)
    if row["processes"] < 2 or row["instances"] > 1:
        return row
    if row["metric"] == "latency":
        row.update(latency_ms=stats["median"], q1_ms=stats["q1"], q3_ms=stats["q3"],
                   stdev_ms=stats["stdev"], iterations=stats["n"])
    else:
        batch = row["batch_size"]
        row.update(images_per_s=batch * 1e3 / stats["median"], batch_ms=stats["median"],
                   images_per_s_low=batch * 1e3 / stats["q3"],
                   images_per_s_high=batch * 1e3 / stats["q1"], iterations=stats["n"])
    row["notes"] = list(dict.fromkeys(n for r in group for n in r.get("notes") or ()))
    return row


def _value(row: dict[str, Any]) -> float | None:
    return row.get("latency_ms") if row["metric"] == "latency" else row.get("images_per_s")


def speedup(metric: str, base: float | None, new: float | None) -> float | None:
    """How many times faster `new` is than `base`: time ratio for latency, rate ratio else."""
    if not base or not new:
        return None
    return base / new if metric == "latency" else new / base


def speedup_ratio(base: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any] | None:
    """The Ratio dict (95% interval, significant) of `new` over `base` from their samples;
    None without samples, or for summed bound instances (their rate is not one process's)."""
    from mxprof.timing.pooled import ratio
    if base is None or new["instances"] > 1:
        return None
    r = ratio(base.get("stats"), new.get("stats"), new["metric"])
    return r.to_dict() if r else None


def _build_key(row: dict[str, Any]) -> tuple:
    return (row["machine"], row["model"], row.get("inputs"), row["metric"], row["batch_size"],
            row["instances"], row.get("threads_asked"), row["config"])


def _counterpart(by_config: dict[tuple, dict[str, Any]], row: dict[str, Any],
                 config: str) -> dict[str, Any] | None:
    """The `config` row `row` is compared with: under the same OpenMP wait policy when one
    ran, else another, and then `row` says so in its notes."""
    same = by_config.get((*group_key(row), config, row.get("wait_policy")))
    if same is not None:
        return same
    other = by_config.get((*group_key(row), config, "any"))
    if other is not None:
        row["notes"] = [*row.get("notes", ()), f"compared with {config} run under wait policy "
                        f"{other.get('wait_policy')}, this one ran {row.get('wait_policy')}: "
                        "the ratio includes the policy's difference"]
    return other


def add_speedups(rows_in: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`speedup` (plain, schema 1) and `speedup_ratio` over MKL-DNN off; for fused rows the
    same over MKL-DNN on; for every build after the first of a machine, `vs_build` over the
    first build's same configuration."""
    ok = [r for r in rows_in if r["metric"] != "failed"]
    by_config: dict[tuple, dict[str, Any]] = {}
    for r in ok:  # the same wait policy first; another only when there is none (with a note)
        by_config[(*group_key(r), r["config"], r.get("wait_policy"))] = r
        by_config.setdefault((*group_key(r), r["config"], "any"), r)
    first_build: dict[tuple, dict[str, Any]] = {}
    for r in ok:
        first_build.setdefault(_build_key(r), r)
    out = []
    for r in rows_in:
        r = dict(r)
        if r["metric"] != "failed" and r["config"] != "reference":
            off = _counterpart(by_config, r, "reference")
            r["speedup"] = speedup(r["metric"], off and _value(off), _value(r))
            r["speedup_ratio"] = speedup_ratio(off, r)
            if r["config"] == "fused":
                on = _counterpart(by_config, r, "mkldnn")
                r["speedup_vs_mkldnn"] = speedup(r["metric"], on and _value(on), _value(r))
                r["speedup_vs_mkldnn_ratio"] = speedup_ratio(on, r)
        base = first_build.get(_build_key(r)) if r["metric"] != "failed" else None
        if base is not None and base["build"] != r["build"]:
            r["vs_build"] = {"build": base["build"],
                             "speedup": speedup(r["metric"], _value(base), _value(r)),
                             "ratio": speedup_ratio(base, r)}
        out.append(r)
    return out


def build_report(records, notes) -> dict:
    found = rows(records)
    # What workers reported about themselves (binding refused, fusion path, missing pieces).
    worker_notes = dict.fromkeys(f"{r['build']}/{r['config']}: {n}" for r in found
                                 for n in r.get("notes", ()))
    from mxprof.jobs.compare.best import best, lines
    fastest = best(found)
    return {"schema": SCHEMA, "kind": "compare", "rows": found,
            "notes": [*notes, *worker_notes, *lines(fastest)], "best": fastest}


def merge(paths, on_warning=lambda text: None):
    """`mxprof merge`: the latest record per run across the results files `paths`, as one
    CompareResult (the same kind as compare's). Raises UsageError for a file that cannot be
    read or when no file holds a finished run; `on_warning` gets each skipped line."""
    from mxprof.errors import UsageError
    from mxprof.jobs.compare.records import CompareResult
    from mxprof.jobs.compare.results_log import ResultsFileError, read_lines
    records = []
    for path in paths:
        try:
            found, warnings = read_lines(path)
        except ResultsFileError as exc:
            other = other_result_kind(Path(path))
            raise UsageError(f"cannot read {path}: " + (
                f"{other}; merge reads the lines `compare --results` writes" if other
                else str(exc))) from None
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        for w in warnings:
            on_warning(w)
        records += found
    if not records:
        raise UsageError("no finished runs in " + ", ".join(map(str, paths)))
    return CompareResult.from_dict(build_report(records, [f"merged from {', '.join(map(str, paths))}"]))


def other_result_kind(path: Path) -> str | None:
    """'it is an mxprof compare file (a --json result)' when the whole file is another mxprof
    result: a `compare --json` or `profile --json` given to merge was reported as an
    'unreadable line ... (an interrupted write?)', as if a results file had been damaged.
    (Its `kind` field only: mxprof.jobs.results, which knows every kind, sits above jobs/.)"""
    import json

    from mxprof.jobs.compare.results_log import KIND
    try:
        if not path.is_file() or path.stat().st_size > 512 * 2**20:
            return None  # a FIFO is read once; a huge file is no --json result
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if not kind and "latency_ms" in data and "model" in data:
        kind = "profile"  # written before every result carried its kind
    if not isinstance(kind, str) or not kind or kind == KIND:
        return None
    return f"it is an mxprof {kind.removeprefix('mxprof-')} file (a --json result)"
