"""Compare planning, keys, CPU splitting, build recipes and CLI input errors (no workers)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from mxprof.host import builds
from mxprof.jobs.compare import instances
from mxprof.jobs.compare import matrix as compare
from mxprof.jobs.compare import rows as compare_rows
from mxprof.jobs.profile.spec import RunSpec
from mxprof.mx import models
from mxprof.mx.models import ModelSpec

MACHINE = {"hostname": "h", "cpu_model": "Xeon", "logical_cpus": 2}
MOBILENET = ModelSpec("mobilenet0.25", "gluon", (3, 64, 64))
SSD = ModelSpec("ssd_300_vgg16_atrous_voc", "gluoncv", (3, 300, 300))
RCNN = ModelSpec("faster_rcnn_resnet50_v1b_voc", "gluoncv", (3, 600, 800))


def test_plan_is_model_major_with_one_run_per_config_and_batch():
    cur = builds.current_build()
    runs = compare.plan([MOBILENET, SSD], [cur], machine=MACHINE, batch_sizes=[1, 4, 16])
    labels = [(r.spec.model.name, r.spec.batch_size, r.spec.config) for r in runs]
    assert labels == [(m, b, c) for m in ("mobilenet0.25", "ssd_300_vgg16_atrous_voc")
                      for b in (4, 16) for c in ("reference", "mkldnn")]
    assert all(r.spec.pass_name == "timing" for r in runs)
    assert len({r.key for r in runs}) == len(runs)


def test_detection_networks_keep_the_reference_batch_sizes():
    assert compare.model_batches(SSD.name, None) == [1, 224]
    assert compare.model_batches("ssd_512_mobilenet1.0_voc", None) == [1, 256]
    assert compare.model_batches(RCNN.name, None) == [1]
    assert compare.model_batches("resnet50_v1", None) == [1, 128]
    assert compare.model_batches(SSD.name, [8, 1]) == [1, 8]  # the user's list wins
    # --quick: batch 2 unless the reference timed less (Faster R-CNN fails at batch 2)
    assert compare.quick_batches(SSD.name) == [1, 2]
    assert compare.quick_batches(RCNN.name) == [1]
    runs = compare.plan([RCNN], [builds.current_build()], machine=MACHINE)
    assert [r.spec.batch_size for r in runs] == [1, 1]  # latency only, like the reference
    assert compare.category(SSD.name) == "detection"
    assert compare.ALIASES["ssd-vgg16"] == SSD.name


def test_a_build_without_mkldnn_runs_only_the_reference_config():
    native = builds.Build("native", "/x/python", mxnet="1.8.0", mkldnn=False)
    runs = compare.plan([MOBILENET], [builds.current_build(), native], machine=MACHINE,
                        configs=("reference", "mkldnn", "fused"), batch_sizes=[1])
    assert [(r.build.name, r.spec.config) for r in runs] == [
        ("current", "reference"), ("current", "mkldnn"), ("current", "fused"),
        ("native", "reference")]


def test_keys_name_build_machine_binding_and_instances():
    cur, twin = builds.current_build(), builds.Build("twin", sys.executable)
    base = compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[4])[0]
    same = compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[4])[0]
    assert base.key == same.key
    others = [
        compare.plan([MOBILENET], [twin], machine=MACHINE, batch_sizes=[4])[0],
        compare.plan([MOBILENET], [cur], machine={**MACHINE, "hostname": "g"},
                     batch_sizes=[4])[0],
        compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[4], cpus="0")[0],
        compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[4],
                     instance_cpus=["0", "1"])[0],
        compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[8])[0],
    ]
    assert len({base.key, *(o.key for o in others)}) == 6


def test_unknown_config_is_refused():
    with pytest.raises(ValueError, match="unknown configuration"):
        compare.plan([MOBILENET], [builds.current_build()], machine=MACHINE, configs=["int8"])


@pytest.mark.parametrize(("metric", "base", "new", "expected"), [
    ("latency", 97.19, 13.04, 97.19 / 13.04), ("throughput", 10.29, 163.52, 163.52 / 10.29),
    ("latency", None, 1.0, None), ("throughput", 0.0, 1.0, None)])
def test_speedup_direction(metric, base, new, expected):
    assert compare_rows.speedup(metric, base, new) == expected


def test_split_cpus_into_equal_contiguous_groups():
    assert instances.split_cpus([0, 1], 2) == ["0", "1"]
    assert instances.split_cpus(list(range(8)), 2) == ["0-3", "4-7"]
    assert instances.split_cpus([0, 1, 2, 3, 4], 2) == ["0-1", "2-3"]  # leftover stays idle
    assert instances.split_cpus([0, 2, 4, 6], 2) == ["0,2", "4,6"]
    with pytest.raises(ValueError, match="need at least 3 CPUs"):
        instances.split_cpus([0, 1], 3)
    assert instances.parse_cpus("0-2,5") == [0, 1, 2, 5]
    assert instances.format_cpus([5, 0, 1, 2]) == "0-2,5"


def test_build_recipes_and_cache_keys(tmp_path):
    venv = tmp_path / "v"
    old = builds.install_commands("mxnet-mkl==1.5.1", venv, "/usr/bin/python3.11")
    assert old[0] == ["/usr/bin/python3.11", "-m", "venv", str(venv)]
    assert "--no-deps" in old[1] and old[1][-1] == "mxnet-mkl==1.5.1"
    assert old[2][-4:] == ["numpy==1.23.5", "requests", "graphviz", "pandas"]
    new = builds.install_commands("mxnet-native==1.8.0.post0", venv)
    assert len(new) == 2 and "--no-deps" not in new[1]
    # pandas: the profile worker's primitives pass needs it in the build's venv too.
    assert new[1][-3:] == ["mxnet-native==1.8.0.post0", "numpy==1.23.5", "pandas"]
    assert builds.venv_key("mxnet-mkl==1.6.0") == builds.venv_key(" MXNET-MKL==1.6.0 ")
    assert builds.venv_key("mxnet-mkl==1.6.0") != builds.venv_key("mxnet-mkl==1.5.1")
    assert builds.venv_key("mxnet-mkl==1.6.0", "3.10") != builds.venv_key("mxnet-mkl==1.6.0")


def test_build_and_python_arguments():
    assert builds.parse_build("mkl15=mxnet-mkl==1.5.1") == ("mkl15", "mxnet-mkl==1.5.1")
    twin = builds.parse_python(f"twin={sys.executable}")
    assert twin.name == "twin" and Path(twin.python).is_file()
    for bad in ("noequals", "=x", "a b=x"):
        with pytest.raises(ValueError):
            builds.parse_build(bad)
    with pytest.raises(ValueError, match="not an executable"):
        builds.parse_python("x=/nonexistent/python")


def test_foreign_interpreters_see_only_the_mxprof_package(tmp_path, monkeypatch):
    from mxprof.jobs.profile.runner import worker_env
    from mxprof.workers.pythonpath import package_parent

    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path))
    spec = RunSpec(model=models.resolve("mobilenet0.25", shape=(3, 32, 32)), config="mkldnn",
                   mkldnn=True, pass_name="timing")
    shim = Path(worker_env(spec, python=sys.executable)["PYTHONPATH"])
    # mxprof and msgspec (its records need it), and nothing of this venv's MXNet or numpy.
    assert sorted(p.name for p in shim.iterdir()) == ["msgspec", "mxprof"]
    assert (shim / "mxprof" / "jobs" / "compare" / "matrix.py").is_file()
    assert worker_env(spec)["PYTHONPATH"].split(os.pathsep)[0] == package_parent()


@pytest.mark.parametrize(("args", "message"), [
    ([], "give at least one MODEL"),
    (["mobilenet0.25", "--batch-size", "1,x"], "bad --batch-size"),
    (["mobilenet0.25", "--batch-size", "0"], "batch sizes are >= 1"),
    (["mobilenet0.25", "--configs", "int8"], "unknown configuration"),
    (["mobilenet0.25", "--python", "x=/nonexistent/python"], "not an executable"),
    (["mobilenet0.25", "--instances", "999"], "999 instances need at least"),
    (["mobilenet0.25", "--cores", "0-4095"], "CPU 2-4095 not online"),
    (["mobilenet0.25", "--cores", "x"], "CPU list"),
    (["mobilenett0.25"], "unknown model"),
])
def test_bad_input_is_a_usage_error(cli, tmp_path, args, message):
    proc = cli("compare", *args, "--results", str(tmp_path / "r.jsonl"), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "mxprof: error: " in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.jsonl").exists()


def test_a_threads_sweep_names_each_cells_thread_count(cli, tmp_path):
    """`compare --threads 1,2 --dry-run`: the planned cells of the two points differ by their
    thread count (they read the same before); a compare without the axis keeps its labels."""
    proc = cli("compare", "mobilenet0.25", "--shape", "3,64,64", "--threads", "1,2",
               "--batch-size", "1", "--processes", "1", "--dry-run",
               "--results", str(tmp_path / "r.jsonl"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    labels = [m.group(1) for m in (re.match(r"^\s+\d+\. (.+?)\s{2,}", line)
                                   for line in proc.stdout.splitlines()) if m]
    assert len(labels) == 4 and len(set(labels)) == 4, labels
    for count in (1, 2):
        assert sum(label.endswith(f" threads={count}") for label in labels) == 2, labels
    run = compare.plan([MOBILENET], [builds.current_build()], machine=MACHINE, batch_sizes=[1],
                       threads=2)[0]
    assert "threads" not in run.label


def test_merge_refuses_a_file_without_records(cli, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{\n "schema": 1\n}\n')
    proc = cli("merge", str(bad))
    assert proc.returncode == 2 and "no mxprof compare records" in proc.stderr


def test_a_failed_run_is_a_failed_row_named_in_the_footnote():
    from mxprof.jobs.profile.spec import RunResult
    from mxprof.render.compare_table import layout, table
    run = compare.plan([MOBILENET], [builds.current_build()], machine=MACHINE,
                       batch_sizes=[1], configs=["mkldnn"])[0]
    crashed = RunResult(spec=run.spec, status="failed", wall_s=1.0, returncode=-11,
                        error="worker died without a result (killed by signal SIGSEGV)")
    record = compare.make_record(run, [crashed])
    assert record["status"] == "failed" and record["key"] == run.key
    rows = compare_rows.rows([record])
    assert [(r["metric"], r["config"], r["status"]) for r in rows] == [
        ("failed", "mkldnn", "failed")]
    t = table(layout(rows))
    # The configuration's columns are there, saying what happened; no number is made up.
    assert t.headers == ("model", "lat w/ (ms)", "thr w/ (img/s)")
    assert t.rows == (("mobilenet0.25, 3x64x64", "failed", "failed"),)  # rows name their inputs
    assert "SIGSEGV" in t.footnote and "1 run(s) failed" in t.footnote


def _timing_result(spec, rng, latency_ms, batch_ms):
    """What a timing worker leaves: per-call samples with their summary (no MXNet needed)."""
    from mxprof.jobs.profile.spec import RunResult
    from mxprof.timing.stats import summarize

    def stats(centre):
        x = rng.normal(centre, centre * 0.01, 30)
        return {**summarize(x * 1e6).to_dict("ms"), "samples_ms": x.tolist(),
                "protocol": {"warmup": 1, "min_time_s": 0.1, "timer": "t"}}
    batch = stats(batch_ms)
    return RunResult(spec=spec, status="ok", wall_s=1.0, environment={"hostname": "h",
                     "cpu_model": "Xeon", "logical_cpus": 2}, weights="random",
                     latency=stats(latency_ms),
                     throughput={"batch_size": spec.batch_size, "batch_ms": batch,
                                 "images_per_s": spec.batch_size * 1e3 / batch["median"]})


def test_processes_are_interleaved_and_pooled_into_one_row_with_intervals():
    import numpy as np
    cur = builds.current_build()
    runs = compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[4], processes=3)
    assert [(r.spec.config, r.process) for r in runs] == [
        (c, p) for p in range(3) for c in ("reference", "mkldnn")]
    assert len({r.key for r in runs}) == 6 and len({r.base_key for r in runs}) == 2
    single = compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[4])
    assert [r.key for r in runs[:2]] == [r.key for r in single]  # old results files still match
    rng = np.random.default_rng(0)
    centre = {"reference": (8.0, 30.0), "mkldnn": (2.0, 30.0)}  # latency differs, batch not
    records = [compare.make_record(r, [_timing_result(r.spec, rng, *centre[r.spec.config])])
               for r in runs]
    rows = {(r["metric"], r["config"]): r for r in compare_rows.rows(records)}
    lat = rows[("latency", "mkldnn")]
    assert lat["processes"] == 3 and lat["iterations"] == 90
    assert lat["speedup_ratio"]["significant"] and lat["speedup_ratio"]["value"] == pytest.approx(
        lat["speedup"])
    assert lat["speedup"] == pytest.approx(4.0, rel=0.05)
    thr = rows[("throughput", "mkldnn")]
    assert not thr["speedup_ratio"]["significant"]
    assert thr["speedup_ratio"]["text"].startswith("no significant difference")
    from mxprof.render.compare_table import layout, table
    t = table(layout(list(compare_rows.rows(records))))
    assert any(cell.startswith("n.s. ") for cell in t.rows[0])
    assert "hierarchical bootstrap" in t.footnote


def test_what_auto_chose_moves_neither_the_results_file_nor_the_keys():
    """`--wait-policy auto` resolves to active or passive from the load of the moment: the same
    sweep run again must land in the same file and find its records (CI, 2026-12-08: the
    second run of a sweep wrote a new file when the load changed between runs)."""
    from mxprof.jobs.compare.results_log import sweep_key
    cur = builds.current_build()
    active, passive = (compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[1],
                                    wait_policy=w) for w in ("active", "passive"))
    assert sweep_key(active) == sweep_key(passive)
    assert [r.key for r in active] == [r.key for r in passive]
    other = compare.plan([MOBILENET], [cur], machine=MACHINE, batch_sizes=[2])
    assert sweep_key(other) != sweep_key(active)
