"""The lazy exports of a job package (PEP 562): its contract names, imported on first use.

A worker process runs `python -m mxprof.jobs.<job>.worker`, which imports the package
`mxprof.jobs.<job>` first: the package must import nothing of the job for it. So each job
package lists its names and the module each lives in, and hands the list to `exports`:

    _EXPORTS = {"Options": "mxprof.jobs.fusion.job", "plan": "mxprof.jobs.fusion.job", ...}
    __all__ = sorted(_EXPORTS)
    __getattr__ = exports(__name__, _EXPORTS)

This module imports nothing at load time, for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: `names` maps each exported name to the module
    that defines it. An unknown name raises AttributeError, as a module's own would."""
    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib
        return getattr(importlib.import_module(module), name)
    return __getattr__
