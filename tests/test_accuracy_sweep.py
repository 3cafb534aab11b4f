"""`mxprof accuracy` over several models: the reference set's plan, the sweep on this machine
and on `--cluster local` (a real Dask LocalCluster on 127.0.0.1: a scheduler and one worker),
which must give the same rows; the notes on random weights. Tiny inputs, not timed.

The two-class cluster test shares tests/test_cluster.py's scheduler and workers (it lives
there, beside compare's)."""

from __future__ import annotations

import json

import pytest

from mxprof.jobs.accuracy.reference_set import NAMES, REFERENCE_SET

TWO = ["mobilenet0.25", "mobilenetv2_0.25", "--shape", "3,32,32", "--configs", "mkldnn",
       "--num-inputs", "4", "--batch-size", "4", "--no-timing"]
# What a row says of accuracy and equivalence; latencies and the machine's label differ.
SAME = ("model", "config", "ok", "weights", "top1", "top5", "top1_agreement",
        "within_tolerance", "reference_top1")


def test_reference_set_is_the_reference_documents_34_networks():
    assert len(NAMES) == len(set(NAMES)) == 34
    printed = [r for r in REFERENCE_SET if r.top1 is not None]
    assert len(printed) == 10  # the reference prints figures for 10; none is made up
    assert all(r.top5 > 0 and r.top1 < r.top5 < 1 for r in printed)


def test_reference_set_dry_run_lists_34_networks_and_runs_nothing(cli, tmp_path):
    results = tmp_path / "never.jsonl"
    # No weights under this MXNET_HOME: the plan says so before anything runs.
    proc = cli("accuracy", "--reference-set", "--dry-run", "--results", str(results),
               env={"MXNET_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "34 network(s) planned" in proc.stdout
    assert f"no pretrained file under {tmp_path / 'models'} for 34 of 34" in proc.stdout
    assert "not comparable to the reference's" in proc.stdout
    planned = [ln.split()[1] for ln in proc.stdout.splitlines()
               if ln.strip()[:1].isdigit() and ". " in ln]
    assert planned == list(NAMES)
    assert "34 network(s)" in proc.stdout
    assert not results.exists()


def _rows(path) -> list[tuple]:
    return [tuple(r[k] for k in SAME) for r in json.loads(path.read_text())["rows"]]


def test_a_sweep_gives_the_same_rows_with_cluster_local_as_without(cli, tmp_path):
    pytest.importorskip("distributed")
    here, there = tmp_path / "here.json", tmp_path / "there.json"
    proc = cli("accuracy", *TWO, "--results", str(tmp_path / "here.jsonl"), "--json", str(here))
    assert proc.returncode == 0, proc.stderr
    rows = _rows(here)
    assert [(r[0], r[1]) for r in rows] == [(m, c) for m in ("mobilenet0.25", "mobilenetv2_0.25")
                                            for c in ("mkldnn-off", "mkldnn")]
    assert all(r[2] for r in rows)
    proc = cli("accuracy", *TWO, "--cluster", "local", "--results",
               str(tmp_path / "there.jsonl"), "--json", str(there))
    assert proc.returncode == 0, proc.stderr
    assert "local@127.0.0.1:" in proc.stderr  # each cell ran on the LocalCluster's worker
    assert _rows(there) == rows
    sweep = json.loads(there.read_text())
    assert {r["machine_class"] for r in sweep["rows"]} == {"local"}
    assert sweep["runs"][0]["report"]["weights"] == "random"
    assert any("top-1 on random weights is not comparable" in n for n in sweep["notes"])
    # The saved sweep re-renders as itself (--load), its column group named by class.
    again = cli("accuracy", "--load", str(there), "--markdown", str(tmp_path / "there.md"))
    assert again.returncode == 0, again.stderr
    assert "local (" in again.stdout and "mobilenetv2_0.25" in again.stdout
    assert (tmp_path / "there.md").read_text().startswith("# mxprof accuracy sweep")


def test_sweep_options_are_checked_before_anything_runs(cli, tmp_path):
    proc = cli("accuracy", "mobilenet0.25", "mobilenetv2_0.25", "--html",
               str(tmp_path / "x.html"), "--dry-run")
    assert proc.returncode == 2 and "--html draws one model's report" in proc.stderr
    proc = cli("accuracy", "mobilenet0.25", "mobilenetv2_0.25", "--params",
               str(tmp_path / "w.params"), "--dry-run")
    assert proc.returncode == 2 and "mxprof: error:" in proc.stderr
    proc = cli("accuracy", "mobilenet0.25", "--cluster", "ftp://nowhere", "--dry-run")
    assert proc.returncode == 0  # a dry run contacts no cluster
    proc = cli("accuracy", "mobilenet0.25", "--cluster", "ftp://nowhere", "--no-timing",
               "--num-inputs", "4", "--batch-size", "4", "--shape", "3,32,32")
    assert proc.returncode == 2 and "tcp://HOST:PORT" in proc.stderr


def _report(name: str, weights: str, top1: float | None):
    from mxprof.jobs.accuracy.metrics import Tolerance
    from mxprof.jobs.accuracy.records import AccuracyReport, ConfigResult
    configs = tuple(ConfigResult(c, "plain", c != "mkldnn-off", None, ok=True, top1=top1,
                                 top5=top1, top1_agreement=1.0, within_tolerance=True)
                    for c in ("mkldnn-off", "mkldnn"))
    return AccuracyReport(model={"name": name}, param_count=None, weights=weights,
                          inputs={"kind": "dataset", "labelled": top1 is not None},
                          tolerance=Tolerance(), configs=configs, comparisons=(),
                          calibration=None, environment={})


def test_a_top1_on_random_weights_is_never_comparable_to_the_references():
    from mxprof.jobs.accuracy.sweep_rows import build_sweep
    records = [{"key": k, "status": "ok", "model": name, "machine": {"hostname": "h"},
                "machine_class": cls, "report": _report(name, weights, 0.5).to_dict()}
               for k, name, weights, cls in (("a", "resnet18_v1", "random", "xeon"),
                                             ("b", "resnet18_v1", "pretrained", "epyc"),
                                             ("c", "my_net", "random", "xeon"))]
    sweep = build_sweep(records, [])
    by = {(r.model, r.machine_class): r for r in sweep.rows if r.config == "mkldnn"}
    assert by["resnet18_v1", "xeon"].comparable is False
    assert by["resnet18_v1", "epyc"].comparable is True
    assert by["resnet18_v1", "epyc"].reference_top1 == 0.708125
    assert by["my_net", "xeon"].comparable is None  # not a reference network: no figure
    assert sweep.machines == ["xeon (?, ? CPUs)", "epyc (?, ? CPUs)"]
    notes = " ".join(sweep.notes)
    assert "weights are random for resnet18_v1, my_net" in notes
    assert "resnet18_v1: top-1 on random weights is not comparable" in notes
    from mxprof.render.accuracy_sweep import render_markdown
    text = render_markdown(sweep)
    assert "0.5000 (random)" in text and "| xeon (?, ? CPUs): top-1 |" in text
