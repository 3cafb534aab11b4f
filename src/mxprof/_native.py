"""Loads the native core, failing loudly when the package was not built."""

from __future__ import annotations

try:
    from mxprof import _core as core
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "mxprof._core is missing: was the package built? "
        "Install with `pip install .` (a C++ compiler is needed), or for development "
        "`cmake -S . -B build/dev && cmake --build build/dev` and PYTHONPATH=src."
    ) from exc

__all__ = ["core"]
