"""Records of an accuracy sweep (several models, `--reference-set`, `--cluster`): the results
file's line, one row per model x machine class x configuration, and the sweep's one Result.

A sweep runs the accuracy job (mxprof.jobs.accuracy.job) once per model, on this machine or
once per machine class of a Dask cluster; each run's AccuracyReport is kept whole (`runs`) and
flattened into `rows`, which the table groups by machine class (one column group per class,
like the reference's Intel and AMD tables). A row of a reference-set network carries the
reference's own top-1/top-5 (mxprof.jobs.accuracy.reference_set) and whether the measured
top-1 can be compared with it: not on random weights, not without labelled --data.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mxprof.jobs.contract import Result
from mxprof.schema import SCHEMA, Record

RUN_KIND = "mxprof-accuracy-run"  # a line of the accuracy results file
SWEEP_KIND = "accuracy-sweep"
Json = dict[str, Any]


class RunLine(Record, frozen=True, kw_only=True):
    """One line of the accuracy results file: one model's accuracy run on one host."""

    kind: str
    schema: int
    key: str
    status: str  # ok | failed (the run, or a configuration in it, failed)
    model: str
    machine: Json
    finished_at: str | None = None
    machine_class: str | None = None  # --cluster: the class it ran on
    worker: Json | None = None  # --cluster: the Dask worker, its hygiene, attempts
    report: Json | None = None  # the AccuracyReport (mxprof.jobs.accuracy.records), as saved
    error: str | None = None  # why there is no report (the cell failed)


class SweepRow(Record, frozen=True, kw_only=True):
    """One configuration of one model on one machine (class)."""

    model: str
    machine: str  # the column group: 'alpha (Xeon Platinum 8375C, 2 CPUs)' or a host's label
    machine_class: str | None
    config: str
    ok: bool
    error: str | None = None
    weights: str | None = None  # pretrained | user | factory | random
    top1: float | None = None  # labelled, with --data (0-1)
    top5: float | None = None
    reference_top1: float | None = None  # the reference's figure (0-1), None where it has none
    reference_top5: float | None = None
    comparable: bool | None = None  # top-1 comparable with the reference's (None: no figure)
    top1_agreement: float | None = None  # with the reference configuration (mkldnn-off)
    max_abs_diff: float | None = None
    within_tolerance: bool | None = None
    latency_ms: float | None = None  # median of one call at the report's timing batch
    latency_ci95_ms: tuple[float, float] | None = None  # the median's 95% interval


class SweepRun(Record, frozen=True, kw_only=True):
    """One model's run: where it ran and its AccuracyReport (None when the run failed)."""

    model: str
    machine: str
    machine_class: str | None = None
    status: str
    error: str | None = None
    report: Json | None = None


class AccuracySweep(Result, Record, frozen=True, kw_only=True):
    """The accuracy job over several models and machine classes (kind "accuracy-sweep")."""

    kind: str = SWEEP_KIND
    schema: int = SCHEMA
    rows: tuple[SweepRow, ...] = ()
    runs: tuple[SweepRun, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """A run or a configuration failed, or an FP32 one is outside the tolerance."""
        return any(r.status != "ok" for r in self.runs) or any(
            not r.ok or r.within_tolerance is False for r in self.rows)

    @property
    def machines(self) -> list[str]:
        """The column groups, in the order the rows give them."""
        return list(dict.fromkeys(r.machine for r in self.rows))

    @classmethod
    def from_dict(cls, d: dict) -> AccuracySweep:
        return msgspec.convert(d, cls)
