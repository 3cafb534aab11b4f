"""Inception-v4 (Szegedy, Ioffe, Vanhoucke, Alemi 2016, "Inception-v4, Inception-ResNet and the
Impact of Residual Connections", arXiv:1602.07261), as a Gluon HybridBlock.

Filter counts from the paper's figures 3-8 (stem, Inception-A/B/C, Reduction-A with k=192,
l=224, m=256, n=384, Reduction-B); input 3x299x299. Stage outputs (C x H x W):
stem 384x35x35, 4x Inception-A 384x35x35, Reduction-A 1024x17x17, 7x Inception-B 1024x17x17,
Reduction-B 1536x8x8, 3x Inception-C 1536x8x8, then average pooling, dropout (keep 0.8) and a
1000-way classifier: 42,679,816 trainable values (the TF-slim release and its ports have the
same layers; with 1001 classes they count 42.68 M).
No weights are published for MXNet: the network is initialised at random.
"""

from __future__ import annotations

from mxnet.gluon import nn

from mxprof.mx.zoo._layers import Branches, ConvBN, avg_pool_same, max_pool, seq

INPUT_SIZE = 299


def stem() -> nn.HybridSequential:
    """Figure 3: 3x299x299 -> 384x35x35 ('V' in the figure = no padding)."""
    return seq(
        ConvBN(32, 3, strides=2), ConvBN(32, 3), ConvBN(64, 3, padding=1),          # 64x147x147
        Branches(max_pool(), ConvBN(96, 3, strides=2)),                             # 160x73x73
        Branches(seq(ConvBN(64, 1), ConvBN(96, 3)),
                 seq(ConvBN(64, 1), ConvBN(64, (7, 1), padding=(3, 0)),
                     ConvBN(64, (1, 7), padding=(0, 3)), ConvBN(96, 3))),            # 192x71x71
        Branches(ConvBN(192, 3, strides=2), max_pool()),                            # 384x35x35
    )


def inception_a() -> Branches:
    """Figure 4: 384x35x35 -> 384x35x35."""
    return Branches(
        ConvBN(96, 1),
        seq(ConvBN(64, 1), ConvBN(96, 3, padding=1)),
        seq(ConvBN(64, 1), ConvBN(96, 3, padding=1), ConvBN(96, 3, padding=1)),
        seq(avg_pool_same(), ConvBN(96, 1)),
    )


def reduction_a(k: int = 192, l: int = 224, m: int = 256, n: int = 384) -> Branches:  # noqa: E741 (the paper names them k, l, m, n)
    """Figure 7 with Table 1's Inception-v4 filter counts: 384x35x35 -> 1024x17x17."""
    return Branches(
        ConvBN(n, 3, strides=2),
        seq(ConvBN(k, 1), ConvBN(l, 3, padding=1), ConvBN(m, 3, strides=2)),
        max_pool(),
    )


def inception_b() -> Branches:
    """Figure 5: 1024x17x17 -> 1024x17x17."""
    return Branches(
        ConvBN(384, 1),
        seq(ConvBN(192, 1), ConvBN(224, (1, 7), padding=(0, 3)), ConvBN(256, (7, 1), padding=(3, 0))),
        seq(ConvBN(192, 1), ConvBN(192, (7, 1), padding=(3, 0)), ConvBN(224, (1, 7), padding=(0, 3)),
            ConvBN(224, (7, 1), padding=(3, 0)), ConvBN(256, (1, 7), padding=(0, 3))),
        seq(avg_pool_same(), ConvBN(128, 1)),
    )


def reduction_b() -> Branches:
    """Figure 8: 1024x17x17 -> 1536x8x8."""
    return Branches(
        seq(ConvBN(192, 1), ConvBN(192, 3, strides=2)),
        seq(ConvBN(256, 1), ConvBN(256, (1, 7), padding=(0, 3)), ConvBN(320, (7, 1), padding=(3, 0)),
            ConvBN(320, 3, strides=2)),
        max_pool(),
    )


class InceptionC(nn.HybridBlock):
    """Figure 6: 1536x8x8 -> 1536x8x8; two branches fork into 1x3 and 3x1 convolutions."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.b0 = ConvBN(256, 1)
            self.b1 = ConvBN(384, 1)
            self.b1_1x3 = ConvBN(256, (1, 3), padding=(0, 1))
            self.b1_3x1 = ConvBN(256, (3, 1), padding=(1, 0))
            self.b2 = seq(ConvBN(384, 1), ConvBN(448, (3, 1), padding=(1, 0)),
                          ConvBN(512, (1, 3), padding=(0, 1)))
            self.b2_1x3 = ConvBN(256, (1, 3), padding=(0, 1))
            self.b2_3x1 = ConvBN(256, (3, 1), padding=(1, 0))
            self.b3 = seq(avg_pool_same(), ConvBN(256, 1))

    def hybrid_forward(self, F, x):
        b1 = self.b1(x)
        b2 = self.b2(x)
        return F.concat(self.b0(x), self.b1_1x3(b1), self.b1_3x1(b1),
                        self.b2_1x3(b2), self.b2_3x1(b2), self.b3(x), dim=1)


class InceptionV4(nn.HybridBlock):
    """Figure 9. Input (N, 3, 299, 299) float32, output (N, classes) logits.

    `features` holds the stages in order (stem, 4 A, Reduction-A, 7 B, Reduction-B, 3 C) so
    tests and per-layer tools can look at each stage's output.
    """

    def __init__(self, classes: int = 1000, dropout: float = 0.2, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            self.features.add(stem())
            for _ in range(4):
                self.features.add(inception_a())
            self.features.add(reduction_a())
            for _ in range(7):
                self.features.add(inception_b())
            self.features.add(reduction_b())
            for _ in range(3):
                self.features.add(InceptionC())
            self.features.add(nn.GlobalAvgPool2D(), nn.Flatten(), nn.Dropout(dropout))
            self.output = nn.Dense(classes)

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


def inception_v4(**kwargs) -> InceptionV4:
    """Inception-v4, random weights; kwargs go to `InceptionV4` (classes, dropout)."""
    return InceptionV4(**kwargs)
