"""GNMT: the layer layout of the paper/MLPerf, token-id input, fixed-length greedy and beam
decoding. Forwards use a tiny width and depth; the full size is checked by shape inference."""

from __future__ import annotations

import os

import mxnet as mx
import numpy as np
import pytest

from mxprof.mx import models, parameters
from mxprof.mx.inputs import random_arrays
from mxprof.mx.zoo import gnmt

SMALL = {"vocab_size": 40, "hidden_size": 8, "encoder_layers": 3, "decoder_layers": 3,
         "decode_steps": 6}


def lstm_weights(net, part: str) -> list[tuple[int, ...]]:
    block = getattr(net, part)
    return [(getattr(layer, "directions", 1), layer._input_size if hasattr(layer, "_input_size")
             else layer.input_size, layer._hidden_size if hasattr(layer, "_hidden_size")
             else layer.hidden_size) for layer in block]


def test_default_layout_is_mlperf_4_plus_4_of_1024():
    spec = models.resolve("GNMT")
    assert spec.name == "gnmt"
    (src,) = spec.input_specs
    assert (src.name, src.shape, src.dtype, src.high) == ("src", (50,), "int32", 32000)
    net = models.build(spec)
    # Encoder: bidirectional first layer, the second reads its 2x1024 output.
    assert lstm_weights(net, "encoder") == [(2, 1024, 1024), (1, 2048, 1024), (1, 1024, 1024),
                                            (1, 1024, 1024)]
    # Decoder: first layer feeds the attention; later layers read [output, context].
    assert lstm_weights(net, "decoder") == [(1, 1024, 1024)] + [(1, 2048, 1024)] * 3
    assert net.embedding.weight.shape == (32000, 1024)  # one table for source and target
    trainable, total = parameters.parameter_counts(net, spec.input_specs)
    assert trainable == total  # no BatchNorm statistics in an RNN


def test_parameter_count_from_layer_sizes():
    h, v = 16, 50
    net = gnmt.gnmt(vocab_size=v, hidden_size=h, encoder_layers=4, decoder_layers=4)

    def lstm(i):  # four gates, input and recurrent weights, two biases
        return 4 * h * (i + h) + 8 * h
    expected = (v * h + 2 * lstm(h) + lstm(2 * h) + 2 * lstm(h)              # encoder
                + lstm(h) + 3 * lstm(2 * h)                                   # decoder
                + 2 * h * h + h + 1 + h                                       # attention
                + h * v + v)                                                  # classifier
    spec = models.resolve("gnmt", shape=(7,))
    assert parameters.parameter_counts(net, spec.input_specs) == (expected, expected)


@pytest.mark.parametrize("hybridize", [False, True])
def test_greedy_decodes_fixed_steps_of_token_ids(hybridize):
    net = gnmt.gnmt(**SMALL)
    net.initialize(parameters.random_initializer())
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    spec = models.resolve("gnmt", shape=(9,))
    (src,) = random_arrays(spec.input_specs, 3)
    assert src.dtype == np.int32 and src.max() < 32000
    out = net(mx.nd.array(src % SMALL["vocab_size"], dtype="int32")).asnumpy()
    assert out.shape == (3, SMALL["decode_steps"])
    assert ((out >= 0) & (out < SMALL["vocab_size"]) & (out == np.round(out))).all()


def test_beam_of_one_is_greedy_and_wider_beam_keeps_shape():
    net = gnmt.gnmt(**SMALL)
    net.initialize(parameters.random_initializer())
    src = mx.nd.array(np.arange(10).reshape(2, 5) + 2, dtype="int32")
    greedy = net(src).asnumpy()
    # The beam path with k=1 must choose exactly greedy's tokens.
    enc = net.encode(mx.nd, src)
    values = mx.nd.transpose(enc, axes=(1, 0, 2))
    first = mx.nd.cast(src[:, :1], "float32")
    tokens = first.reshape((-1,)) * 0 + net.bos_id
    zeros = mx.nd.zeros_like(enc[0])
    states = [[zeros, zeros] for _ in range(len(net.decoder))]
    net.beam_width = 1
    beam1 = net._beam(mx.nd, tokens, states, net.attention.project_keys(values), values, first)
    np.testing.assert_array_equal(beam1.asnumpy(), greedy)
    net.beam_width = 3
    net.hybridize(static_alloc=True, static_shape=True)
    assert net(src).shape == (2, SMALL["decode_steps"])


@pytest.mark.parametrize("decoder", ["unrolled", "loop"])
def test_decoder_never_holds_a_fused_rnn_node_per_step(decoder):
    # Each RNN node keeps its own oneDNN weights: 50 unrolled steps of fused RNN nodes held
    # ~20 GB. "loop" holds the decoder in one foreach; "unrolled" uses LSTM cells.
    import json
    net = gnmt.gnmt(**{**SMALL, "decode_steps": 50, "decoder": decoder})
    graph = json.loads(net(mx.sym.var("src")).tojson())
    ops = [n["op"] for n in graph["nodes"]]
    assert ops.count("RNN") == SMALL["encoder_layers"]
    assert ops.count("_foreach") == (decoder == "loop")
    assert ops.count("FullyConnected") >= (50 * 2 * SMALL["decoder_layers"]
                                           if decoder == "unrolled" else 0)


