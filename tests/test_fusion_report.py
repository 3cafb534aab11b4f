"""Fusion reports saved before the one statistics record still load and render (schema 1)."""

from __future__ import annotations

import json

from tests.conftest import run_cli

from mxprof.jobs.fusion.report import upgrade

SPREAD = {"median": 2.0, "q1": 1.9, "q3": 2.1, "n": 40}


def _old_report() -> dict:
    """The keys `mxprof fusion --json` wrote before latencies were `Stats` records."""
    group = {"fused_node": "sg_mkldnn_conv_0", "op": "_sg_mkldnn_conv", "pattern": "conv+relu",
             "members": ["net_conv0_fwd", "net_relu0_fwd"],
             "member_ops": ["Convolution", "Activation"], "unfused_ms": 0.5, "fused_ms": 0.4,
             "gain_ms": 0.1, "gain_percent": 20.0, "clear": True, "reason": "fused",
             "unfused_spread": {"median": 0.5, "q1": 0.45, "q3": 0.55, "n": 10},
             "fused_spread": {"median": 0.4, "q1": 0.38, "q3": 0.42, "n": 10}}
    return {
        "schema": 1, "kind": "fusion", "model": "resnet18_v1", "input_shape": [1, 3, 32, 32],
        "path": "gluon", "static": True,
        "environment": {"mxnet": "1.9.1", "onednn": "oneDNN v2.6", "isa": "avx2", "cpu": "x",
                        "logical_cpus": 2, "threads": 2, "allowed_cpus": "0-1",
                        "weights": "random"},
        "protocol": {"latency": "old protocol", "groups": "old groups", "workers": "w"},
        "unfused_ms": 2.0, "fused_ms": 1.5, "gain_ms": 0.5, "gain_percent": 25.0,
        "gain_percent_range": [20.0, 30.0], "gain_clear": True, "worker_noise_ms": 0.01,
        "unfused_latency": SPREAD, "fused_latency": {"median": 1.5, "q1": 1.4, "q3": 1.6, "n": 40},
        # The first statistics record, as the stats merge wrote it (no per-process figures).
        "latency_stats": {"unfused": {
            "n": 40, "min": 1.8, "max": 2.3, "median": 2.0, "mean": 2.01, "stdev": 0.05,
            "p90": 2.1, "p99": None, "mad": 0.04, "ci95_low": 1.95, "ci95_high": 2.05,
            "q1": 1.9, "q3": 2.1, "outliers": 0, "warnings": [], "unit": "ms"}},
        "round_medians_ms": {"unfused": [2.0], "fused": [1.5]},
        "groups": [group],
        "pattern_groups": [{"pattern": "conv+relu", "groups": 1, "unfused_ms": 0.5,
                            "fused_ms": 0.4, "gain_ms": 0.1, "gain_percent": 20.0}],
        "coverage": {"unfused_layers": [], "removed_layers": [], "duplicated_layers": [],
                     "grouped_layers": 2},
        "patterns": [{"switch": "MXNET_DISABLE_MKLDNN_FUSE_CONV_RELU", "pattern": "conv+relu",
                      "latency": {"median": 1.8, "q1": 1.7, "q3": 1.9, "n": 40},
                      "patterns": {"conv": 1}, "cost_ms": 0.3, "fused_paired_ms": 1.5,
                      "graph_changed": True, "clear": True}],
        "findings": [], "failed_workers": [], "output_sum": {"unfused": 1.0, "fused": 1.0},
        "primitive_ms": {"unfused": 1.0, "fused": 0.8}}


def test_old_latencies_become_statistics_records_without_invented_intervals():
    new = upgrade(_old_report())
    assert not {"gain_percent_range", "gain_clear", "worker_noise_ms", "latency_stats"} & set(new)
    # The old file's full statistics (CI included) win over its quartile summary.
    assert new["unfused_latency"]["ci95_low"] == 1.95
    fused = new["fused_latency"]
    assert fused["unit"] == "ms" and fused["median"] == 1.5 and fused["ci95_low"] is None
    assert new["patterns"][0]["latency"]["q3"] == 1.9
    assert new["groups"][0]["fused_spread"]["n"] == 10 and new["groups"][0]["gain_ratio"] is None
    assert upgrade(new) == new


def test_old_report_renders_in_every_format(tmp_path):
    from mxprof.render.fusion import render_markdown, render_terminal
    from mxprof.render.html.fusion import render

    old = _old_report()
    text = render_terminal(old)
    assert "1.950-2.050" in text and "conv+relu" in text  # the old CI, shown as such
    md = render_markdown(old)
    assert "| fused node | pattern |" in md and "1.500 | -" in md  # no interval: a dash
    assert "resnet18_v1" in render(old)


def test_cli_loads_an_old_report(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(_old_report()))
    proc = run_cli("fusion", "--load", str(path), "--json", str(tmp_path / "new.json"))
    assert proc.returncode == 0, proc.stderr
    assert "Fusion report" in proc.stdout
    assert "gain_clear" not in json.loads((tmp_path / "new.json").read_text())


def test_findings_are_the_one_findings_record_and_old_files_convert():
    """Fusion had its own Finding record ({nodes, ms_per_iteration}); now it writes the one
    record of mxprof.onednn.findings, and a saved file's findings load in that layout."""
    import json as _json
    from pathlib import Path

    from mxprof.jobs.fusion import diagnose
    from mxprof.onednn.findings import Finding

    f = diagnose.finding("plain_layouts", "medium", "fused", "t", "e", "fix", ["c1"], 0.25)
    assert isinstance(f, Finding) and f.nodes == ("c1",) and f.ms_per_iteration == 0.25
    d = f.to_dict()
    assert d == {"rule": "plain_layouts", "title": "t", "layers": ["c1"], "evidence": "e",
                 "fix": "fix", "effect": {"ms_per_iter": 0.25}, "severity": "medium",
                 "graph": "fused"}
    assert Finding.from_dict(d) == f
    # profile's findings carry no severity or graph, and write none
    assert "severity" not in Finding("r", "t", (), "e", "x").to_dict()
    path = Path(__file__).parent / "fixtures" / "results" / "fusion.json"
    old = _json.loads(path.read_text())
    new = upgrade(old)
    for before, after in zip(old["findings"], new["findings"]):
        assert after["layers"] == before.get("nodes", after["layers"])
        assert after["effect"]["ms_per_iter"] == before.get("ms_per_iteration",
                                                            after["effect"]["ms_per_iter"])
        assert after["severity"] == before["severity"] and after["graph"] == before["graph"]
    assert upgrade(new) == new
