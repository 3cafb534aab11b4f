"""The fastest configuration of a sweep and its significance (mxprof.jobs.compare.best), on rows
shaped as compare writes them, with per-process samples drawn from known distributions."""

from __future__ import annotations

import numpy as np

from mxprof.jobs.compare.best import best, lines


def _row(metric: str, threads: int, median_ms: float, *, batch: int = 1, instances: int = 1,
         seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    samples = [(median_ms * rng.lognormal(0, 0.02, 40)).tolist() for _ in range(3)]
    row = {"machine": "xeon (Xeon, 36 CPUs)", "build": "current", "model": "resnet18_v1",
           "config": "mkldnn", "metric": metric, "batch_size": batch, "instances": instances,
           "threads": threads, "stats": {"samples_ms_per_process": samples}}
    if metric == "latency":
        row["latency_ms"] = median_ms
    else:
        row["images_per_s"] = batch * 1e3 / median_ms
    return row


def test_a_clear_winner_is_named_and_significant():
    rows = [_row("latency", 1, 20.0, seed=1), _row("latency", 4, 6.0, seed=2),
            _row("latency", 2, 11.0, seed=3)]
    (found,) = best(rows)
    assert found["best"] == "4 threads, 1 instance"
    assert found["runner_up"] == "2 threads, 1 instance"
    assert found["ratio"]["significant"] and found["ratio"]["ci95_low"] > 1
    assert "best over runner-up: " in lines([found])[0]
    assert f"{found['ratio']['value']:.2f}x, faster (95% CI " in lines([found])[0]


def test_a_tie_is_not_significant():
    rows = [_row("latency", 1, 10.0, seed=4), _row("latency", 2, 10.05, seed=5)]
    (found,) = best(rows)
    assert not found["ratio"]["significant"]
    assert "best over runner-up: no significant difference (" in lines([found])[0]


def test_throughput_compares_rates_across_batches():
    # batch 8 at 40 ms a call (200 img/s) beats batch 2 at 16 ms (125 img/s): per image 5 ms
    # against 8 ms, although its calls are longer.
    rows = [_row("throughput", 2, 16.0, batch=2, seed=6), _row("throughput", 2, 40.0, batch=8,
                                                               seed=7)]
    (found,) = best(rows)
    assert found["best"] == "2 threads, batch 8, 1 instance"
    assert 1.5 < found["ratio"]["value"] < 1.7 and found["ratio"]["significant"]


def test_summed_instances_have_no_interval_and_one_candidate_no_entry():
    rows = [_row("throughput", 1, 10.0, batch=4, instances=2),
            _row("throughput", 2, 12.0, batch=4)]
    (found,) = best(rows)
    assert found["ratio"] is None and "no interval" in lines([found])[0]
    assert best([_row("latency", 2, 5.0)]) == []


def test_threads_and_instances_lists_are_sweep_axes(cli):
    proc = cli("compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "2",
               "--threads", "1,2", "--instances", "1,2", "--configs", "mkldnn",
               "--processes", "1", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "4 worker(s) planned" in out and out.count("x2 instances") == 2
    bad = cli("compare", "mobilenet0.25", "--threads", "1,0", "--dry-run")
    assert bad.returncode == 2 and "--threads counts are >= 1" in bad.stderr
