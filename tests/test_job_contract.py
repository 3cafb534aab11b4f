"""The job contract of fusion, accuracy, compare and ceilings: one plan from the CLI and from
the notebook API, typed events, typed results with their kind, outputs declared per kind.

The plans are built for real (zoo models resolved, the binding checked on this machine); no
worker runs here: the runs themselves are covered by each job's own tests.
"""

from __future__ import annotations

import msgspec
import pytest

from mxprof.cli import build_parser


def _args(*argv: str):
    return build_parser().parse_args(list(argv))


def _same(a, b) -> None:
    assert msgspec.to_builtins(a.steps) == msgspec.to_builtins(b.steps)
    assert a.notes == b.notes


def test_fusion_cli_and_notebook_reach_the_same_plan():
    """Before: `mxprof.fusion()` timed 50 calls after 10 warm-up calls with a 900 s timeout,
    the CLI at least 10 calls after 5 with 1800 s: two jobs under one name."""
    import mxprof.api.jobs as api
    from mxprof.commands import fusion as command
    from mxprof.jobs import fusion

    cli = fusion.plan(command.options_of(_args("fusion", "resnet18_v1", "--shape", "3,32,32",
                                               "--switches", "conv_bn")))
    nb = api.fusion("resnet18_v1", shape=(3, 32, 32),
                    switches=["MXNET_DISABLE_MKLDNN_FUSE_CONV_BN"], dry_run=True)
    _same(cli, nb)
    assert cli.settings == nb.settings
    assert msgspec.structs.asdict(cli.options) == msgspec.structs.asdict(nb.options)
    # And a non-default protocol means the same on both sides.
    cli = fusion.plan(command.options_of(_args("fusion", "resnet18_v1", "--shape", "3,32,32",
                                               "--iterations", "7", "--warmup", "1",
                                               "--processes", "2", "--threads", "1")))
    nb = api.fusion("resnet18_v1", shape=(3, 32, 32), iterations=7, warmup=1, processes=2,
                    threads=1, dry_run=True)
    _same(cli, nb)
    assert cli.settings == nb.settings and cli.settings.min_time_s == 0


def test_accuracy_cli_and_notebook_reach_the_same_plan():
    import mxprof.api.jobs as api
    from mxprof.commands import accuracy as command
    from mxprof.jobs import accuracy

    cli = accuracy.plan(command.options_of(_args("accuracy", "resnet18_v1", "--shape",
                                                 "3,32,32")))
    nb = api.accuracy("resnet18_v1", shape=(3, 32, 32), dry_run=True)
    _same(cli, nb)
    assert msgspec.structs.asdict(cli.options) == msgspec.structs.asdict(nb.options)
    cli = accuracy.plan(command.options_of(_args(
        "accuracy", "resnet18_v1", "--shape", "3,32,32", "--int8", "--calib-mode",
        "naive,none", "--no-timing", "--num-inputs", "8")))
    nb = api.accuracy("resnet18_v1", shape=(3, 32, 32), int8=("naive", "none"), iterations=0,
                      num_inputs=8, dry_run=True)
    _same(cli, nb)
    assert [c.name for c in cli.configs] == ["mkldnn-off", "mkldnn", "mkldnn-fused",
                                             "int8-naive", "int8-none"]
    assert cli.processes == 1  # not timed: one process per configuration


def test_the_accuracy_sweep_is_a_job_whose_run_opens_its_own_cluster(tmp_path):
    """`accuracy` over several models on a cluster: SweepOptions -> plan (no cluster
    contacted) -> run, which opens the executor itself and reports only through events
    (before: the command connected to Dask and printed the results file itself)."""
    pytest.importorskip("distributed")
    from mxprof.cluster import ClusterError
    from mxprof.commands import accuracy as command
    from mxprof.commands._hosts import classes_of
    from mxprof.events import Note, Recorder
    from mxprof.jobs.accuracy import sweep

    results = tmp_path / "runs.jsonl"
    models = ("mobilenet0.25", "mobilenetv2_0.25")
    args = _args("accuracy", *models, "--shape", "3,32,32", "--configs", "mkldnn",
                 "--cluster", "ftp://nowhere", "--classes", "xeon, epyc",
                 "--results", str(results))
    plan = sweep.plan(sweep.SweepOptions(models=tuple(command.options_list(args)),
                                         results=args.results, cluster=args.cluster,
                                         classes=classes_of(args)))
    assert [s.label for s in plan.steps] == list(models)
    assert plan.placement is None  # each host resolves its own binding
    assert (plan.cluster, plan.classes) == ("ftp://nowhere", ("xeon", "epyc"))
    events = Recorder()
    with pytest.raises(ClusterError, match="tcp://HOST:PORT"):
        sweep.run(plan, events)
    assert [e.text for e in events.of(Note)] == [f"results file: {results}"]
    assert not results.exists()  # nothing ran
    # Without a cluster the first model's placement is the one the sweep announces.
    here = sweep.plan(sweep.SweepOptions(models=tuple(p.options for p in plan.points),
                                         results=str(results)))
    assert here.placement is here.points[0].placement
    assert here.workers_left == sum(len(p.steps) for p in here.points) > 0  # nothing done yet


