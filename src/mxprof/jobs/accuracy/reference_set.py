"""The reference's accuracy table: 34 Gluon model-zoo networks, top-1/top-5 with and without
MKL-DNN (identical for all 34, delta 0.00000000).

Source: the MXNet wiki page comparing `mxnet==1.3.0` with `mxnet-mkl==1.3.0` ("MXNet with
Intel MKL-DNN - Performance Benchmarking", its accuracy section: ImageNet-1k validation set,
Gluon model-zoo pretrained weights), as summarised in the project's reference document. It
lists the 34 networks and prints the figures of 10 of them; the other 24 have no figure here
(None), and none is made up.

`accuracy --reference-set` runs these names (pure data, no MXNet import).
"""

from __future__ import annotations

from typing import NamedTuple


class ReferenceAccuracy(NamedTuple):
    """One network of the reference's table; figures are fractions (0-1), None where the
    reference prints none."""

    name: str
    params: int | None = None
    top1: float | None = None
    top5: float | None = None


_FIGURES = {  # name: (parameters, top-1, top-5), as the reference prints them
    "alexnet": (61_100_840, 0.56312500, 0.78992188),
    "densenet121": (8_062_504, 0.74203125, 0.91929688),
    "inceptionv3": (23_869_000, 0.77609375, 0.93664063),
    "mobilenet1.0": (4_253_864, 0.70093750, 0.89109375),
    "mobilenetv2_1.0": (3_539_136, 0.69976563, 0.89281250),
    "resnet18_v1": (11_699_112, 0.70812500, 0.89453125),
    "resnet50_v1": (25_629_032, 0.76062500, 0.93046875),
    "resnet152_v2": (60_329_140, 0.78554688, 0.94140625),
    "squeezenet1.1": (1_235_496, 0.57023438, 0.79601563),
    "vgg16": (138_357_544, 0.72062500, 0.90585938),
}

# The full list, in the reference's order.
NAMES: tuple[str, ...] = (
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "inceptionv3",
    "mobilenet0.25", "mobilenet0.5", "mobilenet0.75", "mobilenet1.0",
    "mobilenetv2_1.0", "mobilenetv2_0.75", "mobilenetv2_0.5", "mobilenetv2_0.25",
    *(f"resnet{d}_v{v}" for v in (1, 2) for d in (18, 34, 50, 101, 152)),
    "squeezenet1.0", "squeezenet1.1",
    "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
)

REFERENCE_SET: tuple[ReferenceAccuracy, ...] = tuple(
    ReferenceAccuracy(n, *_FIGURES.get(n, (None, None, None))) for n in NAMES)
BY_NAME = {r.name: r for r in REFERENCE_SET}
