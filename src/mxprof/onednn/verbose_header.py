"""The header of a oneDNN / MKL-DNN verbose log: library, version, ISA, runtime, threads and
the format generation (docs/onednn-verbose-formats.md), from the info lines or, without a
version line, inferred from the layout of the timed lines."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

_VERSION = re.compile(r"(oneDNN|DNNL|Intel\(R\) MKL-DNN|Intel MKL-DNN|MKL-DNN)\s+v(\d+)\.(\d+)"
                      r"(?:\.(\d+))?")


def parse_header(info: tuple[str, ...], prims: pd.DataFrame | None = None,
                 layout: str = "") -> dict[str, Any]:
    """Library name/version, ISA, runtime, threads and the format generation from the info
    lines; without a version line the generation is inferred from the layout of the timed
    lines (`layout`: the scanner's prefix form of the first one) and `generation_inferred`
    is True."""
    header: dict[str, Any] = {"library": None, "version": None, "isa": None, "runtime": None,
                              "threads": None, "generation": None, "generation_inferred": False}
    for line in info:
        m = _VERSION.search(line)
        if m and header["version"] is None:
            header["library"] = m.group(1)
            header["version"] = ".".join(g for g in m.groups()[1:] if g is not None)
            rest = line[m.end():].split("),", 1)
            if len(rest) == 2 and rest[1].strip():  # v0.x prints the ISA after the version
                header["isa"] = rest[1].strip()
        if ",isa:" in line and header["isa"] is None:
            header["isa"] = line.split(",isa:", 1)[1].strip()
        if "Detected ISA is" in line and header["isa"] is None:
            header["isa"] = line.split("Detected ISA is", 1)[1].strip()
        if ",cpu,runtime:" in line and header["runtime"] is None:
            runtime, _, extra = line.split(",cpu,runtime:", 1)[1].strip().partition(",")
            header["runtime"] = runtime
            if extra.startswith("nthr:") and extra[5:].isdigit():  # v3.x: runtime:OpenMP,nthr:96
                header["threads"] = int(extra[5:])
    header["generation"] = _generation(header["version"])
    if header["generation"] is None:
        header["generation"] = _inferred_generation(info, prims, layout)
        header["generation_inferred"] = header["generation"] is not None
    return header


def _generation(version: str | None) -> str | None:
    if not version:
        return None
    major, minor = (int(x) for x in version.split(".")[:2])
    if major == 0:
        return "v0.x"
    if major == 1:
        return "v1.0" if minor == 0 else "v1.1-1.8"
    if major == 2:
        return "v2.0-2.4" if minor <= 4 else "v2.5-3.2"
    if major == 3:
        if minor <= 2:
            return "v2.5-3.2"
        return "v3.3-3.5" if minor <= 5 else "v3.6+"
    return f"v{major}.x"


# The scanner's prefix form of a timed line -> the generations that print it
# (docs/onednn-verbose-formats.md); mkldnn is split by the engine field below.
_LAYOUT_GENERATION = {"dnnl": "v1.1-2.4", "onednn": "v2.5-3.2", "onednn,component": "v3.3-3.5",
                      "onednn,v1": "v3.6+", "dnnl,component": "v3.3-3.5",
                      "graph": "v3.0-3.2 (graph API)"}


def _inferred_generation(info: tuple[str, ...], prims: pd.DataFrame | None,
                         layout: str) -> str | None:
    if layout.startswith("mkldnn"):
        if prims is not None and len(prims) and (prims["engine"] == "").all():
            return "v0.x"  # the only generation without an engine field
        return "v1.0"
    if layout in _LAYOUT_GENERATION:
        return _LAYOUT_GENERATION[layout]
    if any(line.startswith("onednn_verbose,v1,") for line in info):
        return "v3.6+"
    return None
