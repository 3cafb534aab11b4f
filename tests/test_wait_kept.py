"""The breakdown workers of a profile keep a timing worker's wait decision: passive when any
timing worker's window found the CPUs shared (mxprof.jobs.profile.runner.Waits).

Keeping the last one, an "active" taken in a quiet moment between busy ones, made 2 of 4
layers processes measure every layer 150x slower in a clean-clone run (spinning OpenMP
threads on CPUs another process wanted). The decisions here are records built from /proc/stat
counters (mxprof.cpu.load.share_record), as a real window makes them.
"""

from __future__ import annotations

from mxprof.cpu.load import share_record
from mxprof.cpu.openmp import WaitDecision
from mxprof.jobs.profile.runner import Waits
from mxprof.jobs.profile.spec import RunSpec
from mxprof.mx import models


def _auto(policy: str, busy_jiffies: int) -> WaitDecision:
    window = share_record((0, 1), window_s=0.5, busy_before={0: 0, 1: 0},
                          busy_after={0: busy_jiffies, 1: 0}, own_s=0.0)
    return WaitDecision(asked="auto", policy=policy, why=f"auto: {policy}", window=window)


def _spec(pass_name: str, wait_policy: str | None = None) -> RunSpec:
    return RunSpec(model=models.resolve("mobilenet0.25"), config="mkldnn", mkldnn=True,
                   pass_name=pass_name, threads=2, wait_policy=wait_policy)


def test_a_shared_moment_in_any_timing_window_keeps_the_breakdown_workers_passive():
    waits = Waits()
    for decision in (_auto("passive", 51), _auto("passive", 11), _auto("active", 6)):
        waits.seen(decision)
    kept = waits.decide(_spec("layers"))
    assert kept.policy == "passive" and kept.window.share > 0.10
    assert "kept for this breakdown worker" in kept.why


def test_quiet_windows_throughout_keep_the_last_decision():
    waits = Waits()
    for decision in (_auto("active", 2), _auto("active", 5)):
        waits.seen(decision)
    kept = waits.decide(_spec("primitives"))
    assert kept.policy == "active" and kept.window.other_cpu_s == 0.05


def test_an_explicit_policy_is_not_overridden():
    waits = Waits()
    waits.seen(_auto("passive", 51))
    assert waits.decide(_spec("layers", wait_policy="active")).policy == "active"
