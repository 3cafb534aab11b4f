"""Pages agree with the terminal (issue 20), and every breakdown gets the one plausibility
rule: parts above the whole are flagged, never shown as a share or as overhead."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mxprof.jobs.profile.report import implausible
from mxprof.render.tables import operator_table

RESULTS = Path(__file__).parent / "fixtures" / "results"
ROOF = {
    "ceilings": {"source": "measured", "peak_gflops": {"f32": 332.3, "int8": 1329.2},
                 "bandwidth_gbs": 12.5},
    "layers": [{"layer": "conv0", "layer_op": "Convolution", "ms": 0.5, "flops": 1.2e8,
                "attained_gflops": 240.0, "attained_gbs": 3.0, "roof_ms": 0.36,
                "efficiency": 0.72, "bound": "compute-bound", "intensity": 80.0}],
    "headroom": {"primitives_ms": 0.5, "roof_ms": 0.36, "latency_ms": 0.9,
                 "model_at_roof_ms": 0.76, "speedup_bound": 1.18},
    "overhead_efficiency": 0.05,
}


def test_an_operator_total_above_the_latency_is_flagged_like_the_layer_sum():
    why = implausible("operators", 68.0, 51.5, "bulk execution off", "shares are of that pass")
    assert why.startswith("the operators sum to 68.00 ms, more than the 51.50 ms")
    assert implausible("operators", 50.0, 51.5, "", "") is None
    section = {"operators": [{"op": "Convolution", "count": 1, "ms": 68.0, "percent": 100.0}],
               "operators_total_ms": 68.0, "operators_source": "profiler",
               "latency_ms": {"median": 51.5}, "operators_implausible": why}
    assert f"implausible: {why}" in operator_table(section, "ops").footnote


@pytest.fixture
def profile_report():
    return json.loads((RESULTS / "profile.json").read_text())


def test_the_page_flags_an_implausible_layer_sum(profile_report):
    from mxprof.render.html import render_page
    report = copy.deepcopy(profile_report)
    cov = report["coverage"]
    cov.update(layers_ms=1.27 * cov["latency_ms"], ratio=1.27,
               overhead_ms=-0.27 * cov["latency_ms"], overhead_plausible=False,
               implausible="the layers sum to more than the latency")
    page = render_page(report, "profile")  # a fixture of before results carried their kind
    assert "Implausible: the layers sum to more than the latency" in page
    assert "the rest is framework overhead" not in page


def test_the_page_roofline_reads_like_the_terminal(profile_report):
    from mxprof.render.html.findings import roofline_section
    html = roofline_section(ROOF)
    assert "overhead_efficiency" not in html and "speedup_bound" not in html
    assert "72%" in html and "1329.2 GOP/s" in html


def test_the_accuracy_page_counts_its_processes():
    from mxprof.jobs.accuracy.records import AccuracyReport
    from mxprof.render.html import render_page
    data = json.loads((RESULTS / "accuracy.json").read_text())
    report = AccuracyReport.from_dict(data)
    import msgspec
    report = msgspec.structs.replace(report, timing={**(report.timing or {}), "processes": 2})
    page = render_page(report)
    assert "2 processes each" in page and "one process each" not in page


def test_a_compute_bound_layer_above_its_roof_gets_the_compute_explanation():
    from mxprof.render.tables import roofline_table
    roof = copy.deepcopy(ROOF)
    roof["layers"][0]["efficiency"] = 1.12
    foot = roofline_table({"roofline": roof}).footnote
    assert "compute-bound above 100%: the peak's clock or FLOP-per-cycle" in foot
    assert "data stayed in cache" not in foot
