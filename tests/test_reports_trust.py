"""Reports that say what really ran (issue 20): a factory's own weights are not "random", a
Gluon LSTM given as FILE.py:FACTORY gets the RNN reference, two factories of one file are two
models."""

from __future__ import annotations

import json

import pytest
from tests.conftest import run_cli

LSTM = """
import mxnet as mx
from mxnet.gluon import nn, rnn


class Net(mx.gluon.HybridBlock):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.lstm = rnn.LSTM(8, num_layers=2, layout="NTC")
            self.out = nn.Dense(4)

    def hybrid_forward(self, F, x):
        return self.out(self.lstm(x))


def build():
    net = Net()
    net.initialize(mx.init.Xavier())  # the factory's own weights
    return net, ["data:1,5,6"]


def fc():
    net = nn.HybridSequential()
    net.add(nn.Dense(4, in_units=6))
    return net, ["data:1,6"]


def dot():
    net = nn.HybridSequential()
    net.add(nn.Dense(3, in_units=6))
    return net, ["data:1,6"]
"""


@pytest.fixture(scope="module")
def lstm(tmp_path_factory):
    path = tmp_path_factory.mktemp("lstm") / "c12.py"
    path.write_text(LSTM)
    return path


def test_a_factory_lstm_gets_the_rnn_reference_and_keeps_its_weights(lstm, tmp_path):
    out = tmp_path / "a.json"
    r = run_cli("accuracy", f"{lstm}:build", "--num-inputs", "2", "--configs", "mkldnn",
                "--iterations", "2", "--processes", "1",  # the reference and weights checked
                "--json", str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["reference"]["env"].get("MXNET_USE_MKLDNN_RNN") == "0"
    assert all(c["ok"] for c in report["configs"]), report["configs"]
    assert report["weights"] == "factory"
    assert "random weights" not in r.stdout and "random initialisation" not in r.stdout


def test_two_factories_of_one_file_are_two_models(lstm):
    r = run_cli("profile", f"{lstm}:fc", "--dry-run")
    s = run_cli("profile", f"{lstm}:dot", "--dry-run")
    assert r.returncode == s.returncode == 0, r.stderr + s.stderr
    assert "c12.py:fc" in r.stdout and "c12.py:dot" in s.stdout


def test_breakdowns_run_at_the_batch_asked_for_and_say_so(tmp_path):
    out = tmp_path / "p.json"
    r = run_cli("profile", "tests/fixtures/fusion_tinynet.py:build", "--shape", "3,16,16",
                "--breakdown-batch", "3", "--passes", "timing,layers", "--no-reference",
                "--processes", "1", "--min-time", "0.05", "--checks", "none", "--json",
                str(out))
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["protocol"]["breakdown_batch"] == 3
    shapes = [row["output_shape"] for row in report["layers"] if row.get("output_shape")]
    assert shapes and all(s[0] == 3 for s in shapes)
    assert "Slowest layers, MKL-DNN on (batch 3)" in r.stdout
