"""`profile`, `fusion` and `accuracy` end to end on GNMT and DCGAN, at small sizes chosen with
the registry's options (`gnmt[hidden_size=32,...]`, `dcgan[ngf=8]`): real MXNet in workers."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

# Three encoder and decoder layers, so the residual connections from the third layer run.
GNMT = "gnmt[hidden_size=32,encoder_layers=3,decoder_layers=3,vocab_size=500,decode_steps=3]"
DCGAN = "dcgan[ngf=8]"
PROFILE = ("--no-reference", "--passes", "timing,layers,primitives", "--checks", "none",
           "--no-diagnosis", "--processes", "1", "--min-time", "0.1")


def _json(tmp_path, *args: str) -> dict:
    out = tmp_path / "out.json"
    proc = run_cli(*args, "--json", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_profile_gnmt_times_every_layer_kind_and_rnn_primitives(tmp_path):
    report = _json(tmp_path, "profile", GNMT, "--input", "src:2,6:int32", *PROFILE)
    layers = {row["name"]: row["op"] for row in report["layers"]}
    encoder = {n for n, op in layers.items() if op == "RNN"}
    assert encoder == {f"gnmt0_enc_flatlstm{i}_rnn0" for i in range(3)}
    for i in range(3):  # each decoder layer's cell, at every step
        assert any(n.startswith(f"gnmt0_dec_lstm{i}_") and op == "FullyConnected"
                   for n, op in layers.items())
    assert any("bahdanauattention0" in n and op == "softmax" for n, op in layers.items())
    rnn = [r for r in report["primitives"]["by_layer"] if r["kind"] == "rnn"]
    assert {r["layer"] for r in rnn} == encoder
    assert all(r["gflops_per_s"] > 0 for r in rnn)
    # These passes re-pack RNN weights per call (static_shape off); the report must say so.
    assert any("re-packing of their weights" in note for note in report["notes"])


def test_fusion_gnmt_fuses_the_decoder_fully_connected_layers(tmp_path):
    report = _json(tmp_path, "fusion", GNMT, "--switches", "none", "--rounds", "1",
                   "--iterations", "5", "--trace-iterations", "2", "--processes", "1")
    assert report["failed_workers"] == []
    assert report["unfused_ms"] > 0 and report["fused_ms"] > 0
    assert any(g["fused_node"].startswith("sg_mkldnn_fully_connected") for g in report["groups"])


def test_accuracy_gnmt_names_the_rnn_reference_and_matches_it(tmp_path):
    report = _json(tmp_path, "accuracy", GNMT, "--configs", "mkldnn", "--iterations", "2",
                   "--num-inputs", "4", "--processes", "1")  # outputs are checked, not a spread
    assert report["reference"]["env"] == {"MXNET_MKLDNN_ENABLED": "1",
                                          "MXNET_USE_MKLDNN_RNN": "0"}
    (comparison,) = report["comparisons"]
    assert comparison["config"] == "mkldnn" and comparison["within_tolerance"]


@pytest.mark.parametrize("command", ["profile", "fusion", "accuracy"])
def test_dcgan_runs_through_every_command(tmp_path, command):
    args = {"profile": (*PROFILE, "--batch-size", "2"),
            "fusion": ("--switches", "none", "--rounds", "1", "--iterations", "5",
                       "--trace-iterations", "2", "--processes", "1"),
            "accuracy": ("--configs", "mkldnn", "--iterations", "2", "--num-inputs", "4",
                         "--processes", "1")}
    report = _json(tmp_path, command, DCGAN, *args[command])
    if command == "profile":
        kinds = {r["kind"] for r in report["primitives"]["by_layer"]}
        assert "deconvolution" in kinds or "convolution" in kinds
    elif command == "fusion":
        assert report["failed_workers"] == []
    else:
        assert report["reference"]["env"] == {"MXNET_MKLDNN_ENABLED": "0"}
        assert report["comparisons"][0]["within_tolerance"]