def test_compare_cells_are_self_contained_worker_specs_carrying_their_binding(tmp_path):
    """Each compare cell is one WorkerSpec whose RunSpec names its CPUs, threads and wait
    policy: what a cluster executor needs to run it anywhere (before: the command resolved
    the binding four times and started the workers itself)."""
    import os

    from mxprof.commands import compare as command
    from mxprof.jobs import compare
    from mxprof.jobs.profile.spec import RunSpec

    cpu = str(min(os.sched_getaffinity(0)))
    options = command.options_of(_args(
        "compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1,2",
        "--cores", cpu, "--threads", "1", "--wait-policy", "passive", "--processes", "2",
        "--results", str(tmp_path / "r.jsonl")))
    plan = compare.plan(options)
    assert len(plan.steps) == len(plan.todo) == 4  # 2 configurations x 2 processes
    cells = compare.job.cells_of(plan, tmp_path)
    assert len(cells) == 4 and len({c.workdir for c in cells}) == 4
    for cell in cells:
        (run,) = cell.spec["runs"]
        spec = RunSpec.from_dict(run)
        assert (spec.cpus, spec.threads, spec.wait_policy) == (cpu, 1, "passive")
        assert cell.env["OMP_NUM_THREADS"] == "1"


def test_every_kind_declares_its_outputs_once():
    from mxprof.render.outputs import OUTPUTS, declare, formats_of
    assert [f.name for f in formats_of("fusion")] == ["json", "markdown", "html"]
    assert [f.name for f in formats_of("accuracy")] == ["json", "markdown", "html"]
    assert [f.name for f in formats_of("compare")] == ["json", "markdown", "csv", "html",
                                                       "pyperf"]
    assert [f.name for f in formats_of("ceilings")] == ["json"]
    for kind in ("fusion", "accuracy", "compare", "ceilings"):
        for f in OUTPUTS[kind]:
            assert callable(f.load_writer())
    with pytest.raises(ValueError, match="declared twice"):
        declare("fusion")


def test_results_carry_their_kind_and_old_files_still_load():
    import json
    from pathlib import Path

    from mxprof.jobs.accuracy import AccuracyReport
    from mxprof.jobs.compare import CompareResult
    from mxprof.jobs.fusion import FusionResult
    from mxprof.jobs.fusion.report import upgrade
    from mxprof.jobs.results import kind_of_file

    fixtures = Path(__file__).parent / "fixtures" / "results"
    old = {name: json.loads((fixtures / f"{name}.json").read_text())
           for name in ("fusion", "accuracy", "compare")}
    assert "kind" not in old["accuracy"] and old["compare"]["kind"] == "mxprof-compare"
    assert {k: kind_of_file(v) for k, v in old.items()} == {
        "fusion": "fusion", "accuracy": "accuracy", "compare": "compare"}
    results = [FusionResult.from_dict(upgrade(old["fusion"])),
               AccuracyReport.from_dict(old["accuracy"]),
               CompareResult.from_dict({**old["compare"], "kind": "compare"})]
    for result, kind in zip(results, ("fusion", "accuracy", "compare")):
        assert result.kind == kind and result.to_dict()["kind"] == kind


def test_ceilings_json_takes_a_path_like_every_command(tmp_path):
    """Before: `ceilings --json` was a switch that printed to stdout."""
    args = _args("ceilings", "--json", str(tmp_path / "c.json"))
    assert args.json == str(tmp_path / "c.json")
