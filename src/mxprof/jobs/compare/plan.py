"""The comparison matrix: which runs a sweep makes, the record each leaves, the rows they give.

Contract (pure functions, no MXNet import):
- `plan(...) -> [PlannedRun]`: for every model x build x throughput batch x configuration one
  timing run (latency at batch 1 and throughput at the batch, see `mxprof.jobs.profile.spec`), each with
  a key that names exactly what was measured where (spec, build, instances, machine), so a
  results file can tell which runs are already done.
- `make_record(planned, results) -> dict`: the JSON line a finished run leaves in the results
  file (`mxprof.jobs.compare.results_log`), carrying each worker's environment fingerprint.
- `rows(records) -> [dict]`: one row per (machine, build, model, configuration, batch) with
  `latency_ms` (batch 1) or `images_per_s`, spread and protocol, and `speedup` of MKL-DNN (and
  fused) over MKL-DNN off in the same machine and build: latency off/on, throughput on/off.
  Several processes of one run (`processes=N` in `plan`: one record each, `process` 0..N-1)
  are pooled into one row (`mxprof.jobs.profile.pooled`), and every speedup gets
  `*_ratio` (a `mxprof.timing.stats.Ratio` dict: 95% interval, `significant`) from the
  hierarchical bootstrap of the per-process samples.
Configurations: "reference" (MXNET_MKLDNN_ENABLED=0), "mkldnn" (on), "fused" (on, plus
`optimize_for(backend='MKLDNN')`, the subgraph fusion of the reference's second table).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from mxprof.jobs.compare.instances import instance_binding
from mxprof.jobs.compare.results_log import KIND, latest_by_key
from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec
from mxprof.mx.models import ModelSpec
from mxprof.schema import SCHEMA
from mxprof.workers.builds import Build

CONFIGS: dict[str, bool] = {"reference": False, "mkldnn": True, "fused": True}
CONFIG_LABELS = {"reference": "MKL-DNN off (MXNET_MKLDNN_ENABLED=0)", "mkldnn": "MKL-DNN on",
                 "fused": "MKL-DNN on + optimize_for(backend='MKLDNN')"}
DEFAULT_BATCH = 128  # the reference's throughput batch

# The reference table's 14 networks in its order, with its own throughput batch sizes:
# (label, name, throughput batch). Inception v4, Inception-ResNet v2, DCGAN and GNMT are
# mxprof's own (`mxprof.mx.zoo`: neither zoo has them); Faster R-CNN's throughput equals
# 1/latency: batch 1.
REFERENCE_MODELS: tuple[tuple[str, str, int], ...] = (
    ("ResNet-50 v1", "resnet50_v1", 128),
    ("ResNet-50 v2", "resnet50_v2", 128),
    ("Inception v3", "inceptionv3", 128),
    ("Inception v4", "inceptionv4", 128),
    ("DenseNet", "densenet121", 128),
    ("MobileNet", "mobilenet1.0", 128),
    ("VGG16", "vgg16", 128),
    ("AlexNet", "alexnet", 128),
    ("inception-resnet v2", "inceptionresnetv2", 128),
    ("Faster R-CNN", "faster_rcnn_resnet50_v1b_voc", 1),
    ("SSD-VGG16", "ssd_300_vgg16_atrous_voc", 224),
    ("SSD-MobileNet", "ssd_512_mobilenet1.0_voc", 256),
    ("GNMT", "gnmt", 64),
    ("DCGAN", "dcgan", 128),
)
# The reference's own MKL-DNN speedups (MXNet 1.3.0 vs mxnet-mkl 1.3.0, c5.18xlarge, one
# socket; docs/reference-benchmark.md): name -> (latency speedup at batch 1, throughput speedup).
REFERENCE_SPEEDUPS: dict[str, tuple[float, float]] = {
    "resnet50_v1": (7.45, 15.90), "resnet50_v2": (7.58, 15.51), "inceptionv3": (10.44, 23.57),
    "inceptionv4": (10.54, 22.87), "densenet121": (5.91, 17.60), "mobilenet1.0": (8.73, 20.60),
    "vgg16": (20.25, 24.31), "alexnet": (17.00, 36.32), "inceptionresnetv2": (3.67, 15.14),
    "faster_rcnn_resnet50_v1b_voc": (9.91, 10.08), "ssd_300_vgg16_atrous_voc": (15.14, 19.13),
    "ssd_512_mobilenet1.0_voc": (8.45, 14.18), "gnmt": (7.27, 6.83), "dcgan": (37.85, 38.94),
}
QUICK_BATCH = 2  # --quick: latency at 1 and throughput at this batch
QUICK_MIN_TIME = 0.3  # --quick: seconds of timed calls per measurement
MODEL_BATCH = {name: batch for _, name, batch in REFERENCE_MODELS}
MODEL_LABEL = {name: label for label, name, _ in REFERENCE_MODELS}
ALIASES = {label.lower().replace(" ", "-"): name for label, name, _ in REFERENCE_MODELS}
_OTHER_CATEGORIES = {"gnmt": "RNN", "dcgan": "GAN"}
_DETECTION_PREFIXES = ("ssd", "faster_rcnn", "mask_rcnn", "yolo", "center_net")


def category(model_name: str) -> str:
    if model_name in _OTHER_CATEGORIES:
        return _OTHER_CATEGORIES[model_name]
    return "detection" if model_name.startswith(_DETECTION_PREFIXES) else "classification"


def model_batches(model_name: str, requested: Sequence[int] | None) -> list[int]:
    """Batch sizes for a model: the user's list, else 1 and the reference's batch for it."""
    if requested:
        return sorted(set(requested))
    return sorted({1, MODEL_BATCH.get(model_name, DEFAULT_BATCH)})


def throughput_batches(batches: Sequence[int]) -> list[int]:
    """One timing run per batch above 1 (each also times batch 1); batch 1 alone -> one run."""
    above = [b for b in batches if b > 1]
    return above or [1]


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    key: str
    build: Build
    spec: RunSpec
    machine: dict[str, Any]
    instance_cpus: tuple[str, ...] = ()  # throughput mode: one CPU list per bound instance
    process: int = 0  # which of the run's processes (several per configuration, interleaved)
    base_key: str = ""  # the key shared by the processes of one run ("" = key)

    @property
    def label(self) -> str:
        inst = f" x{len(self.instance_cpus)} instances" if self.instance_cpus else ""
        proc = f" #{self.process + 1}" if self.process else ""
        return (f"{self.spec.model.name} bs={self.spec.batch_size} {self.spec.config} "
                f"[{self.build.name}]{inst}{proc}")


def machine_of(env: dict[str, Any]) -> dict[str, Any]:
    """The part of an environment fingerprint that names the machine."""
    return {"hostname": env.get("hostname"), "cpu_model": env.get("cpu_model"),
            "logical_cpus": env.get("logical_cpus")}


def machine_label(machine: dict[str, Any]) -> str:
    cpu = (machine.get("cpu_model") or "?").replace("(R)", "").replace("(TM)", "")
    cpu = " ".join(w for w in cpu.split() if w not in ("CPU", "Intel", "AMD", "Processor"))
    return f"{machine.get('hostname') or '?'} ({cpu}, {machine.get('logical_cpus') or '?'} CPUs)"


def run_key(spec: RunSpec, build: Build, machine: dict[str, Any],
            instance_cpus: Sequence[str] = (), process: int = 0,
            environment: dict[str, Any] | None = None) -> str:
    """Same key = same measurement: what runs, under which interpreter (and its MXNet), where,
    how bound, in which environment (`results_log.reuse_fingerprint`), and which process of it
    (process 0 keeps the key it had before processes existed)."""
    spec_d = spec.to_dict()
    spec_d.pop("test_hook", None)
    # What "auto" chose under the load of the moment is not what a run is: the policy asked
    # for is in `environment` when it was not auto (mxprof.commands.compare).
    spec_d.pop("wait_policy", None)
    what = {"spec": spec_d, "build": [build.name, build.python, build.pip_spec],
            "machine": machine, "instances": list(instance_cpus)}
    if process:
        what["process"] = process
    if environment is not None:
        what["environment"] = environment
        what["build_mxnet"] = [build.mxnet, build.mkldnn]
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def plan(models: Sequence[ModelSpec], builds: Sequence[Build], *, machine: dict[str, Any],
         configs: Sequence[str] = ("reference", "mkldnn"), batch_sizes: Sequence[int] | None = None,
         protocol: Protocol | None = None, threads: int | None = None, cpus: str | None = None,
         membind: str | None = None, instance_cpus: Sequence[str] = (),
         processes: int = 1, environment: dict[str, Any] | None = None,
         wait_policy: str | None = None) -> list[PlannedRun]:
    """Model-major order, so an interrupted sweep has whole rows for the models it reached.

    Within a model and batch, `processes` rounds of every build x configuration, interleaved
    (round 1: A B C, round 2: A B C, ...) so drifting load hits every side of a comparison.
    A build without MKL-DNN compiled in (`Build.mkldnn is False`) runs "reference" only.
    """
    protocol = protocol or Protocol()
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise ValueError(f"unknown configuration {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    out: list[PlannedRun] = []
    for model in models:
        for batch in throughput_batches(model_batches(model.name, batch_sizes)):
            for process in range(processes):
                for build in builds:
                    for config in configs:
                        if build.mkldnn is False and CONFIGS[config]:
                            continue
                        spec = RunSpec(model=model, config=config, mkldnn=CONFIGS[config],
                                       pass_name="timing", batch_size=batch, protocol=protocol,
                                       threads=threads, cpus=cpus, membind=membind,
                                       wait_policy=wait_policy)
                        key = run_key(spec, build, machine, instance_cpus, process, environment)
                        base = (run_key(spec, build, machine, instance_cpus, 0, environment) if process
                                else key)
                        out.append(PlannedRun(key=key, build=build, spec=spec, machine=machine,
                                              instance_cpus=tuple(instance_cpus),
                                              process=process, base_key=base))
    return out


def make_record(planned: PlannedRun, results: Sequence[RunResult]) -> dict[str, Any]:
    """The results-file line for one finished run (one worker, or one group of instances)."""
    status = "ok" if results and all(r.ok for r in results) else next(
        (r.status for r in results if not r.ok), "failed")
    return {
        "kind": KIND, "schema": SCHEMA, "key": planned.key, "status": status,
        "base_key": planned.base_key or planned.key, "process": planned.process,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build": planned.build.to_dict(), "machine": planned.machine,
        "instance_cpus": list(planned.instance_cpus),
        "results": [r.to_dict() for r in results],
    }


def _quartiles(stats: dict[str, Any]) -> tuple[float, float]:
    """(q1, q3) of the per-call times; the median twice when a timer did not give them."""
    return (stats.get("q1") or stats["median"], stats.get("q3") or stats["median"])


def _base_row(record: dict[str, Any], result: RunResult) -> dict[str, Any]:
    spec = result.spec
    env = result.environment or {}
    mx = env.get("mxnet") or {}
    build = record["build"]
    # The worker's own fingerprint names the machine; the sweep's copy covers failed workers.
    machine = machine_of(env) if env.get("hostname") else record["machine"]
    return {
        "machine": machine_label(machine), "hostname": machine.get("hostname"),
        "cpu_model": machine.get("cpu_model"), "build": build["name"],
        "mxnet": mx.get("version") or build.get("mxnet"), "model": spec.model.name,
        # What the worker ran with, read inside it: every report names them (README).
        "onednn": env.get("onednn_version"),
        "affinity": (env.get("affinity") or {}).get("cpus"),
        "physical_cores": env.get("physical_cores"),
        "label": MODEL_LABEL.get(spec.model.name, spec.model.name),
        "category": category(spec.model.name), "input_shape": list(spec.model.input_shape),
        "config": spec.config, "mkldnn": spec.mkldnn,
        "instances": len(record.get("instance_cpus") or ()) or 1,
        # The OpenMP threads the worker ran with (read inside it), else what was asked for.
        "threads": mx.get("openmp_threads") or spec.threads or env.get("threads"),
        # How its OpenMP threads waited, read from the worker's environment.
        "wait_policy": (env.get("wait_policy") or {}).get("policy") or spec.wait_policy,
        "cpus": " | ".join(record.get("instance_cpus") or ()) or spec.cpus,
        "membind": spec.membind,
        "weights": result.weights, "status": record["status"], "key": record["key"],
        "reference_speedups": REFERENCE_SPEEDUPS.get(spec.model.name),
        "reference_batch": MODEL_BATCH.get(spec.model.name),
        "notes": [*result.notes, *result.missing],
    }


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
    """Rows that can be compared: same machine, build, model, batch, metric and instances."""
    return (row["machine"], row["build"], row["model"], row["metric"], row["batch_size"],
            row["instances"])


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
            k = (*group_key(row), row["config"])
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
    from mxprof.jobs.profile.pooled import pooled_latency
    row = dict(group[0])
    if row["metric"] == "failed":
        return row
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
    from mxprof.jobs.profile.pooled import ratio
    if base is None or new["instances"] > 1:
        return None
    r = ratio(base.get("stats"), new.get("stats"), new["metric"])
    return r.to_dict() if r else None


def _build_key(row: dict[str, Any]) -> tuple:
    return (row["machine"], row["model"], row["metric"], row["batch_size"], row["instances"],
            row["config"])


def add_speedups(rows_in: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """`speedup` (plain, schema 1) and `speedup_ratio` over MKL-DNN off; for fused rows the
    same over MKL-DNN on; for every build after the first of a machine, `vs_build` over the
    first build's same configuration."""
    ok = [r for r in rows_in if r["metric"] != "failed"]
    by_config = {(*group_key(r), r["config"]): r for r in ok}
    first_build: dict[tuple, dict[str, Any]] = {}
    for r in ok:
        first_build.setdefault(_build_key(r), r)
    out = []
    for r in rows_in:
        r = dict(r)
        if r["metric"] != "failed" and r["config"] != "reference":
            off = by_config.get((*group_key(r), "reference"))
            r["speedup"] = speedup(r["metric"], off and _value(off), _value(r))
            r["speedup_ratio"] = speedup_ratio(off, r)
            if r["config"] == "fused":
                on = by_config.get((*group_key(r), "mkldnn"))
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
    return {"schema": SCHEMA, "kind": "mxprof-compare", "rows": found,
            "notes": [*notes, *worker_notes]}
