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
    "Environment": "mxprof.environment",
    "host_fingerprint": "mxprof.environment",
    "ModelSpec": "mxprof.models",
    "RunResult": "mxprof.runspec",
    "RunSpec": "mxprof.runspec",
}

__all__ = ["Timer", "__version__", "bind", "measure"]
__all__ += ["Environment", "ModelSpec", "RunResult", "RunSpec", "host_fingerprint"]

if TYPE_CHECKING:
    from mxprof.binding import bind
    from mxprof.environment import Environment, host_fingerprint
    from mxprof.models import ModelSpec
    from mxprof.runspec import RunResult, RunSpec
    from mxprof.timer import Timer, measure


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mxprof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
