"""`--build NAME=PIP_SPEC` for real: a cached venv with mxnet-native 1.8.0.post0 from PyPI.

The venv lives in the user cache (~/.cache/mxprof/venvs, or $MXPROF_CACHE), as it does for
users: the first run installs it (about 60 s here), later runs reuse it. A build without
MKL-DNN runs only the MKL-DNN-off column.
"""

from __future__ import annotations

import json

import pytest

from mxprof.host import builds

SPEC = "mxnet-native==1.8.0.post0"


@pytest.mark.slow
def test_build_option_creates_caches_and_runs_another_release(cli, tmp_path):
    proc = cli("compare", "mobilenet0.25", "--shape", "3,64,64", "--batch-size", "1",
               "--min-time", "0.1", "--warmup", "1", "--no-current",
               "--build", f"native18={SPEC}", "--results", str(tmp_path / "r.jsonl"),
               "--json", "-", timeout=900)
    assert proc.returncode == 0, proc.stderr
    venv = builds.venv_dir(SPEC)
    marker = json.loads((venv / "mxprof-build.json").read_text())
    assert marker["pip_spec"] == SPEC and marker["commands"][0][-1] == str(venv)
    report = json.loads(proc.stdout)
    rows = report["rows"]
    assert [(r["build"], r["config"], r["metric"]) for r in rows] == [
        ("native18", "reference", "latency")]
    assert rows[0]["mxnet"] == "1.8.0" and rows[0]["latency_ms"] > 0
    assert any("has no MKL-DNN" in n for n in report["notes"])
    probed = builds.probe(builds.Build("native18", str(venv / "bin" / "python")))
    assert probed.mxnet == "1.8.0" and probed.mkldnn is False
