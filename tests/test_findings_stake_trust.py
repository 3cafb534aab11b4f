"""A finding's stake is an estimate of what its fix saves, and a fix --try-fixes measured
ranks by what it measured (issue 20). Pure functions over report dicts."""

from __future__ import annotations

from mxprof.jobs.profile.diagnose import subnormal_parameters
from mxprof.jobs.profile.try_fixes import rank, stake_ms
from mxprof.render.tables import finding_lines


def test_subnormal_stake_scales_with_the_subnormal_share():
    report = {"layers": [{"name": "net_prelu0", "ms": 1.0}, {"name": "net_conv1", "ms": 2.0}],
              "primitives": {"subnormals": [{"param": "net_prelu0_alpha", "subnormal": 3,
                                             "size": 12, "share": 0.25}]}}
    (found,) = subnormal_parameters(report, None)
    # A quarter of the PReLU's slopes are subnormal: about a quarter of its time, not the
    # whole time of it and the layer after it (3 ms).
    assert found.effect["ms_per_iter"] == 0.25
    assert "share" in found.effect["estimate"]


def test_a_measured_fix_replaces_the_estimate_in_the_ranking():
    slower = {"rule": "subnormal_parameters", "title": "t", "layers": [], "evidence": "",
              "fix": "", "effect": {"ms_per_iter": 0.7, "measured": {
                  "fix_applied": "zeroed", "saved_ms": -0.02, "before_ms": 1.0,
                  "after_ms": 1.02, "before_ci95": [0.99, 1.01], "after_ci95": [1.01, 1.03],
                  "speedup": 1 / 1.02, "speedup_ratio": None}}}
    small = {"rule": "threads_idle", "title": "t", "layers": [], "evidence": "", "fix": "",
             "effect": {"ms_per_iter": 0.1}}
    assert stake_ms(slower) == -0.02 and stake_ms(small) == 0.1
    assert rank([slower, small]) == [small, slower]
    lines = finding_lines({"findings": rank([slower, small])})
    assert "(~0.100 ms/iter to save, estimated)" in lines[1]
    assert "the fix saves nothing, -0.020 ms/iter" in lines[4]
