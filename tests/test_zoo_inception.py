"""Inception-v4 and Inception-ResNet-v2 from the paper: every stage's output shape and the
parameter counts of the published implementations, by symbolic shape inference (no forward)."""

from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest

from mxprof.mx import models, parameters
from mxprof.mx.zoo import inception_resnet_v2, inception_v4


def stage_shapes(net, size: int = 299) -> list[tuple[int, ...]]:
    """(C, H, W) after each block of `net.features`, from shape inference at batch 1."""
    x = mx.sym.var("data")
    outs = []
    for stage in net.features:
        x = stage(x)
        outs.append(x)
    _, shapes, _ = mx.sym.Group(outs).infer_shape(data=(1, 3, size, size))
    return [tuple(s[1:]) for s in shapes]


def test_inception_v4_stages_match_the_paper():
    shapes = stage_shapes(inception_v4.inception_v4())
    # Figure 9: stem, 4 x Inception-A, Reduction-A, 7 x Inception-B, Reduction-B, 3 x Inception-C.
    expected = ([(384, 35, 35)] * 5 + [(1024, 17, 17)] * 8 + [(1536, 8, 8)] * 4
                + [(1536, 1, 1), (1536,), (1536,)])
    assert shapes == expected


def test_inception_v4_stem_inner_shapes():
    stem = inception_v4.stem()
    x = mx.sym.var("data")
    outs = []
    for layer in stem:
        x = layer(x)
        outs.append(x)
    _, shapes, _ = mx.sym.Group(outs).infer_shape(data=(1, 3, 299, 299))
    # Figure 3: 149x149x32, 147x147x32, 147x147x64, 73x73x160, 71x71x192, 35x35x384.
    assert [tuple(s[1:]) for s in shapes] == [(32, 149, 149), (32, 147, 147), (64, 147, 147),
                                              (160, 73, 73), (192, 71, 71), (384, 35, 35)]


def test_inception_resnet_v2_stages_match_the_release():
    shapes = stage_shapes(inception_resnet_v2.inception_resnet_v2())
    expected = ([(320, 35, 35)] * 11 + [(1088, 17, 17)] * 21 + [(2080, 8, 8)] * 11
                + [(1536, 8, 8), (1536, 1, 1), (1536,), (1536,)])
    assert shapes == expected


# Trainable parameters of the published implementations (TF-slim releases as ported to
# PyTorch by timm: inception_v4 42.68 M, inception_resnet_v2 55.84 M at 1000 classes).
@pytest.mark.parametrize(("name", "published"), [("inceptionv4", 42.68e6),
                                                  ("inceptionresnetv2", 55.84e6)])
def test_parameter_count_within_one_percent_of_published(name, published):
    spec = models.resolve(name)
    trainable, total = parameters.parameter_counts(models.build(spec), spec.input_specs)
    assert abs(trainable - published) / published < 0.01
    assert total > trainable  # BatchNorm running statistics are counted in the total only


def test_tiny_forward_gives_logits():
    # A forward at the smallest size the 'valid' reductions allow, to run the real operators.
    net = inception_v4.InceptionV4(classes=10)
    net.initialize(parameters.random_initializer())
    out = net(mx.nd.random.normal(shape=(1, 3, 75, 75)))
    assert out.shape == (1, 10)
    assert np.isfinite(out.asnumpy()).all()
