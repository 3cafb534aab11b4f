"""mxprof: where the time of MXNet inference on CPUs goes, and what MKL-DNN buys.

Public API for other benchmarks: `Timer`, `measure`, `bind`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it. Loaded on first use, so that `python -m mxprof --help`
# and worker start-up do not pay for numpy and the clock calibration before they need them.
_EXPORTS = {
    "Timer": "mxprof.timer",
    "measure": "mxprof.timer",
    "bind": "mxprof.binding",
    "LAYER_ENV": "mxprof.layers",
    "LayerProfile": "mxprof.layers",
    "collect_layer_times": "mxprof.layers",
    "capture_fd": "mxprof.fdcapture",
    "Tolerance": "mxprof.accuracy",
    "compare_outputs": "mxprof.accuracy",
    "topk_accuracy": "mxprof.accuracy",
    "topk_agreement": "mxprof.accuracy",
    "FusionOptions": "mxprof.fusion_run",
    "run_fusion": "mxprof.fusion_run",
}

__all__ = [
    "LAYER_ENV",
    "FusionOptions",
    "LayerProfile",
    "Timer",
    "Tolerance",
    "__version__",
    "bind",
    "capture_fd",
    "collect_layer_times",
    "compare_outputs",
    "measure",
    "run_fusion",
    "topk_accuracy",
    "topk_agreement",
]

if TYPE_CHECKING:
    from mxprof.accuracy import Tolerance, compare_outputs, topk_accuracy, topk_agreement
    from mxprof.binding import bind
    from mxprof.fdcapture import capture_fd
    from mxprof.fusion_run import FusionOptions, run_fusion
    from mxprof.layers import LAYER_ENV, LayerProfile, collect_layer_times
    from mxprof.timer import Timer, measure


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mxprof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
