"""Building blocks shared by the Inception networks: conv + BatchNorm + ReLU, and branch concat.

BatchNorm uses epsilon 0.001 and momentum 0.9997 like the published TF-slim checkpoints of
Inception-v4 and Inception-ResNet-v2; convolutions carry no bias (BatchNorm's beta replaces it).
"""

from __future__ import annotations

from mxnet.gluon import nn


class ConvBN(nn.HybridSequential):
    """Conv2D (no bias) -> BatchNorm -> ReLU. `kernel`/`padding` are ints or (h, w) tuples."""

    def __init__(self, channels: int, kernel, strides=1, padding=0, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.add(nn.Conv2D(channels, kernel, strides=strides, padding=padding, use_bias=False))
            self.add(nn.BatchNorm(epsilon=0.001, momentum=0.9997))
            self.add(nn.Activation("relu"))


def seq(*layers) -> nn.HybridSequential:
    """A HybridSequential of `layers`, in order."""
    out = nn.HybridSequential(prefix="")
    for layer in layers:
        out.add(layer)
    return out


def max_pool() -> nn.MaxPool2D:
    """3x3 stride-2 'valid' max pooling, the reductions' parameter-free branch."""
    return nn.MaxPool2D(pool_size=3, strides=2)


def avg_pool_same() -> nn.AvgPool2D:
    """3x3 stride-1 average pooling that keeps the size; padding is not counted, as in TF's SAME."""
    return nn.AvgPool2D(pool_size=3, strides=1, padding=1, count_include_pad=False)


class Branches(nn.HybridBlock):
    """Runs each branch on the same input and concatenates the outputs along channels."""

    def __init__(self, *branches, **kwargs):
        super().__init__(**kwargs)
        self._names = []
        with self.name_scope():
            for i, branch in enumerate(branches):
                name = f"branch{i}"
                setattr(self, name, branch)
                self._names.append(name)

    def hybrid_forward(self, F, x):
        return F.concat(*[getattr(self, n)(x) for n in self._names], dim=1)
