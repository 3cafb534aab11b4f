"""A saved or fresh result as a notebook object: pandas tables, the page, the JSON file.

`Report` wraps the JSON-ready dict of any job (profile, fusion, accuracy, compare): `.data` is
that dict, `.kind` which job made it, `.layers`, `.operators`, `.primitives`, `.timings` and
`.findings` are DataFrames (empty, with no columns, where the job has no such table),
`.to_json(path)` writes what `mxprof ... --load` reads, `.to_html(path)` the page of
`--html`, and `_repr_html_` shows that page inline in Jupyter (the page's body in an iframe's
`srcdoc`, so its style and script stay inside it). `load(path)` reads any saved result.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pandas as pd

from mxprof.render.html import render_page


class Report:
    """One job's result; see the module docstring. Times are in milliseconds (`ms` columns)."""

    def __init__(self, data: dict[str, Any], kind: str | None = None):
        from mxprof.jobs.results import kind_of_file
        self.data = data
        self.kind = kind or kind_of_file(data)

    def __repr__(self) -> str:
        return f"<mxprof {self.kind} report: {self.summary}>"

    @property
    def summary(self) -> str:
        d = self.data
        if self.kind == "profile":
            from mxprof.jobs.profile.report import summary_line
            return summary_line(d)
        if self.kind == "fusion":
            return str(d.get("summary"))
        if self.kind == "accuracy":
            bad = [c["name"] for c in d["configs"] if not c["ok"]]
            return (f"{d['model'].get('name')}: {len(d['configs'])} configurations"
                    + (f", failed: {', '.join(bad)}" if bad else ""))
        return f"{len(d.get('rows') or ())} compare rows"

    # --- tables ------------------------------------------------------------------------
    def _configs(self) -> list[tuple[str, dict[str, Any]]]:
        out = [("mkldnn", self.data)]
        if self.data.get("reference"):
            out.append(("reference", self.data["reference"]))
        return out

    def _per_config(self, key: str) -> pd.DataFrame:
        frames = [pd.DataFrame(sec[key]).assign(config=name) for name, sec in self._configs()
                  if sec.get(key)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @property
    def layers(self) -> pd.DataFrame:
        """profile: name, op, ms, output_shape, config (graph order); fusion: one row per
        absorbed layer with its fused node and pattern."""
        if self.kind == "fusion":
            rows = [{"layer": m, "op": op, "fused_node": g["fused_node"],
                     "pattern": g.get("pattern")}
                    for g in self.data.get("groups") or ()
                    for m, op in zip(g.get("members") or (), g.get("member_ops") or ())]
            return pd.DataFrame(rows)
        return self._per_config("layers") if self.kind == "profile" else pd.DataFrame()

    @property
    def operators(self) -> pd.DataFrame:
        """profile: op, count, ms, percent... per configuration (MXNet profiler)."""
        return self._per_config("operators") if self.kind == "profile" else pd.DataFrame()

    @property
    def primitives(self) -> pd.DataFrame:
        """profile: oneDNN time per primitive kind (MKL-DNN on); fusion: per fused group."""
        if self.kind == "profile":
            return pd.DataFrame((self.data.get("primitives") or {}).get("by_kind") or [])
        if self.kind == "fusion":
            return pd.DataFrame([{k: v for k, v in g.items() if not isinstance(v, (dict, list))}
                                 for g in self.data.get("groups") or ()])
        return pd.DataFrame()

    @property
    def timings(self) -> pd.DataFrame:
        """One row per configuration: latency statistics in ms (and images/s where measured)."""
        d = self.data
        if self.kind == "profile":
            rows = []
            for name, sec in self._configs():
                lat = {k: v for k, v in (sec.get("latency_ms") or {}).items()
                       if not isinstance(v, (dict, list))}
                tp = sec.get("throughput") or {}
                rows.append({"config": name, **lat, "images_per_s": tp.get("images_per_s"),
                             "batch_size": tp.get("batch_size")})
            return pd.DataFrame(rows).set_index("config")
        if self.kind == "fusion":
            from mxprof.jobs.fusion.report import upgrade
            d = upgrade(d)
            return pd.DataFrame([{"config": k, **_flat(d.get(f"{k}_latency"))}
                                 for k in ("unfused", "fused")]).set_index("config")
        if self.kind == "accuracy":
            from mxprof.jobs.accuracy.records import AccuracyReport
            configs = AccuracyReport.from_dict(d).to_dict()["configs"]  # old files converted
            return pd.DataFrame([{"config": c["name"], **_flat(c.get("latency"))}
                                 for c in configs]).set_index("config")
        return pd.DataFrame(d.get("rows") or [])

    @property
    def findings(self) -> pd.DataFrame:
        """The diagnosis (title, severity, evidence, fix...), where the job makes one."""
        found = self.data.get("findings") or []
        return pd.DataFrame([f if isinstance(f, dict) else {"title": str(f)} for f in found])

    @property
    def configs(self) -> pd.DataFrame:
        """accuracy: one row per configuration (differences, agreement, top-1/top-5)."""
        if self.kind != "accuracy":
            return pd.DataFrame()
        return pd.DataFrame([{k: v for k, v in c.items() if k not in ("latency", "samples_ms")}
                             for c in self.data["configs"]]).set_index("name")

    # --- files and display -------------------------------------------------------------
    def to_json(self, path: str | Path) -> Path:
        Path(path).write_text(json.dumps(self.data, indent=1))
        return Path(path)

    def to_html(self, path: str | Path | None = None) -> str:
        """The page as text; written to `path` too when given."""
        text = render_page(self.data, self.kind)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _repr_html_(self) -> str:
        page = render_page(self.data, self.kind)
        return (f"<div class='mxprof-report'><p><b>mxprof {html.escape(self.kind)}</b>: "
                f"{html.escape(self.summary)}</p><iframe srcdoc=\"{html.escape(page)}\" "
                "style='width:100%;height:720px;border:1px solid #ccc'></iframe></div>")


def load(path: str | Path) -> Report:
    """Any saved `--json` result (profile, fusion, accuracy, compare). ValueError when the file
    is not one (naming the wrong field: mxprof.jobs.results); OSError when it cannot be read."""
    from mxprof.jobs.results import kind_of_file, validate
    with open(path) as f:
        data = json.load(f)
    kind = kind_of_file(data, source=str(path))
    validate(kind, data, source=str(path))
    return Report(data, kind)


def _flat(stats: dict | None) -> dict:
    """The figures of a `Stats.to_dict` dict, without its lists (warnings, notes...)."""
    return {k: v for k, v in (stats or {}).items() if not isinstance(v, (dict, list))}
