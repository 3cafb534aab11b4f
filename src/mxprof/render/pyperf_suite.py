"""Timings as a pyperf BenchmarkSuite (`--pyperf PATH`), written with pyperf's own classes.

One benchmark per model x configuration x measurement ("resnet50_v1 mkldnn latency bs=1",
"resnet50_v1 reference batch bs=8"); each worker process of that configuration is one pyperf
run, its timed calls the run's values (seconds, pyperf's unit). So `python -m pyperf stats`
shows the spread between our processes the way it shows pyperf's own, and
`python -m pyperf compare_to a.json b.json --table` compares two mxprof results. Metadata per run:
cpu_model_name, cpu_count, cpu_affinity, mxnet_version, onednn_version, load_avg_1min, plus
mxprof's warm-up and call protocol; the first call and warm-up calls are not values (pyperf's
warmups field stays empty, as mxprof does not keep their times).

Sources: profile reports (`mxprof.jobs.profile.report`, samples in
`latency_ms.samples_ms_per_process`) and compare reports (`mxprof.jobs.compare.rows.rows`,
samples in each row's `stats`). Results without samples (schema-1 files from before
`samples_ms_per_process`) have nothing to write: ValueError names them.
Needs the `pyperf` package (`pip install 'mxprof[pyperf]'`).
"""

from __future__ import annotations

from typing import Any


def _pyperf():
    try:
        import pyperf
    except ImportError:
        raise ValueError("--pyperf needs the pyperf package: pip install 'mxprof[pyperf]'") from None
    return pyperf


def _per_process(stats: dict[str, Any] | None) -> list[list[float]]:
    if not stats:
        return []
    if stats.get("samples_ms_per_process"):
        return stats["samples_ms_per_process"]
    return [stats["samples_ms"]] if stats.get("samples_ms") else []


def _metadata(env: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    aff = env.get("affinity") or {}
    mx = env.get("mxnet") or {}
    meta = {"cpu_model_name": env.get("cpu_model"), "cpu_count": env.get("logical_cpus"),
            "cpu_affinity": aff.get("cpus"), "mxnet_version": mx.get("version"),
            "onednn_version": env.get("onednn_version"), **extra}
    return {k: v for k, v in meta.items() if v not in (None, "")}


def profile_benchmarks(report: dict[str, Any]) -> list[tuple[str, list[list[float]], dict]]:
    """(name, per-process samples in ms, metadata) for every timing in a profile report."""
    name = report["model"]["name"]
    env = report.get("environment") or {}
    out = []
    for config, section in (("mkldnn", report), ("reference", report.get("reference") or {})):
        lat, thr = section.get("latency_ms"), section.get("throughput") or {}
        for what, stats, batch in (("latency", lat, 1),
                                   ("batch", thr.get("batch_ms"), thr.get("batch_size"))):
            runs = _per_process(stats)
            if runs:
                proto = (stats or {}).get("protocol") or {}
                out.append((f"{name} {config} {what} bs={batch}", runs,
                            _metadata(env, {"mxprof_config": config,
                                            "mxprof_warmup": proto.get("warmup")})))
    return out


def compare_benchmarks(report: dict[str, Any]) -> list[tuple[str, list[list[float]], dict]]:
    """The same for the rows of a compare/merge report (build and machine in the name when
    the report has several)."""
    rows = [r for r in report.get("rows", ()) if r["metric"] != "failed"]
    several = len({(r["machine"], r["build"]) for r in rows}) > 1
    out = []
    for r in rows:
        runs = _per_process(r.get("stats"))
        if not runs:
            continue
        what = "latency" if r["metric"] == "latency" else "batch"
        where = f" [{r['build']} @ {r['hostname']}]" if several else ""
        # The CPUs the worker was allowed (before: the binding asked for, None when unbound).
        env = {"cpu_model": r.get("cpu_model"), "mxnet": {"version": r.get("mxnet")},
               "affinity": {"cpus": r.get("affinity") or r.get("cpus")},
               "onednn_version": r.get("onednn")}
        out.append((f"{r['model']} {r['config']} {what} bs={r['batch_size']}{where}", runs,
                    _metadata(env, {"mxprof_config": r["config"], "mxprof_build": r["build"]})))
    return out


def suite(report: dict[str, Any]):
    """A pyperf.BenchmarkSuite of the report's timings; ValueError when it has no samples."""
    pyperf = _pyperf()
    items = (compare_benchmarks(report) if "rows" in report else profile_benchmarks(report))
    if not items:
        raise ValueError("no per-call samples in this result (written before mxprof kept "
                         "them): nothing to write as pyperf runs")
    benchmarks = []
    for name, runs, meta in items:
        pruns = [pyperf.Run([v / 1e3 for v in values], warmups=None, collect_metadata=False,
                            metadata={**meta, "name": name, "unit": "second",
                                      "loops": 1})
                 for values in runs if values]
        benchmarks.append(pyperf.Benchmark(pruns))
    return pyperf.BenchmarkSuite(benchmarks)


def write(report: dict[str, Any], path: str) -> None:
    """Write the suite as pyperf JSON (`.json`, or gzip-compressed when `path` ends in .gz)."""
    from mxprof.render.base import as_dict
    suite(as_dict(report)).dump(path, replace=True)
