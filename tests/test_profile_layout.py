"""The "shared" process layout (issue 24) against the legacy one, in the same run: the same
figures (latency medians within their intervals), the same report sections and checks."""

from __future__ import annotations

import json

import pytest

SMALL = ("mobilenet0.25", "--shape", "3,32,32", "--batch-size", "2", "--min-time", "0.2",
         "--processes", "2", "--passes", "timing", "--no-diagnosis")


def _profile(tmp_path, layout: str) -> dict:
    from conftest import run_cli
    out = tmp_path / f"{layout}.json"
    proc = run_cli("profile", *SMALL, "--layout", layout, "--json", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "overhead ratio" in proc.stderr
    return json.loads(out.read_text())


@pytest.mark.slow
def test_both_layouts_give_the_same_figures_and_sections(tmp_path):
    legacy, shared = _profile(tmp_path, "legacy"), _profile(tmp_path, "shared")
    for key in ("latency_ms", "reference"):
        a = legacy[key] if key == "latency_ms" else legacy[key]["latency_ms"]
        b = shared[key] if key == "latency_ms" else shared[key]["latency_ms"]
        # The two layouts run as two commands, one after the other: on a shared machine the
        # drift between them exceeds each one's within-run interval (seen here: 1.45-1.51 ms
        # against 1.29-1.41 ms), so an interval-overlap assert would be flaky. Agreement within
        # 25% still catches a layout that measures something else (the fused graph's or the
        # companion outputs' calls leaking into the headline would move it by more).
        assert 0.8 <= b["median"] / a["median"] <= 1.25, (a, b)
    assert set(legacy) == set(shared)
    for report in (legacy, shared):
        checks = report["checks"]
        assert checks["fusion"]["status"] == "ok" and checks["fusion"]["groups"] > 0
        assert checks["fusion"]["summary"].startswith("fusion: ")
        assert checks["equivalence"]["status"] == "ok"
        assert [c["name"] for c in checks["equivalence"]["configs"]] == ["mkldnn",
                                                                         "mkldnn-fused"]
        cost = report["cost"]
        assert cost["model_s"] > 0 and cost["wall_s"] >= cost["model_s"]
        assert cost["overhead_ratio"] == pytest.approx(cost["wall_s"] / cost["model_s"])
    assert shared["cost"]["layout"] == "shared" and "companions" in shared["cost"]["phases_s"]
    # The shared layout runs no worker of its own for the checks: the four timing processes
    # took the fused timing (MKL-DNN ones) and the outputs (the first of each configuration).
    assert shared["checks"]["fusion"]["processes"] == 2
    assert shared["model"]["weights"] == legacy["model"]["weights"] == "random"
