"""mxprof: where the time of MXNet inference on CPUs goes, and what MKL-DNN buys.

Public API for other benchmarks: `Timer`, `measure`, `bind`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from mxprof.fdcapture import capture_fd
from mxprof.layers import LAYER_ENV, LayerProfile, collect_layer_times

__all__ = [
    "LAYER_ENV",
    "LayerProfile",
    "__version__",
    "capture_fd",
    "collect_layer_times",
]
