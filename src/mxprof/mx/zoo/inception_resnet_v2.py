"""Inception-ResNet-v2 (Szegedy et al. 2016, arXiv:1602.07261), as a Gluon HybridBlock.

The layers of the published release (the TF-slim `inception_resnet_v2` whose checkpoint the
paper's results came from, and its PyTorch/Keras ports), which differs from the paper's
figure 15 in channel counts: the paper draws the Inception-v4 stem (384x35x35) and 1152/2144
channels after the reductions, the release has a 320-channel stem ("Mixed_5b"), 1088 and 2080
channels, and a final 1x1 convolution to 1536. The release is what "55.8 M parameters" means.

Stage outputs (C x H x W) from a 3x299x299 input: stem 320x35x35, 10x block35 (Inception-ResNet-A,
residual scale 0.17) 320x35x35, Reduction-A 1088x17x17, 20x block17 (Inception-ResNet-B, scale
0.10) 1088x17x17, Reduction-B 2080x8x8, 10x block8 (Inception-ResNet-C, scale 0.20, the last
without ReLU and scale 1), 1x1 conv 1536x8x8, average pooling, dropout (keep 0.8), classifier.
No weights are published for MXNet: the network is initialised at random.
"""

from __future__ import annotations

from mxnet.gluon import nn

from mxprof.mx.zoo._layers import Branches, ConvBN, avg_pool_same, max_pool, seq

INPUT_SIZE = 299


def stem() -> nn.HybridSequential:
    """3x299x299 -> 320x35x35 (TF-slim Conv2d_1a .. Mixed_5b)."""
    return seq(
        ConvBN(32, 3, strides=2), ConvBN(32, 3), ConvBN(64, 3, padding=1),          # 64x147x147
        max_pool(), ConvBN(80, 1), ConvBN(192, 3), max_pool(),                      # 192x35x35
        Branches(ConvBN(96, 1),
                 seq(ConvBN(48, 1), ConvBN(64, 5, padding=2)),
                 seq(ConvBN(64, 1), ConvBN(96, 3, padding=1), ConvBN(96, 3, padding=1)),
                 seq(avg_pool_same(), ConvBN(64, 1))),                              # 320x35x35
    )


class Residual(nn.HybridBlock):
    """x + scale * up(concat(branches(x))), then ReLU unless `relu` is False (figures 16-19).

    `up` is a 1x1 convolution with bias and no BatchNorm, back to the input's channels.
    """

    def __init__(self, branches: Branches, channels: int, scale: float, relu: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.relu = relu
        with self.name_scope():
            self.branches = branches
            self.up = nn.Conv2D(channels, 1, use_bias=True)

    def hybrid_forward(self, F, x):
        out = x + self.scale * self.up(self.branches(x))
        return F.relu(out) if self.relu else out


def block35() -> Residual:
    """Inception-ResNet-A (figure 16, release widths): 320x35x35 -> 320x35x35."""
    return Residual(Branches(ConvBN(32, 1),
                             seq(ConvBN(32, 1), ConvBN(32, 3, padding=1)),
                             seq(ConvBN(32, 1), ConvBN(48, 3, padding=1), ConvBN(64, 3, padding=1))),
                    320, scale=0.17)


def reduction_a() -> Branches:
    """Figure 7 with k=256, l=256, m=384, n=384: 320x35x35 -> 1088x17x17."""
    return Branches(ConvBN(384, 3, strides=2),
                    seq(ConvBN(256, 1), ConvBN(256, 3, padding=1), ConvBN(384, 3, strides=2)),
                    max_pool())


def block17() -> Residual:
    """Inception-ResNet-B (figure 17, release widths): 1088x17x17 -> 1088x17x17."""
    return Residual(Branches(ConvBN(192, 1),
                             seq(ConvBN(128, 1), ConvBN(160, (1, 7), padding=(0, 3)),
                                 ConvBN(192, (7, 1), padding=(3, 0)))),
                    1088, scale=0.10)


def reduction_b() -> Branches:
    """Figure 18 (release widths): 1088x17x17 -> 2080x8x8."""
    return Branches(seq(ConvBN(256, 1), ConvBN(384, 3, strides=2)),
                    seq(ConvBN(256, 1), ConvBN(288, 3, strides=2)),
                    seq(ConvBN(256, 1), ConvBN(288, 3, padding=1), ConvBN(320, 3, strides=2)),
                    max_pool())


def block8(scale: float = 0.20, relu: bool = True) -> Residual:
    """Inception-ResNet-C (figure 19, release widths): 2080x8x8 -> 2080x8x8."""
    return Residual(Branches(ConvBN(192, 1),
                             seq(ConvBN(192, 1), ConvBN(224, (1, 3), padding=(0, 1)),
                                 ConvBN(256, (3, 1), padding=(1, 0)))),
                    2080, scale=scale, relu=relu)


class InceptionResNetV2(nn.HybridBlock):
    """Input (N, 3, 299, 299) float32, output (N, classes) logits; `features` holds the stages."""

    def __init__(self, classes: int = 1000, dropout: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(stem())
            for _ in range(10):
                self.features.add(block35())
            self.features.add(reduction_a())
            for _ in range(20):
                self.features.add(block17())
            self.features.add(reduction_b())
            for _ in range(9):
                self.features.add(block8())
            self.features.add(block8(scale=1.0, relu=False))
            self.features.add(ConvBN(1536, 1))
            self.features.add(nn.GlobalAvgPool2D(), nn.Flatten(), nn.Dropout(dropout))
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


def inception_resnet_v2(**kwargs) -> InceptionResNetV2:
    """Inception-ResNet-v2, random weights; kwargs go to `InceptionResNetV2`."""
    return InceptionResNetV2(**kwargs)
