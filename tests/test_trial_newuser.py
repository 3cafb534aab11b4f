"""Defects a new user met following the README (TRIAL.md), each checked on real files or real
commands: the protocol footer of the profile report, and `mxprof bind`'s CPUs."""

from __future__ import annotations

import json
from pathlib import Path

from mxprof.render.tables import summary_table

FIXTURES = Path(__file__).parent / "fixtures" / "results"


def test_the_footer_counts_the_calls_of_every_process_not_the_first_ones():
    # A real profile (tests/fixtures/results/README.md): its processes made 62 and 204 timed
    # latency calls with MKL-DNN (a process fills --min-time, so counts differ), 56 and 59
    # without. The footer used to print "then 62 timed calls": the first process's count only.
    report = json.loads((FIXTURES / "profile.json").read_text())
    counts = report["latency_ms"]["n_per_process"] + report["reference"]["latency_ms"]["n_per_process"]
    foot = summary_table(report).footnote
    assert f"then {min(counts)}-{max(counts)} timed calls per process" in foot
    assert f"{sum(report['latency_ms']['n_per_process'])} in 2 processes with MKL-DNN" in foot
    assert "as many as fill 0.5 s, at least 10" in foot
