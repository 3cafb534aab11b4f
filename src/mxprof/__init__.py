"""mxprof: where the time of MXNet inference on CPUs goes, and what MKL-DNN buys.

Public API for other benchmarks: `Timer`, `measure`, `bind`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

from mxprof.binding import bind
from mxprof.fusion_run import FusionOptions, run_fusion

__all__ += ["bind"]
__all__ += ["FusionOptions", "run_fusion"]
