"""GNMT: the layer layout of the paper/MLPerf, token-id input, fixed-length greedy and beam
decoding. Forwards use a tiny width and depth; the full size is checked by shape inference."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

from mxprof.mx import models
from mxprof.mx.inputs import random_arrays
from mxprof.mx.zoo import gnmt

SMALL = {"vocab_size": 40, "hidden_size": 8, "encoder_layers": 3, "decoder_layers": 3,
         "decode_steps": 6}


def lstm_weights(net, part: str) -> list[tuple[int, ...]]:
    block = getattr(net, part)
    return [(layer._dir, layer._input_size, layer._hidden_size) for layer in block]


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
    trainable, total = models.parameter_counts(net, spec.input_specs)
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
    assert models.parameter_counts(net, spec.input_specs) == (expected, expected)


@pytest.mark.parametrize("hybridize", [False, True])
def test_greedy_decodes_fixed_steps_of_token_ids(hybridize):
    net = gnmt.gnmt(**SMALL)
    net.initialize(models.random_initializer())
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
    net.initialize(models.random_initializer())
    src = mx.nd.array(np.arange(10).reshape(2, 5) + 2, dtype="int32")
    greedy = net(src).asnumpy()
    # The beam path with k=1 must choose exactly greedy's tokens.
    enc = net.encode(mx.nd, src)
    values = mx.nd.transpose(enc, axes=(1, 0, 2))
    first = mx.nd.cast(src[:, :1], "float32")
    tokens = first.reshape((-1,)) * 0 + net.bos_id
    zeros = mx.nd.zeros_like(enc[:1])
    states = [[zeros, zeros] for _ in range(len(net.decoder))]
    net.beam_width = 1
    beam1 = net._beam(mx.nd, tokens, states, net.attention.project_keys(values), values, first)
    np.testing.assert_array_equal(beam1.asnumpy(), greedy)
    net.beam_width = 3
    net.hybridize(static_alloc=True, static_shape=True)
    assert net(src).shape == (2, SMALL["decode_steps"])


def test_decoder_runs_as_one_loop_not_an_unrolled_graph():
    # Each RNN node keeps its own oneDNN weights: 50 unrolled steps of the default decoder
    # held ~20 GB. The top-level graph must hold the encoder's RNN nodes and one loop.
    import json
    net = gnmt.gnmt(**{**SMALL, "decode_steps": 50})
    graph = json.loads(net(mx.sym.var("src")).tojson())
    ops = [n["op"] for n in graph["nodes"]]
    assert ops.count("RNN") == SMALL["encoder_layers"]
    assert ops.count("_foreach") == 1


@pytest.mark.parametrize("beam", [1, 3])
def test_static_shape_hybridization_gives_the_imperative_tokens(beam):
    # MXNet 1.9.1's foreach under static_shape returned garbage: GNMT turns it off.
    net = gnmt.gnmt(**{**SMALL, "beam_width": beam})
    net.initialize(models.random_initializer())
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