def test_unrolled_and_loop_decoders_compute_the_same_lstm():
    kw = {**SMALL, "decode_steps": 5}
    unrolled, loop = gnmt.gnmt(**kw), gnmt.gnmt(**kw, decoder="loop")
    for net in (unrolled, loop):
        net.initialize(parameters.random_initializer())
    src = mx.nd.array(np.arange(12).reshape(3, 4) + 2, dtype="int32")
    unrolled(src), loop(src)
    theirs = {n.split("_", 1)[1]: p for n, p in loop.collect_params().items()}
    for name, p in unrolled.collect_params().items():
        if "dec_" not in name:
            theirs[name.split("_", 1)[1]].set_data(p.data())
    for cell, fused in zip(unrolled.decoder, loop.decoder):
        p = cell.collect_params().values()  # i2h_weight, h2h_weight, i2h_bias, h2h_bias
        fused.rnn_param.set_data(mx.nd.concat(*[x.data().reshape(-1) for x in p], dim=0))
    np.testing.assert_array_equal(unrolled(src).asnumpy(), loop(src).asnumpy())


def test_rnn_weights_are_reordered_once_not_per_call(tmp_path):
    # Regression: gluon.rnn.LSTM re-concatenated its weights into a new array every call, so
    # MKL-DNN's RNN operator re-copied and reordered them every call (137 ms a 1024-wide step).
    import subprocess
    import sys
    script = tmp_path / "run.py"
    script.write_text(
        "import mxnet as mx\n"
        "from mxprof.mx import parameters\n"
        "from mxprof.mx.zoo import gnmt\n"
        "net = gnmt.gnmt(vocab_size=50, hidden_size=16, encoder_layers=3, decoder_layers=2,"
        " decode_steps=3)\n"
        "net.initialize(parameters.random_initializer())\n"
        "x = mx.nd.array([[5, 6, 7, 8]], dtype='int32')\n"
        "net(x).wait_to_read()\n"
        "net.hybridize(static_alloc=True, static_shape=True)\n"
        "for i in range(3):\n"
        "    print('CALL', i, flush=True)\n"
        "    net(x).wait_to_read()\n"
        "    mx.nd.waitall()\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, "DNNL_VERBOSE": "1"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.split("CALL 2")[1].splitlines()
    rnn = [ln for ln in last if ln.startswith("dnnl_verbose,exec,cpu,rnn,")]
    # Unidirectional layers' weights in oneDNN's LSTM layout: 1 layer x 1 direction x in x 4 x H.
    reorders = [ln for ln in last if ",reorder," in ln and ",1x1x" in ln and "x4x16" in ln]
    assert len(rnn) == 3  # the encoder's three layers run as oneDNN rnn primitives
    # MXNet 1.9.1's CachedOp never sets OpContext::need_grad under static_shape (only is_train),
    # so some RNN nodes run oneDNN's forward_training, which re-packs its two weights per call
    # by design. An inference node must reorder none; before the fix each reordered two.
    training = [ln for ln in rnn[1:] if ",forward_training," in ln]  # rnn[0] is bidirectional
    assert len(reorders) == 2 * len(training)


@pytest.mark.parametrize("beam", [1, 3])
def test_static_shape_hybridization_gives_the_imperative_tokens(beam):
    # MXNet 1.9.1's foreach under static_shape returned garbage: GNMT turns it off.
    net = gnmt.gnmt(**{**SMALL, "beam_width": beam})
    net.initialize(parameters.random_initializer())
    src = mx.nd.array(np.arange(12).reshape(3, 4) + 2, dtype="int32")
    imperative = net(src).asnumpy()
    net.hybridize(static_alloc=True, static_shape=True)
    for _ in range(2):
        np.testing.assert_array_equal(net(src).asnumpy(), imperative)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="encoder_layers >= 2"):
        gnmt.gnmt(encoder_layers=1)
    with pytest.raises(ValueError, match="bos_id"):
        gnmt.gnmt(vocab_size=1)


@pytest.mark.parametrize("decoder", ["unrolled", "loop"])
def test_optimize_for_mkldnn_runs(decoder):
    # Regression: the hybridize override took 6 positional arguments; optimize_for passes 9.
    net = gnmt.gnmt(**{**SMALL, "decoder": decoder})
    net.initialize(parameters.random_initializer())
    src = mx.nd.array(np.arange(8).reshape(2, 4) + 2, dtype="int32")
    expected = net(src).asnumpy()
    net.optimize_for(src, backend="MKLDNN", static_alloc=True, static_shape=True)
    np.testing.assert_array_equal(net(src).asnumpy(), expected)
