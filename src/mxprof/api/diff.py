"""`mxprof.diff(a, b)`: the notebook form of `mxprof diff A.json B.json` (same plan and run).

`a` and `b` are saved profile results (paths) or profile reports in memory (`mxprof.Report`
or their dicts). The `DiffReport` returned holds the `DiffResult` (`.result`), its layer table
as a DataFrame (`.layers`), the terminal text (`str(report)`), and shows its page in Jupyter.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from mxprof.jobs.diff import DiffResult, Options, plan, run


class DiffReport:
    def __init__(self, result: DiffResult):
        self.result = result

    @property
    def layers(self) -> pd.DataFrame:
        """One row per matched layer: name, ms_a, ms_b, diff_ms, interval, significant..."""
        return pd.DataFrame([d.to_dict() for d in self.result.layers])

    def __str__(self) -> str:
        from mxprof.render.diff import render_terminal
        return render_terminal(self.result)

    def __repr__(self) -> str:
        from mxprof.render.diff import header_lines
        return "<mxprof diff: " + "; ".join(header_lines(self.result)[2:]) + ">"

    def to_json(self, path: str) -> None:
        from mxprof.render.json_ import write_result
        write_result(self.result, path)

    def to_html(self, path: str) -> None:
        from mxprof.render.html.diff import write_page
        write_page(self.result, path)

    def _repr_html_(self) -> str:
        import html

        from mxprof.render.html.diff import render_page
        return (f"<iframe srcdoc=\"{html.escape(render_page(self.result))}\" "
                "style='width:100%;height:640px;border:0'></iframe>")


def _side(x: Any, label: str) -> tuple[str, Any]:
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x), None
    data = getattr(x, "data", x)  # an mxprof.Report, or its dict
    return label, data


def diff(a: Any, b: Any, *, match: str = "name", threshold: float | None = None,
         floor: float | None = None) -> DiffReport:
    """Diff two profiles (see the module docstring); raises mxprof.errors.UsageError for files
    of different kinds or different models without match="shape"."""
    (pa, da), (pb, db) = _side(a, "A (in memory)"), _side(b, "B (in memory)")
    defaults = Options(a=pa, b=pb)
    options = Options(a=pa, b=pb, match=match,
                      threshold=defaults.threshold if threshold is None else threshold,
                      floor=defaults.floor if floor is None else floor)
    loaded = None
    if da is not None or db is not None:
        from mxprof.jobs.diff.plan import _read
        loaded = (da if da is not None else _read(pa), db if db is not None else _read(pb))
    return DiffReport(run(plan(options, loaded=loaded)))
