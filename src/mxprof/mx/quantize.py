"""INT8 quantization of a Gluon network with mxnet.contrib.quantization (MKL-DNN backend).

`quantize_net_v2` is the call behind 1.9.1's `quantize_net` (which only warns and forwards);
calling it directly lets calib_mode='none' pass `data_shapes` instead of calibration data.
Calibration modes:
- none:    no calibration; requantize ranges are computed at run time (min/max per call),
           usually 10-20% slower than calibrated INT8.
- naive:   thresholds are the min/max of each layer's FP32 output over the calibration set.
- entropy: thresholds minimise the KL divergence between FP32 and INT8 output histograms.
Quantization fuses the graph for MKL-DNN itself (MKLDNN_QUANTIZE backend), so the FP32 baseline
for an INT8 comparison is the fused FP32 configuration.
"""

from __future__ import annotations

import logging

import numpy as np

CALIB_MODES = ("none", "naive", "entropy")


class QuantizationError(RuntimeError):
    """MXNet refused to quantize the network (unsupported operator, bad calibration data...)."""


def quantize(net, input_shape: tuple[int, ...], calib_mode: str = "naive",
             calib_data: np.ndarray | None = None, batch_size: int = 32,
             quantized_dtype: str = "auto", exclude_layers: list[str] | None = None):
    """Return an INT8 SymbolBlock built from the FP32 HybridBlock `net`.

    `input_shape` is one input's (C, H, W); `calib_data` is an (N, C, H, W) float32 array of
    preprocessed calibration inputs, required unless calib_mode is 'none'. They are batched by
    min(batch_size, N) and a last partial batch is dropped (padding would repeat examples in the
    thresholds): (N // batch) * batch examples are used.
    """
    import mxnet as mx
    from mxnet.contrib.quantization import quantize_net_v2

    if calib_mode not in CALIB_MODES:
        raise ValueError(f"calibration mode {calib_mode!r}: choose one of {', '.join(CALIB_MODES)}")
    calib_iter = None
    num_examples = None
    if calib_mode != "none":
        if calib_data is None or len(calib_data) == 0:
            raise ValueError(f"calibration mode {calib_mode!r} needs calibration data")
        batch = min(batch_size, len(calib_data))
        # NDArrayIter pads the last batch by default; 'discard' keeps the statistics honest.
        calib_iter = mx.io.NDArrayIter(np.asarray(calib_data, np.float32), batch_size=batch,
                                       last_batch_handle="discard")
        num_examples = (len(calib_data) // batch) * batch
    shapes = [mx.io.DataDesc("data", (batch_size, *input_shape))]
    logger = logging.getLogger("mxprof.mx.quantize")
    try:
        qnet = quantize_net_v2(net, quantized_dtype=quantized_dtype, quantize_mode="full",
                               exclude_layers=exclude_layers, calib_data=calib_iter,
                               data_shapes=None if calib_iter is not None else shapes,
                               calib_mode=calib_mode, num_calib_examples=num_examples,
                               ctx=mx.cpu(), logger=logger)
    except mx.base.MXNetError as exc:
        raise QuantizationError(f"MXNet could not quantize the network: {exc}") from exc
    qnet.hybridize(static_alloc=True, static_shape=True)
    return qnet
