"""The DCGAN generator (Radford, Metz, Chintala 2016, "Unsupervised Representation Learning with
Deep Convolutional Generative Adversarial Networks", arXiv:1511.06434), as a Gluon HybridBlock.

Figure 1 of the paper at 64x64 with the widths of the reference implementations (`ngf`=64, the
PyTorch/MXNet DCGAN examples): noise (N, nz, 1, 1) -> 4x4x8ngf -> 8x8x4ngf -> 16x16x2ngf ->
32x32xngf -> (N, nc, 64, 64), each step a 4x4 transposed convolution without bias followed by
BatchNorm and ReLU, Tanh at the end. With nz=100, ngf=64, nc=3: 3,576,704 trainable values.
The input is N(0,1) noise, not an image. Initialised at random (no weights are downloaded).
"""

from __future__ import annotations

from mxnet.gluon import nn

NOISE_DIM = 100


class DCGANGenerator(nn.HybridBlock):
    """Input (N, nz, 1, 1) float32 noise, output (N, nc, 64, 64) in [-1, 1]."""

    def __init__(self, nz: int = NOISE_DIM, ngf: int = 64, nc: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.nz = nz
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            # (kernel 4, stride 1, pad 0) turns 1x1 into 4x4; (4, 2, 1) doubles the size after.
            widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
            for i, width in enumerate(widths):
                strides, padding = (1, 0) if i == 0 else (2, 1)
                self.features.add(nn.Conv2DTranspose(width, 4, strides=strides, padding=padding,
                                                     use_bias=False))
                self.features.add(nn.BatchNorm())
                self.features.add(nn.Activation("relu"))
            self.features.add(nn.Conv2DTranspose(nc, 4, strides=2, padding=1, use_bias=False))
            self.features.add(nn.Activation("tanh"))

    def hybrid_forward(self, F, x):
        return self.features(x)


def dcgan(**kwargs) -> DCGANGenerator:
    """The DCGAN generator, random weights; kwargs go to `DCGANGenerator` (nz, ngf, nc)."""
    return DCGANGenerator(**kwargs)
