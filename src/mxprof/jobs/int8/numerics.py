"""INT8-vs-FP32 error of one tensor, accumulated over batches (pure numpy, no MXNet).

Definitions (the same as ONNX Runtime's qdq_loss_debug and PyTorch's numeric suite), with r the
FP32 reference and o the INT8 value, summed over every element of every probe input:
- SQNR (dB) = 10 log10(sum r^2 / sum (r - o)^2); +inf when o == r everywhere.
- cosine = sum(r o) / sqrt(sum r^2 sum o^2); 1.0 when both are zero.
- normalised L2 = sqrt(sum (r - o)^2 / sum r^2); 0.0 when both are zero.
- max abs error = max |r - o|.
Each is a sum or a max, so batches add up exactly (`ErrorSums.add`), and the per-layer pass
never holds more than one batch of activations.
"""

from __future__ import annotations

import math

import numpy as np


class ErrorSums:
    """Running sums of one tensor's error over batches; `result()` gives the four metrics."""

    def __init__(self) -> None:
        self.ref2 = self.out2 = self.err2 = self.dot = 0.0
        self.max_abs = 0.0
        self.count = 0

    def add(self, ref, out) -> None:
        r = np.asarray(ref, dtype=np.float64).ravel()
        o = np.asarray(out, dtype=np.float64).ravel()
        if r.shape != o.shape:
            raise ValueError(f"shapes differ: INT8 {np.shape(out)} vs FP32 {np.shape(ref)}")
        e = r - o
        self.ref2 += float(r @ r)
        self.out2 += float(o @ o)
        self.err2 += float(e @ e)
        self.dot += float(r @ o)
        if e.size:
            self.max_abs = max(self.max_abs, float(np.max(np.abs(e))))
        self.count += r.size

    def result(self) -> dict[str, float]:
        return {"sqnr_db": sqnr_db(self.ref2, self.err2),
                "cosine": _cosine(self.dot, self.ref2, self.out2),
                "norm_l2": math.sqrt(self.err2 / self.ref2) if self.ref2 > 0 else
                (0.0 if self.err2 == 0 else math.inf),
                "max_abs": self.max_abs}


def sqnr_db(signal2: float, noise2: float) -> float:
    """10 log10(signal^2 / noise^2) from sums of squares; +inf without noise."""
    if noise2 <= 0:
        return math.inf
    if signal2 <= 0:
        return -math.inf
    return 10.0 * math.log10(signal2 / noise2)


def _cosine(dot: float, a2: float, b2: float) -> float:
    if a2 <= 0 and b2 <= 0:
        return 1.0
    if a2 <= 0 or b2 <= 0:
        return 0.0
    return dot / math.sqrt(a2 * b2)


def errors(ref, out) -> dict[str, float]:
    """The four metrics of one pair of arrays."""
    sums = ErrorSums()
    sums.add(ref, out)
    return sums.result()
