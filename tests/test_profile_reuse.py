"""Passes sharing one worker process (mxprof.jobs.profile.runner.JOINS) measure what a worker of
their own would, and a failure in one pass is reported for that pass only."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from mxprof.jobs.profile.runner import group_label, group_specs, run_group
from mxprof.jobs.profile.spec import Protocol, RunSpec
from mxprof.mx import models

SMALL = ("resnet18_v1", "--shape", "3,64,64", "--batch-size", "2", "--fast", "--processes", "1",
         "--iterations", "5", "--warmup", "1", "--checks", "none", "--no-diagnosis",
         "--no-reference", "--passes", "timing,operators")


def _spec(pass_name: str, config: str = "mkldnn", hook: str | None = None) -> RunSpec:
    return RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), config=config,
                   mkldnn=config == "mkldnn", pass_name=pass_name, batch_size=1,
                   protocol=Protocol(min_time=0.05, iterations=3, warmup=1), test_hook=hook)


def test_operators_join_the_last_timing_process_of_their_configuration():
    specs = [_spec("timing"), _spec("timing", "reference"), _spec("timing"),
             _spec("timing", "reference"), _spec("operators"), _spec("layers"),
             _spec("primitives"), _spec("operators", "reference")]
    assert group_specs(specs) == [(0,), (1,), (2, 4), (3, 7), (5,), (6,)]
    assert group_specs(specs, share=False) == [(i,) for i in range(len(specs))]
    assert group_label([specs[2], specs[4]]) == "mobilenet0.25 mkldnn timing + operators"
    # Without a timing process to join, the operators pass keeps its own.
    assert group_specs([_spec("operators"), _spec("timing")]) == [(0,), (1,)]


def test_a_failing_joined_pass_keeps_the_timing_before_it(tmp_path):
    timing, ops = run_group([_spec("timing"), _spec("operators", hook="raise")], tmp_path,
                            timeout=300)
    assert timing.ok and timing.latency["n"] == 3, timing.error
    assert timing.shared_with == ("operators",)
    assert set(timing.phases) >= {"import", "build", "first_call", "warmup", "timed", "pass"}
    assert ops.status == "failed" and "deliberate failure" in ops.error
    assert ops.operators is None


def test_a_hang_in_the_joined_pass_times_out_that_pass_only(tmp_path):
    timing, ops = run_group([_spec("timing"), _spec("operators", hook="hang")], tmp_path,
                            timeout=60)
    assert timing.ok, timing.error
    assert ops.status == "timeout" and "timeout" in ops.error


def _operators(report: dict) -> list[tuple[str, float]]:
    return sorted((r["op"], r["count"]) for r in report["operators"])


@pytest.mark.slow
def test_operators_in_the_timing_process_match_a_worker_of_their_own(tmp_path):
    """Bulk execution is switched off in the shared process before the operators pass: with
    it on, MXNet's profiler would see one merged segment ("BatchNorm,Activation,...")."""
    shared, alone = tmp_path / "shared.json", tmp_path / "alone.json"
    proc = run_cli("profile", *SMALL, "--json", str(shared), "--workdir", str(tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    assert "mkldnn timing + operators" in proc.stderr
    assert sorted(p.name for p in (tmp_path / "w").glob("*.result.json")) == \
        ["00-mkldnn-timing+operators.result.json"]
    proc = run_cli("profile", *SMALL, "--json", str(alone), "--no-share")
    assert proc.returncode == 0, proc.stderr
    a, b = json.loads(shared.read_text()), json.loads(alone.read_text())
    assert _operators(a) == _operators(b)
    assert not any("," in op for op, _ in _operators(a))
    assert ("Convolution", 20.0) in _operators(a)
    assert "in the last timing process" in a["protocol"]["passes"]
    assert "operators (bulk exec off, MXNet profiler aggregate; in its own worker" in \
        b["protocol"]["passes"]
    assert a["environment"]["mxnet"]["openmp_threads"] == \
        b["environment"]["mxnet"]["openmp_threads"]


def test_dry_run_lists_which_passes_share_a_worker(cli):
    proc = cli("profile", "resnet18_v1", "--dry-run", "--processes", "2")
    assert proc.returncode == 0, proc.stderr
    # 8 worker processes (2 rounds of timing, 2 of them with the operators pass; the MKL-DNN
    # layers pass in 2 processes like the timing, the reference's in 1; primitives); the
    # companion checks run inside them (the "shared" layout), so no row of their own, as they
    # had in the legacy layout.
    assert "8 worker(s) planned" in proc.stdout.splitlines()[0]
    assert "overhead ratio" in proc.stdout and "seconds per phase: " in proc.stdout
    legacy = cli("profile", "resnet18_v1", "--dry-run", "--processes", "2", "--layout", "legacy")
    assert "10 worker(s) planned" in legacy.stdout.splitlines()[0]
    assert "fusion summary" in legacy.stdout and "fusion summary" not in proc.stdout
    shared = [ln for ln in proc.stdout.splitlines() if "one process" in ln]
    assert len(shared) == 2
    assert "mkldnn timing + operators" in shared[0]
    assert "reference timing + operators" in shared[1]
    proc = cli("profile", "resnet18_v1", "--dry-run", "--processes", "2", "--no-share")
    assert not any("one process" in ln for ln in proc.stdout.splitlines())
