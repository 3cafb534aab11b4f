"""DCGAN generator: 100-d noise -> 3x64x64, the published parameter count."""

from __future__ import annotations

import mxnet as mx
import numpy as np

from mxprof.mx import models, parameters
from mxprof.mx.zoo import dcgan


def test_generator_shapes_and_count():
    spec = models.resolve("DCGAN")
    assert spec.name == "dcgan" and spec.source == "mxprof"
    (noise,) = spec.input_specs
    assert (noise.name, noise.shape, noise.distribution) == ("noise", (100, 1, 1), "normal")
    trainable, total = parameters.parameter_counts(models.build(spec), spec.input_specs)
    assert trainable == 3_576_704  # ngf=64, nz=100: the DCGAN examples' generator
    assert total == trainable + 2 * (512 + 256 + 128 + 64)  # running mean and variance


def test_generator_stage_sizes_double():
    net = dcgan.dcgan()
    x = mx.sym.var("noise")
    outs = []
    for layer in net.features:
        x = layer(x)
        if isinstance(layer, mx.gluon.nn.Conv2DTranspose):
            outs.append(x)
    _, shapes, _ = mx.sym.Group(outs).infer_shape(noise=(2, 100, 1, 1))
    assert [tuple(s) for s in shapes] == [(2, 512, 4, 4), (2, 256, 8, 8), (2, 128, 16, 16),
                                          (2, 64, 32, 32), (2, 3, 64, 64)]


def test_small_generator_forward_is_in_tanh_range():
    net = dcgan.dcgan(ngf=4)
    net.initialize(parameters.random_initializer())
    net.hybridize(static_alloc=True, static_shape=True)
    out = net(mx.nd.random.normal(shape=(2, 100, 1, 1))).asnumpy()
    assert out.shape == (2, 3, 64, 64)
    assert np.abs(out).max() <= 1.0 and np.abs(out).max() > 0
