"""What a newcomer meets first (issue 20): --version, numbers that cannot be right refused
before anything runs, and --fast leaving an explicit --min-time alone."""

from __future__ import annotations

import pytest
from tests.conftest import run_cli


def test_version():
    from mxprof import __version__
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"mxprof {__version__}"


@pytest.mark.parametrize("argv, message", [
    (["profile", "resnet18_v1", "--min-time", "inf", "--dry-run"], "--min-time"),
    (["profile", "resnet18_v1", "--min-time", "nan", "--dry-run"], "--min-time"),
    (["fusion", "resnet18_v1", "--timeout", "inf", "--dry-run"], "--timeout"),
    (["verbose", "summary", "x.log", "--top", "-1"], "--top"),
    (["verbose", "summary", "x.log", "--top", "0"], "--top"),
])
def test_impossible_numbers_are_refused(argv, message):
    r = run_cli(*argv)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_fast_keeps_an_explicit_min_time():
    import argparse

    from mxprof.commands._options import preset_of
    fast = preset_of(argparse.Namespace(processes=None, fast=True, rigorous=False,
                                        min_time=0.4))
    default = preset_of(argparse.Namespace(processes=None, fast=True, rigorous=False,
                                           min_time=None))
    assert fast.min_time_factor == 1.0 and default.min_time_factor == 0.5
    r = run_cli("fusion", "tests/fixtures/fusion_tinynet.py:build", "--shape", "1,3,16,16",
                "--fast", "--min-time", "0.4", "--switches", "none", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert ">= 0.4 s of timed calls" in r.stdout


def test_a_narrow_or_piped_table_never_splits_a_figure():
    import io

    from rich.console import Console

    from mxprof.render.table_model import Table, print_tables
    cells = ("123456.789 [123000.1-124000.2]", "98765.4321 [98000.0-99000.0]")
    t = Table("t", ("model name that is long", "latency ms", "images/s"),
              (("resnet50_v1 with a long label", *cells),), "")
    buf = io.StringIO()
    print_tables(Console(file=buf, width=50, color_system=None), [t])
    out = buf.getvalue()
    assert all(c in out for c in cells), out


def test_the_default_protocol_satisfies_its_own_sample_rules():
    from mxprof.jobs.profile.spec import POOLED_MIN_SAMPLES, Protocol
    from mxprof.timing.stats import MIN_SAMPLES
    assert POOLED_MIN_SAMPLES == MIN_SAMPLES
    p = Protocol()
    assert p.min_iterations >= MIN_SAMPLES and p.throughput_min_iterations >= MIN_SAMPLES
    for processes in (1, 2, 3, 4, 7):
        per = Protocol.for_processes(processes).throughput_min_iterations
        assert per * processes >= MIN_SAMPLES > (per - 1) * processes


def test_notes_read_as_notes_and_warnings_as_warnings():
    from mxprof.render.tables import closing_lines
    stats = {"median": 1.0, "warnings": ["the standard deviation is 30% of the mean"],
             "notes": ["p99 not given: it needs at least 100 samples, there are 40"]}
    lines = closing_lines({"latency_ms": stats, "notes": []})
    assert "warning (w/ MKL-DNN latency): the standard deviation is 30% of the mean" in lines
    assert ("note (w/ MKL-DNN latency): p99 not given: it needs at least 100 samples, there "
            "are 40") in lines
