"""The fusion report dict after the run: its one-line summary, and older files brought up to date.

`summary_line(report)` is the line `mxprof profile` shows. `upgrade(report)` converts a schema-1
file written before the one statistics record (latencies as `{median, q1, q3, n}` with the CI
bounds kept apart in `latency_stats`, `gain_percent_range`/`gain_clear`/`worker_noise_ms`
verdicts) into today's layout, in which every latency is a `Stats.to_dict("ms")` dict
(`mxprof.timing.stats`) and every verdict is a `Ratio` (`mxprof.jobs.fusion.ratios`). What an
old file did not record stays null: its renderers show a dash, never an invented interval.
"""

from __future__ import annotations

from typing import Any

from mxprof.onednn.findings import Finding
from mxprof.timing.stats import Stats, ratio_text

_STATS_KEYS = Stats.__struct_fields__
_OLD_VERDICTS = ("gain_percent_range", "gain_clear", "worker_noise_ms", "latency_stats")
OLD_NOTE = "saved before mxprof recorded the 95% interval of the median"


def _n(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def summary_line(report: dict) -> str:
    """One line for `mxprof profile`: total gain, best pattern, and the worst finding."""
    line = (f"fusion: {_n(report['unfused_ms'], '.2f')} -> {_n(report['fused_ms'], '.2f')} ms "
            f"({_n(report['gain_percent'], '+.1f')}%), {len(report['groups'])} fused nodes")
    if report.get("gain_ratio"):
        line += f", fused vs unfused speed {ratio_text(report['gain_ratio'])}"
    if report["patterns"]:
        best = max(report["patterns"], key=lambda p: p["cost_ms"])
        ratio = (report.get("pattern_ratios") or {}).get(best["switch"])
        if ratio and not ratio["significant"]:  # inside the noise: no cost to print
            line += f"; {best['pattern']} switch off: {ratio_text(ratio)}"
        else:
            line += f"; {best['pattern']} worth {_n(best['cost_ms'], '.2f')} ms"
    high = [f for f in report["findings"] if f["severity"] == "high"]
    if high:
        line += f"; WARNING {high[0]['title']} ({high[0]['graph']})"
    return line


def stats_dict(old: dict[str, Any] | None) -> dict[str, Any] | None:
    """A `Stats.to_dict("ms")`-shaped dict from an old `{median, q1, q3, n}` one (in ms);
    a dict that already is one (it has a "unit") is returned as it is."""
    if not old or "unit" in old:
        return old
    out: dict[str, Any] = dict.fromkeys(_STATS_KEYS)
    out.update({k: old.get(k) for k in ("median", "q1", "q3", "n")})
    out.update(warnings=[], notes=[OLD_NOTE], n_per_process=[], processes=1, ci_method="",
               unit="ms")
    return out


def _old_findings(report: dict[str, Any]) -> dict[str, Any]:
    """Findings written before fusion used the one findings record ({nodes,
    ms_per_iteration}) in its layout ({layers, effect: {ms_per_iter}})."""
    findings = report.get("findings") or ()
    if all(not isinstance(f, dict) or "layers" in f for f in findings):
        return report
    return {**report, "findings": [Finding.from_dict(f).to_dict()
                                   if isinstance(f, dict) and "layers" not in f else f
                                   for f in findings]}


def upgrade(report: dict[str, Any]) -> dict[str, Any]:
    """`report` (any schema-1 fusion dict) in today's layout; a new report comes back equal."""
    report = _old_findings(report)
    if not any(report.get(k) is not None for k in _OLD_VERDICTS):
        return report
    out = {k: v for k, v in report.items() if k not in _OLD_VERDICTS}
    full = report.get("latency_stats") or {}  # the old full statistics, CI included
    for side in ("unfused", "fused"):
        out[f"{side}_latency"] = full.get(side) or stats_dict(report.get(f"{side}_latency"))
    out["groups"] = [{**g, "unfused_spread": stats_dict(g.get("unfused_spread")),
                      "fused_spread": stats_dict(g.get("fused_spread")),
                      "gain_ratio": g.get("gain_ratio")} for g in report.get("groups", ())]
    out["patterns"] = [{**p, "latency": stats_dict(p.get("latency"))}
                       for p in report.get("patterns", ())]
    out.setdefault("gain_ratio", None)
    out.setdefault("pattern_ratios", {})
    return out
