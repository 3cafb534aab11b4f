"""mxprof: where the time of MXNet inference on CPUs goes, and what MKL-DNN buys.

Public API for other benchmarks: `Timer`, `measure`, `bind`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from mxprof.environment import Environment, host_fingerprint
from mxprof.models import ModelSpec
from mxprof.models import resolve as resolve_model
from mxprof.runspec import RunResult, RunSpec

__all__ = [
    "Environment",
    "ModelSpec",
    "RunResult",
    "RunSpec",
    "__version__",
    "host_fingerprint",
    "resolve_model",
]

from mxprof.binding import bind

__all__ += ["bind"]
