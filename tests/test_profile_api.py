"""`mxprof.profile()` and `python -m mxprof profile` are one job (mxprof.jobs.profile: plan.py,
run.py): the same Options and defaults, the same plan, the same report sections and keys:
findings, roofline and machine load included (the notebook call used to skip the diagnosis)."""

from __future__ import annotations

import json

import pytest
from tests.conftest import run_cli

MODEL, SHAPE = "mobilenet0.25", (3, 32, 32)
# Small and quick: one timing process, the primitives pass (for the roofline and findings),
# no reference configuration and no companion checks.
CLI = ("--shape", "3,32,32", "--batch-size", "2", "--min-time", "0.1", "--processes", "1",
       "--passes", "timing,primitives", "--no-reference", "--checks", "none")
API = {"shape": SHAPE, "batch_size": 2, "min_time": 0.1, "processes": 1,
       "passes": ("timing", "primitives"), "reference": False, "checks": ()}


def test_the_command_and_the_call_build_the_same_options():
    from mxprof.cli import build_parser
    from mxprof.commands.profile import options_of
    from mxprof.jobs.profile.plan import Options
    from mxprof.mx import models

    args = build_parser().parse_args(["profile", MODEL])
    assert options_of(args) == Options(model=models.resolve(MODEL))
    defaults = Options(model=models.resolve(MODEL))
    assert defaults.warmup == 5 and defaults.diagnosis and defaults.checks == ("fusion",
                                                                               "equivalence")


def test_a_bad_option_is_a_value_error_before_any_worker():
    import mxprof
    with pytest.raises(ValueError, match="unknown check"):
        mxprof.profile(MODEL, shape=SHAPE, checks=("fusoin",))
    with pytest.raises(ValueError, match="warmups"):
        mxprof.profile(MODEL, shape=SHAPE, warmups=3)


def _shape_of(value):
    """The keys of a section, recursively for dicts; a list by its first item."""
    if isinstance(value, dict):
        return {k: _shape_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape_of(value[0])] if value and isinstance(value[0], (dict, list)) else "list"
    return None if value is None else "value"


@pytest.mark.slow
def test_cli_and_notebook_give_the_same_report(tmp_path):
    import mxprof
    out = tmp_path / "cli.json"
    proc = run_cli("profile", MODEL, *CLI, "--json", str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(out.read_text())
    lines: list[str] = []
    report = mxprof.profile(MODEL, progress=lines.append, **API)
    api = report.data
    assert cli["kind"] == api["kind"] == "profile"
    assert sorted(cli) == sorted(api)
    # Findings, roofline and machine load: there in both (the notebook call used to skip them).
    for key in ("roofline", "findings", "machine_load", "primitives", "latency_ms"):
        assert cli[key] is not None and api[key] is not None, key
    assert len(cli["machine_load"]) == len(api["machine_load"]) == 2  # one per worker
    assert cli["roofline"].keys() == api["roofline"].keys()
    assert _shape_of(cli["protocol"]) == _shape_of(api["protocol"])
    for k in ("warmup", "processes", "batch_size", "threads", "min_time", "iterations"):
        assert cli["protocol"][k] == api["protocol"][k], k
    assert cli["protocol"]["warmup"] == 5
    # Every section is present or absent alike, with the same keys where it is a record.
    for key in cli:
        assert (cli[key] is None) == (api[key] is None), key
        if isinstance(cli[key], dict) and key not in ("environment", "threads"):
            assert cli[key].keys() == api[key].keys(), key
    assert set(report.findings.columns) == {k for f in api["findings"] for k in f}
    # Progress reached the notebook as lines of typed events: one per worker start and end.
    assert sum("mobilenet0.25 mkldnn" in ln for ln in lines) == 4


def test_run_reports_typed_events_and_a_partial_result_per_worker():
    from mxprof.events import Finished, Recorder, Started
    from mxprof.jobs.profile.plan import Options, plan
    from mxprof.jobs.profile.run import run
    from mxprof.mx import models

    planned = plan(Options(model=models.resolve(MODEL, shape=SHAPE), batch_size=1,
                           iterations=3, processes=2, passes=("timing",), reference=False,
                           checks=(), diagnosis=False))
    assert [s.label for s in planned.steps] == [f"{MODEL} mkldnn timing"] * 2
    events, partials = Recorder(), []
    result = run(planned, events, on_partial=partials.append)
    assert [(e.index, e.total) for e in events.of(Started)] == [(1, 2), (2, 2)]
    assert [e.status for e in events.of(Finished)] == ["ok", "ok"]
    assert [len(p.runs) for p in partials] == [1, 2] and partials[0].kind == "profile"
    assert result.kind == "profile" and not result.failed and len(result.machine_load) == 2


def test_the_notebook_call_takes_the_checks_from_the_timing_processes():
    # mxprof.profile() runs the job's default layout ("shared", issue 24) like the command: the
    # companion checks come from the timing processes, no worker of their own, and the result
    # records what the run cost; every worker's wait policy was decided before it started.
    from mxprof.events import Recorder, Started
    from mxprof.jobs.profile.plan import Options, plan
    from mxprof.jobs.profile.run import run
    from mxprof.mx import models

    planned = plan(Options(model=models.resolve(MODEL, shape=SHAPE), batch_size=2,
                           min_time=0.1, processes=1, passes=("timing",), diagnosis=False))
    assert planned.layout == "shared" and planned.checks == ("fusion", "equivalence")
    assert planned.workers == 2 and not planned.check_steps
    events = Recorder()
    result = run(planned, events)
    assert [e.total for e in events.of(Started)] == [2, 2]
    assert result.checks["fusion"]["status"] == "ok", result.checks
    assert result.checks["fusion"]["processes"] == 1
    assert result.checks["equivalence"]["status"] == "ok", result.checks
    assert result.cost.layout == "shared" and result.cost.workers == 2
    assert result.cost.phases_s["companions"] > 0
    assert {w.asked for w in result.wait_policy.workers} == {"auto"}
