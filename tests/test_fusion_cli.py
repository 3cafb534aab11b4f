"""`python -m mxprof fusion`: report on stdout, JSON with the required keys, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import run_cli

from schema_check import assert_matches_schema

TINY = str(Path(__file__).parent / "fixtures" / "fusion_tinynet.py") + ":build"
FAST = ["--shape", "1,3,16,16", "--iterations", "5", "--warmup", "2", "--min-time", "0.05",
        "--trace-iterations", "3"]


@pytest.fixture(scope="module")
def report_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fusion")
    proc = run_cli("fusion", TINY, *FAST, "--processes", "2", "--fast", "--switches", "conv_sum",
                   "--json",
                   str(out / "r.json"), "--markdown", str(out / "r.md"))
    return proc, out


def _reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


def test_json_is_strict_and_threads_were_read_in_the_worker(report_run):
    """Before: NaN could reach the file, and "threads" was os.cpu_count(), not what ran."""
    proc, out = report_run
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "r.json").read_text(), parse_constant=_reject_constant)
    assert_matches_schema("fusion", report)
    env = report["environment"]
    assert env["threads"] == env["fingerprint"]["mxnet"]["openmp_threads"] >= 1
    assert env["allowed_cpus"] == env["fingerprint"]["mxnet"]["allowed_cpus"]
    # The count and where it came from: one thread per physical core, mxprof's default.
    # (The terminal wraps the header line: compare with the whitespace folded.)
    assert f"{env['threads']} OpenMP threads (read in the worker; one per physical core " \
           "(mxprof default; MXNet alone would use" in " ".join(proc.stdout.split())
    assert env["threads_why"].startswith("one per physical core")
    # The wait policy the parent chose reached the worker, and the report says which ran.
    policy = env["wait_policy"]["policy"]
    assert policy in ("active", "passive") and f"OpenMP wait policy {policy}" in proc.stdout
    assert f"mxprof: OpenMP wait policy {policy} (" in proc.stderr


def test_cli_prints_report_and_writes_json(report_run):
    proc, out = report_run
    assert proc.returncode == 0, proc.stderr
    assert "Fusion report" in proc.stdout and "sg_mkldnn_conv_bn_add_act_1" in proc.stdout
    assert "MXNet 1.9.1" in proc.stdout and "oneDNN v2" in proc.stdout
    report = json.loads((out / "r.json").read_text())
    for key in ("unfused_ms", "fused_ms", "gain_percent", "groups", "environment", "protocol"):
        assert key in report
    assert report["unfused_ms"] > 0 and report["fused_ms"] > 0
    sums = report["output_sum"]
    assert sums["unfused"] == pytest.approx(sums["fused"], rel=1e-4)
    assert not [f for f in report["findings"] if f["rule"] == "output_mismatch"]
    for g in report["groups"]:
        assert {"fused_node", "pattern", "members", "unfused_ms", "fused_ms"} <= set(g)
        # A tiny layer's primitive can print as 0.000 ms: then it is flagged, never a gain.
        assert (g["fused_ms"] > 0 and g["unfused_ms"] > 0) or "resolution" in g["implausible"]
        assert g["implausible"] or g["gain_ratio"]["ci95_low"] <= g["gain_ratio"]["value"]
    patterns = {g["pattern"]: g["members"] for g in report["groups"]}
    assert patterns["fc+relu"] == ["dense0_fwd", "relu2_fwd"]
    (switch,) = report["patterns"]
    assert switch["switch"] == "MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM"
    # --processes 2: every timed side and the switch ran twice, interleaved, and the ratios
    # are bootstrapped over 2 vs 2 processes (before: one process per switch side).
    assert report["unfused_latency"]["processes"] == report["fused_latency"]["processes"] == 2
    assert switch["processes"] == 2
    assert [len(v) for v in report["round_medians_ms"].values()] == [2, 2, 2]
    for ratio in (report["gain_ratio"], report["pattern_ratios"][switch["switch"]]):
        assert "(2 vs 2 processes" in ratio["method"]
    for row in report["pattern_groups"]:
        assert row["implausible"] or "(2 vs 2 processes" in row["gain_ratio"]["method"]
    assert "2 worker processes per configuration" in report["protocol"]["latency"]
    assert "conv+bn+sum+relu" not in switch["patterns"] and switch["graph_changed"]
    assert "| fused node | pattern |" in (out / "r.md").read_text()


def test_cli_loads_saved_report(report_run):
    _, out = report_run
    proc = run_cli("fusion", "--load", str(out / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert "fc+relu" in proc.stdout


def test_summary_line_for_profile(report_run):
    from mxprof.jobs.fusion.report import summary_line

    _, out = report_run
    line = summary_line(json.loads((out / "r.json").read_text()))
    assert line.startswith("fusion: ") and "fused nodes" in line and "\n" not in line


@pytest.mark.parametrize("args, message", [
    (["no_such_net", "--shape", "1,3,16,16"], "unknown model 'no_such_net'"),
    (["missing.py:build"], "model file 'missing.py' does not exist"),
    ([TINY, "--shape", "1,three"], "bad shape '1,three': expected integers"),
    ([TINY, "--shape", "1,3"], "the input shape(s) do not fit"),
    ([TINY, "--input", "x:1,3,16,16", "--input", "y:2,3"], "batch sizes differ"),
    ([TINY, "--switches", "conv_gelu"], "unknown fusion switch 'conv_gelu'"),
    ([TINY, "--threads", "0"], "--threads must be at least 1"),
    ([], "give a MODEL"),
])
def test_bad_input_gives_clear_error(args, message):
    proc = run_cli("fusion", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_worker_failure_is_one_clear_line(tmp_path):
    # The shapes fit (the check infers them symbolically), the run itself fails.
    factory = tmp_path / "fails.py"
    factory.write_text("import mxnet as mx\nfrom mxnet.gluon import HybridBlock\n\n\n"
                       "class Net(HybridBlock):\n    def hybrid_forward(self, F, x):\n"
                       "        if F is mx.nd:\n            raise ValueError('only symbolic')\n"
                       "        return F.relu(x)\n\n\ndef build():\n    return Net()\n")
    proc = run_cli("fusion", f"{factory}:build", "--shape", "1,3", "--rounds", "1",
                   "--switches", "none")
    assert proc.returncode == 1, proc.stderr  # a run failed: not bad input (2)
    assert "could not measure" in proc.stderr and "unfused worker exited" in proc.stderr
    assert "Traceback" not in proc.stderr and "File \"" not in proc.stderr


def test_crashed_main_worker_shows_its_stderr_tail(tmp_path):
    factory = tmp_path / "crash.py"
    # Built and shape-checked fine; the first real call aborts inside the worker.
    factory.write_text("import os, sys\nimport mxnet as mx\nfrom mxnet.gluon import "
                       "HybridBlock\n\n\nclass Net(HybridBlock):\n"
                       "    def hybrid_forward(self, F, x):\n        if F is mx.nd:\n"
                       "            print('native context', file=sys.stderr)\n"
                       "            print('last words', file=sys.stderr, flush=True)\n"
                       "            os.abort()\n        return F.relu(x)\n\n\n"
                       "def build():\n    return Net()\n")
    proc = run_cli("fusion", f"{factory}:build", *FAST, "--switches", "none")
    assert proc.returncode == 1  # a crashed worker, not bad input
    assert "could not measure" in proc.stderr
    assert "unfused worker killed by signal SIGABRT" in proc.stderr
    assert "SIGABRT: last words\n  | native context\n" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_zoo_shape_is_the_models_own_at_batch_1_unless_given():
    import argparse

    from mxprof.commands.fusion import _model
    from mxprof.errors import UsageError

    def shape(model, text=None, given=()):
        args = argparse.Namespace(model=model, shape=text, symbol=None, params=None,
                                  input=list(given))
        return _model(args)[1]

    assert shape("inceptionv3") == (1, 3, 299, 299)
    assert shape("resnet18_v1", "3,64,64") == (1, 3, 64, 64)  # C,H,W as in profile
    assert shape("resnet18_v1", "2,3,64,64") == (2, 3, 64, 64)
    assert shape("gnmt", given=["src:3,20:int32"]) == (3, 20)
    with pytest.raises(UsageError, match="resnet18_v1 takes 3 size"):
        shape("resnet18_v1", "3,64")
