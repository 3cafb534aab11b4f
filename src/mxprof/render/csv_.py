"""Compare reports as CSV: the reference layout, one line per model and column group, numbers
unformatted (ms, images/s, speedup factors), empty where a cell was not measured."""

from __future__ import annotations

import csv
import io
from typing import Any

from mxprof.render.base import Renderer
from mxprof.render.compare_table import csv_records, layout


class CompareCsvRenderer(Renderer):
    name = "compare-csv"
    extension = ".csv"

    def render(self, report: dict[str, Any]) -> str:
        records = csv_records(layout(report["rows"]))
        buf = io.StringIO()
        if not records:
            return ""
        writer = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow({k: "" if v is None else (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in rec.items()})
        return buf.getvalue()
