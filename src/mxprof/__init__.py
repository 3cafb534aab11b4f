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
    "Timer": "mxprof.timing.timer",
    "measure": "mxprof.timing.timer",
    "bind": "mxprof.cpu.binding",
    "LAYER_ENV": "mxprof.mx.layers",
    "LayerProfile": "mxprof.mx.layers",
    "collect_layer_times": "mxprof.mx.layers",
    "capture_fd": "mxprof.mx.fdcapture",
    "Tolerance": "mxprof.jobs.accuracy.metrics",
    "compare_outputs": "mxprof.jobs.accuracy.metrics",
    "topk_accuracy": "mxprof.jobs.accuracy.metrics",
    "topk_agreement": "mxprof.jobs.accuracy.metrics",
    "FusionOptions": "mxprof.jobs.fusion.assemble",
    "run_fusion": "mxprof.jobs.fusion.job",
    "profile": "mxprof.api",
    "fusion": "mxprof.api",
    "accuracy": "mxprof.api",
    "load": "mxprof.api",
    "Report": "mxprof.api",
}

__all__ = [
    "LAYER_ENV",
    "FusionOptions",
    "LayerProfile",
    "Report",
    "Timer",
    "Tolerance",
    "__version__",
    "accuracy",
    "bind",
    "capture_fd",
    "collect_layer_times",
    "compare_outputs",
    "fusion",
    "load",
    "measure",
    "profile",
    "run_fusion",
    "topk_accuracy",
    "topk_agreement",
]

if TYPE_CHECKING:
    from mxprof.api import Report, accuracy, fusion, load, profile
    from mxprof.cpu.binding import bind
    from mxprof.jobs.accuracy.metrics import (
        Tolerance,
        compare_outputs,
        topk_accuracy,
        topk_agreement,
    )
    from mxprof.jobs.fusion.assemble import FusionOptions
    from mxprof.jobs.fusion.job import run_fusion
    from mxprof.mx.fdcapture import capture_fd
    from mxprof.mx.layers import LAYER_ENV, LayerProfile, collect_layer_times
    from mxprof.timing.timer import Timer, measure


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mxprof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
