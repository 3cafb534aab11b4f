"""Reports say what really ran (issue 9): threads read inside the worker, the hybridize flags of
each pass, the calibration examples really used, which accuracy reference ran, and the fusion
output check element by element with accuracy's tolerances."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mxprof.mx.rnn import RNN_REFERENCE_NOTE
from mxprof.workers.pythonpath import package_parent

_THREADS = ("import mxnet\n"
            "from mxprof.host.environment import mxnet_fingerprint\n"
            "import json; d = mxnet_fingerprint()\n"
            "print(json.dumps({k: d[k] for k in ('openmp_threads', 'allowed_cpus')}))\n")


def _threads_in_worker(omp: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env["PYTHONPATH"] = package_parent()
    if omp:
        env["OMP_NUM_THREADS"] = omp
    out = subprocess.run([sys.executable, "-c", _THREADS], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_threads_are_read_inside_the_worker():
    """MXNet 1.9.1 without OMP_NUM_THREADS uses half the CPUs it may run on (x86:
    src/engine/openmp.cc), with it the value given; the fingerprint reads the runtime itself."""
    cpus = len(os.sched_getaffinity(0))
    default = _threads_in_worker(None)
    assert default["openmp_threads"] == max(1, cpus // 2)
    assert _threads_in_worker("3")["openmp_threads"] == 3
    from mxprof.cpu.cpulist import format_cpu_list
    assert default["allowed_cpus"] == format_cpu_list(sorted(os.sched_getaffinity(0)))


def test_protocol_line_says_static_shape_false_for_the_layer_passes():
    from mxprof.jobs.profile.report import build_report
    from mxprof.jobs.profile.spec import RunResult, RunSpec
    from mxprof.mx import models
    from mxprof.mx.layers import LAYER_HYBRIDIZE

    spec = RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), config="mkldnn",
                   mkldnn=True, pass_name="timing")
    report = build_report([RunResult(spec=spec, status="failed", wall_s=0.0)], planned=1)
    text = report["protocol"]["hybridize"]
    layers = text.split("layers, primitives:")[1]
    assert f"static_shape={LAYER_HYBRIDIZE['static_shape']}" in layers
    assert "static_shape=True" in text.split("layers, primitives:")[0]


@pytest.mark.parametrize(("count", "batch", "used", "words"), [
    (10, 4, 8, "8 of 10 used in batches of 4, the last partial batch of 2 dropped"),
    (8, 4, 8, "all 8 used in batches of 4"),
    (3, 16, 3, "all 3 used in batches of 3"),
])
def test_calibration_says_which_examples_are_used(count, batch, used, words):
    from mxprof.jobs.accuracy.execute import calibration_account

    account = calibration_account("random normal inputs", count, batch)
    assert account["count"] == used and account["requested"] == count
    assert account["source"] == f"random normal inputs: {words}"


def test_fusion_output_check_is_element_wise(tmp_path):
    """Equal sums of |output| (what the old check compared), different elements."""
    from mxprof.jobs.fusion.assemble import output_mismatch

    ref = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)
    np.save(tmp_path / "u.npy", ref)
    np.save(tmp_path / "f.npy", ref[:, ::-1].copy())
    finding = output_mismatch(str(tmp_path / "u.npy"), str(tmp_path / "f.npy"))
    assert finding is not None and finding.rule == "output_mismatch"
    assert "max |fused - unfused| 2 " in finding.evidence
    np.save(tmp_path / "g.npy", ref * (1 + 1e-5))  # inside rtol 1e-3
    assert output_mismatch(str(tmp_path / "u.npy"), str(tmp_path / "g.npy")) is None


def _export_lstm(folder: Path) -> tuple[str, str]:
    """A 2-layer LSTM classifier whose per-sample input is (1, T, C), exported as a symbol."""
    code = f"""
import mxnet as mx
from mxnet.gluon import HybridBlock, nn, rnn
class Seq(HybridBlock):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.lstm = rnn.LSTM(16, num_layers=2, layout="NTC")
        self.fc = nn.Dense(5)
    def hybrid_forward(self, F, x):
        return self.fc(self.lstm(F.reshape(x, shape=(0, -3, -2))))
mx.random.seed(0)
net = Seq(prefix="seq_")
net.initialize(mx.init.Xavier())
net.hybridize()
net(mx.nd.ones((2, 1, 6, 8)))
net.export({str(folder / 'seq')!r})
"""
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    return str(folder / "seq-symbol.json"), str(folder / "seq-0000.params")


def test_lstm_accuracy_uses_the_rnn_reference_and_says_so(tmp_path, cli):
    """MXNET_MKLDNN_ENABLED=0 cannot run a 2-layer LSTM in MXNet 1.9.1: the reference is
    MXNET_USE_MKLDNN_RNN=0, and the report says so."""
    symbol, params = _export_lstm(tmp_path)
    out = tmp_path / "r.json"
    proc = cli("accuracy", "--symbol", symbol, "--params", params, "--shape", "1,6,8",
               "--num-inputs", "4", "--no-timing", "--configs", "mkldnn",
               "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["reference"]["env"] == {"MXNET_MKLDNN_ENABLED": "1",
                                          "MXNET_USE_MKLDNN_RNN": "0"}
    assert all(c["ok"] for c in report["configs"])
    assert "MXNET_USE_MKLDNN_RNN=0" in proc.stdout
    # The reference worker's own word on the path it ran reaches the report and the terminal.
    assert report["reference_note"] == RNN_REFERENCE_NOTE
    assert "reference note: reference for RNN models" in proc.stdout
