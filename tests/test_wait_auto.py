"""--wait-policy auto follows what the worker's CPUs do now, not the 1-minute load average
(issue 25): real spinning processes, a real worker, and the report's statement of the policy."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mxprof.cpu.openmp import WAIT_SHARE
from mxprof.jobs.profile.runner import run_one, wait_decision
from mxprof.jobs.profile.spec import Protocol, RunResult, RunSpec
from mxprof.mx import models

SPIN = "while True: pass"


def _spec(**kw) -> RunSpec:
    fields = {"config": "mkldnn", "mkldnn": True, "pass_name": "timing", "batch_size": 1,
              "protocol": Protocol(min_time=0.05), "threads": 2, "cpus": "0-1", **kw}
    return RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), **fields)


def _spin(cpus: list[int]) -> list[subprocess.Popen]:
    """One spinning process pinned to each of `cpus` (our children: not reaped during the
    window, so their time is other processes' time, as a build's or another session's)."""
    return [subprocess.Popen([sys.executable, "-c", SPIN],
                             preexec_fn=lambda c=c: os.sched_setaffinity(0, {c}))
            for c in cpus]


def _stop(spinners: list[subprocess.Popen]) -> None:
    for proc in spinners:
        proc.kill()
        proc.wait()


@pytest.fixture
def two_cpus():
    if not {0, 1} <= os.sched_getaffinity(0):
        pytest.skip("needs CPUs 0 and 1")
    return [0, 1]


@pytest.mark.slow
def test_auto_decides_from_the_window_before_each_worker(two_cpus, tmp_path):
    spinners = _spin(two_cpus)
    try:
        time.sleep(4)  # the load average climbs; the busy worker below starts under them
        busy = run_one(_spec(), tmp_path, timeout=300)
    finally:
        _stop(spinners)
    # Under the spinners: passive, with its evidence, and the worker really ran passive.
    assert busy.ok, busy.stderr_tail
    assert busy.wait.asked == "auto" and busy.wait.policy == "passive"
    assert busy.wait.window.share > 0.5 and busy.wait.window.cpus == (0, 1)
    assert busy.environment["wait_policy"]["policy"] == "passive"
    # At once after they stopped: the load average still carries them for a minute, the window
    # does not. Other sessions may load the machine too: take the first quiet window of a few.
    decisions = []
    for _ in range(12):
        decisions.append(wait_decision(_spec()))
        if decisions[-1].policy == "active":
            break
    for d in decisions:  # every decision follows its own window, and nothing else
        assert d.policy == ("passive" if d.window.share > WAIT_SHARE else "active"), d
    if decisions[-1].policy != "active":
        pytest.skip("other processes kept CPUs 0-1 busy in every window: "
                    + "; ".join(d.why for d in decisions[-3:]))
    quiet = decisions[-1]
    assert quiet.window.share <= WAIT_SHARE
    print(f"busy: {busy.wait.why}\nquiet: {quiet.why}")


def test_explicit_policies_are_recorded_without_a_window():
    for policy in ("active", "passive"):
        d = wait_decision(_spec(wait_policy=policy))
        assert (d.asked, d.policy, d.window) == (policy, policy, None)
    one = wait_decision(_spec(threads=1))
    assert one.policy == "passive" and one.window is None


def _result(config: str, policy: str, median: float) -> RunResult:
    from mxprof.cpu.load import CpuShare
    from mxprof.cpu.openmp import WaitDecision
    share = CpuShare(cpus=(0, 1), window_s=0.5, other_cpu_s=0.0, own_cpu_s=0.0,
                     share=0.5 if policy == "passive" else 0.0)
    samples = [median + 0.01 * i for i in range(20)]
    stats = {"median": median, "mean": median, "n": 20, "samples_ms": samples,
             "protocol": {"warmup": 2}}
    return RunResult(spec=_spec(wait_policy="auto", config=config, mkldnn=config == "mkldnn"),
                     status="ok", wall_s=1.0, latency=stats,
                     wait=WaitDecision("auto", policy, f"auto: {policy}", share))


def test_the_report_states_each_configurations_policy_and_notes_mixed_ones():
    from mxprof.jobs.profile.report import build_report
    from mxprof.render.tables import wait_text
    same = build_report([_result("mkldnn", "active", 10), _result("reference", "active", 50)])
    assert same["wait_policy"]["policy"] == "active" and wait_text(same) == "active"
    assert not any(n.startswith("wait policy") for n in same["notes"])
    mixed = build_report([_result("mkldnn", "active", 10), _result("reference", "passive", 50),
                          _result("mkldnn", "passive", 14), _result("reference", "passive", 51)])
    assert mixed["wait_policy"]["policy"] == "mixed"
    assert mixed["reference"]["wait_policy"]["policy"] == "passive"
    assert wait_text(mixed) == "mixed (MKL-DNN on), passive (MKL-DNN off)"
    notes = [n for n in mixed["notes"] if n.startswith("wait policy")]
    assert ("the timing processes of MKL-DNN on ran under different OpenMP wait policies "
            "(active x1, passive x1;") in notes[0]
    assert "speedup includes the difference of wait policies" in notes[1]
    assert mixed["reference"]["speedup"]["note"] == notes[1]


def test_the_result_record_keeps_the_policies_and_the_note():
    # The job returns a ProfileResult (from_report drops what it does not declare): the
    # per-configuration policy, every worker's decision and the speedup's note must survive.
    from mxprof.jobs.profile.records import ProfileResult
    from mxprof.jobs.profile.report import build_report
    from mxprof.render.base import as_dict
    from mxprof.render.tables import wait_text
    report = build_report([_result("mkldnn", "active", 10), _result("reference", "passive", 50)])
    kept = as_dict(ProfileResult.from_report(report))
    assert wait_text(kept) == "active (MKL-DNN on), passive (MKL-DNN off)"
    assert kept["wait_policy"]["workers"][0]["pass"] == "timing"
    assert kept["reference"]["speedup"]["note"] == report["reference"]["speedup"]["note"]
