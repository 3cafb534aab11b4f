"""Interleaved worker processes (mxprof.workers.schedule): order, presets, grouping."""

from __future__ import annotations

import pytest

from mxprof.workers import schedule


def test_rounds_alternate_between_configurations():
    assert [s for _, s in schedule.interleave(["A", "B"], 3)] == list("ABABAB")
    assert [s for _, s in schedule.interleave(["A", "B"], 3, order="abba")] == list("ABBAAB")
    assert [r for r, _ in schedule.interleave(["A", "B", "C"], 2)] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="unknown order"):
        schedule.interleave(["A"], 1, order="aabb")


def test_presets_and_explicit_counts():
    assert schedule.choose().processes == 3
    assert schedule.choose(default=1).processes == 1
    assert schedule.choose(fast=True) == schedule.PRESETS["fast"]
    rig = schedule.choose(rigorous=True)
    assert rig.processes > 3 and rig.min_time_factor > 1
    assert schedule.choose(5, fast=True).processes == 5
    with pytest.raises(ValueError, match="exclude"):
        schedule.choose(fast=True, rigorous=True)
    with pytest.raises(ValueError, match="at least 1, got 0"):
        schedule.choose(0)


def test_run_interleaved_groups_results_per_spec_in_run_order():
    calls = []

    def run_one(spec, rnd, position):
        calls.append((spec, rnd, position))
        return f"{spec}{rnd}"

    seen = []
    out = schedule.run_interleaved(["on", "off"], 2, run_one, on_result=seen.append,
                                   label=lambda s: f"mkldnn {s} timing")
    assert calls == [("on", 0, 0), ("off", 0, 1), ("on", 1, 2), ("off", 1, 3)]
    assert [[d.result for d in runs] for runs in out] == [["on0", "on1"], ["off0", "off1"]]
    assert [d.position for d in seen] == [0, 1, 2, 3]
    load = out[1][1].load
    assert load is None or load.label == "mkldnn off timing #2"
