"""`--pyperf`: mxprof timings as a pyperf suite that pyperf's own CLI reads."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mxprof.timing.pooled import pooled_latency
from mxprof.timing.stats import summarize

pyperf = pytest.importorskip("pyperf")

ENV = {"cpu_model": "Test CPU", "logical_cpus": 2, "affinity": {"cpus": "0-1"},
       "mxnet": {"version": "1.9.1"}, "onednn_version": "v2.4.4"}


def _section(rng, centre_ms, processes=3, calls=40):
    runs = []
    for _ in range(processes):
        x = rng.normal(centre_ms, centre_ms * 0.01, calls)
        runs.append({**summarize(x * 1e6).to_dict("ms"), "samples_ms": x.tolist(),
                     "protocol": {"warmup": 2}})
    return {"latency_ms": pooled_latency(runs),
            "throughput": {"batch_size": 8, "batch_ms": pooled_latency(runs)}}


def _report(seed, on_ms, off_ms):
    rng = np.random.default_rng(seed)
    return {"model": {"name": "tinynet"}, "environment": ENV, **_section(rng, on_ms),
            "reference": _section(rng, off_ms)}


def _pyperf_cli(*args):
    return subprocess.run([sys.executable, "-m", "pyperf", *args], capture_output=True,
                          text=True, timeout=120, check=True).stdout


def test_pyperf_stats_reads_one_benchmark_per_configuration(tmp_path):
    from mxprof.render import pyperf_suite
    path = tmp_path / "a.json"
    pyperf_suite.write(_report(0, 2.0, 8.0), str(path))
    out = _pyperf_cli("stats", str(path))
    assert "Number of benchmarks: 4" in out
    assert "tinynet mkldnn latency bs=1" in out and "tinynet reference batch bs=8" in out
    assert "Number of run with values: 3" in out
    suite = pyperf.BenchmarkSuite.load(str(path))
    bench = suite.get_benchmark("tinynet mkldnn latency bs=1")
    assert bench.get_nrun() == 3 and bench.median() == pytest.approx(2.0e-3, rel=0.02)
    meta = bench.get_metadata()
    assert meta["cpu_model_name"] == "Test CPU" and meta["mxnet_version"] == "1.9.1"
    assert meta["onednn_version"] == "v2.4.4" and meta["cpu_affinity"] == "0-1"


def test_pyperf_compare_to_sees_a_real_difference(tmp_path):
    from mxprof.render import pyperf_suite
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    pyperf_suite.write(_report(1, 2.0, 8.0), str(a))
    pyperf_suite.write(_report(2, 1.0, 8.0), str(b))  # MKL-DNN twice as fast in b
    out = _pyperf_cli("compare_to", str(a), str(b), "--table")
    line = next(ln for ln in out.splitlines() if "tinynet mkldnn latency bs=1" in ln)
    assert "2.00x faster" in line or "1.99x faster" in line or "2.01x faster" in line


def test_results_without_samples_are_refused_clearly():
    from mxprof.render import pyperf_suite
    old = {"model": {"name": "m"}, "environment": ENV, "latency_ms": {"median": 1.0}}
    with pytest.raises(ValueError, match="no per-call samples"):
        pyperf_suite.suite(old)
