"""An accuracy sweep's rows and notes from its results-file lines (pure, no MXNet).

`build_sweep(records, notes)`: one SweepRun per line, one SweepRow per configuration of each
run (a failed run is one failed row), the machine named by class on a cluster
(mxprof.jobs.sweeps.class_label: one column group per class) or by host otherwise; rows of the
reference's networks carry its figures (mxprof.jobs.accuracy.reference_set) and whether the
measured top-1 can be set beside them, and the notes say plainly why not.
"""

from __future__ import annotations

from typing import Any

from mxprof.jobs import sweeps
from mxprof.jobs.accuracy.records import AccuracyReport
from mxprof.jobs.accuracy.reference_set import BY_NAME
from mxprof.jobs.accuracy.sweep_records import AccuracySweep, SweepRow, SweepRun


def _machine(record: dict[str, Any]) -> str:
    cls, machine = record.get("machine_class"), record.get("machine") or {}
    return sweeps.class_label(cls, machine) if cls else sweeps.machine_label(machine)


def _interval_ms(latency) -> tuple[float, float] | None:
    if latency is None or latency.ci95_low is None or latency.ci95_high is None:
        return None
    return latency.ci95_low / 1e6, latency.ci95_high / 1e6


def rows_of(model: str, machine: str, machine_class: str | None,
            report: AccuracyReport) -> list[SweepRow]:
    """One row per configuration of one model's report."""
    ref = BY_NAME.get(model)
    rows = []
    for c in report.configs:
        comparable = None
        if ref is not None and ref.top1 is not None and c.top1 is not None:
            comparable = report.weights != "random"
        rows.append(SweepRow(
            model=model, machine=machine, machine_class=machine_class, config=c.name, ok=c.ok,
            error=c.error, weights=report.weights, top1=c.top1, top5=c.top5,
            reference_top1=ref.top1 if ref else None, reference_top5=ref.top5 if ref else None,
            comparable=comparable, top1_agreement=c.top1_agreement,
            max_abs_diff=c.max_abs_diff, within_tolerance=c.within_tolerance,
            latency_ms=c.latency.median / 1e6 if c.latency else None,
            latency_ci95_ms=_interval_ms(c.latency)))
    return rows


def build_sweep(records: list[dict[str, Any]], notes: list[str]) -> AccuracySweep:
    """The AccuracySweep of these results-file lines (RunLine dicts), in their order."""
    runs, rows = [], []
    reports: list[AccuracyReport] = []
    for rec in records:
        machine = _machine(rec)
        runs.append(SweepRun(model=rec["model"], machine=machine,
                             machine_class=rec.get("machine_class"), status=rec["status"],
                             error=rec.get("error"), report=rec.get("report")))
        if rec.get("report") is None:
            rows.append(SweepRow(model=rec["model"], machine=machine,
                                 machine_class=rec.get("machine_class"), config="-", ok=False,
                                 error=rec.get("error") or "no report"))
            continue
        report = AccuracyReport.from_dict(rec["report"])
        reports.append(report)
        rows += rows_of(rec["model"], machine, rec.get("machine_class"), report)
    return AccuracySweep(rows=tuple(rows), runs=tuple(runs),
                         notes=tuple(dict.fromkeys([*notes, *sweep_notes(reports)])))


def _names(reports: list[AccuracyReport]) -> str:
    return ", ".join(dict.fromkeys(r.model.get("name", "?") for r in reports))


def sweep_notes(reports: list[AccuracyReport]) -> list[str]:
    """What the figures are worth: random weights, random inputs, the reference's figures."""
    notes = []
    random = [r for r in reports if r.weights == "random"]
    if random:
        in_reference = [r for r in random if r.model.get("name") in BY_NAME]
        notes.append(f"weights are random for {_names(random)} (no pretrained file under "
                     "$MXNET_HOME/models, or ~/.mxnet/models, and no --params): their labelled "
                     "top-1/top-5 mean nothing; only the agreement between configurations "
                     "holds")
        if in_reference:
            notes.append(f"{_names(in_reference)}: top-1 on random weights is not comparable "
                         "to the reference's (pretrained Gluon weights); no figure is made "
                         "up")
    unlabelled = [r for r in reports if not r.inputs.get("labelled")]
    if unlabelled:
        notes.append(f"no labelled --data for {_names(unlabelled)}: no top-1/top-5, only the "
                     "agreement with mkldnn-off on random inputs")
    timed = next((r.timing for r in reports if r.timing), None)
    if timed:
        notes.append(f"ms: median latency of one call at batch {timed.get('batch')} and its 95% "
                     f"interval, {timed.get('iterations')} calls after {timed.get('warmup')} "
                     f"warm-up in each of {timed.get('processes', 1)} process(es) per "
                     "configuration (each model's report in `runs` has the speedups and their "
                     "intervals)")
    if any(r.model.get("name") in BY_NAME for r in reports):
        notes.append("reference: top-1/top-5 of the MXNet 1.3 MKL-DNN benchmark (ImageNet-1k "
                     "val, pretrained Gluon model-zoo weights; identical with and without "
                     "MKL-DNN); it prints figures for 10 of its 34 networks")
    return notes
