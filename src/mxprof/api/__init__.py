"""The notebook API: run a job on a model you hold, get tables and a page back.

    import mxprof
    report = mxprof.profile(net, inputs=x)     # a zoo name or a HybridBlock
    report.layers.nlargest(10, "ms")             # pandas; report alone shows the page in Jupyter

`profile`, `fusion`, `accuracy` run the same worker processes as the commands; `load` reads any
saved `--json` result into the same `Report`; `diff(a, b)` compares two profiles
(`mxprof diff`).
"""

from __future__ import annotations

from mxprof.api.diff import DiffReport, diff
from mxprof.api.int8 import int8
from mxprof.api.jobs import accuracy, fusion, profile
from mxprof.api.report import Report, load

__all__ = ["DiffReport", "Report", "accuracy", "diff", "fusion", "int8", "load", "profile"]
