"""Defects a new user met following the README (docs/trial-2026-12-08.md), each checked on real files or real
commands: the protocol footer of the profile report, and `mxprof bind`'s CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import run_cli

import mxprof
from mxprof.render.tables import summary_table

FIXTURES = Path(__file__).parent / "fixtures" / "results"
CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


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


def _bind(*args: str, cpus: set[int]) -> subprocess.CompletedProcess:
    """`mxprof bind ARGS` started as `taskset -c CPUS` would start it."""
    return subprocess.run([sys.executable, "-m", "mxprof", "bind", *args], capture_output=True,
                          text=True, env=CHILD_ENV, timeout=120,
                          preexec_fn=lambda: os.sched_setaffinity(0, cpus))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to restrict to one")
def test_bind_stays_inside_the_cpus_taskset_left_it():
    first = min(os.sched_getaffinity(0))
    other = max(os.sched_getaffinity(0))
    # No --cores: the command runs on the CPUs mxprof itself may use, not every online CPU.
    proc = _bind("--", "grep", "Cpus_allowed_list", "/proc/self/status", cpus={first})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str(first)
    # --cores outside them: refused before anything runs, as `profile --cores` refuses it.
    proc = _bind("--cores", str(other), "--", "true", cpus={first})
    assert proc.returncode == 2
    assert (f"mxprof: error: --cores {other}: CPUs {other} are not available to this process "
            f"(allowed: {first})") in proc.stderr


def test_diff_against_an_interrupted_profile_lists_no_layer_as_fused_away(tmp_path):
    # What Ctrl-C after the timing workers leaves (seen here: `profile ... --json b.json`
    # interrupted during worker 4 of 8): a partial file, complete false, no layers, no findings.
    # diff used to list every layer of A as "A only (fused away or removed)".
    from mxprof.jobs import diff
    a = FIXTURES / "profile.json"
    partial = json.loads(a.read_text())
    partial.update(complete=False, layers=None, findings=None, roofline=None)
    b = tmp_path / "b.json"
    b.write_text(json.dumps(partial))
    result = diff.run(diff.plan(diff.Options(a=str(a), b=str(b))))
    assert result.only_a == [] and result.only_b == []
    assert result.findings == []
    assert any("is an incomplete profile" in n and n.startswith("B (") for n in result.notes)
    assert any("has no per-layer times" in n for n in result.notes)


def _without(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment in which `modules` cannot be imported (as in a venv without the extra)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules))
    src = str(Path(mxprof.__file__).resolve().parents[1])
    return {"PYTHONPATH": f"{site}{os.pathsep}{src}"}


@pytest.mark.parametrize("args, message", [
    # These ended in a Python traceback with exit status 1 (README: "A command that needs a
    # missing extra says so and exits 2").
    (("models", "--no-count"), "`mxprof models` needs MXNet: pip install 'mxprof[mxnet]'"),
    (("ceilings", "--refresh"), "`mxprof ceilings` needs MXNet: pip install 'mxprof[mxnet]'"),
    (("profile", "--load", str(FIXTURES / "profile.json"), "--html", "{tmp}/p.html"),
     "`mxprof profile --html` needs matplotlib: pip install 'mxprof[plot]'"),
    (("diff", str(FIXTURES / "profile.json"), str(FIXTURES / "profile.json"), "--html",
      "{tmp}/d.html"), "`mxprof diff --html` needs matplotlib: pip install 'mxprof[plot]'"),
    # This one printed a warning, wrote nothing and exited 0.
    (("profile", "--load", str(FIXTURES / "profile.json"), "--pyperf", "{tmp}/p.json"),
     "`mxprof profile --pyperf` needs pyperf: pip install 'mxprof[pyperf]'"),
])
def test_a_missing_extra_is_a_usage_error_not_a_traceback(tmp_path, args, message):
    env = _without(tmp_path, "mxnet", "gluoncv", "matplotlib", "pyperf")
    proc = run_cli(*(a.format(tmp=tmp_path) for a in args), env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"mxprof: error: {message}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("p*.*")) and not list(tmp_path.glob("d.html"))


def test_models_lists_the_other_zoos_without_gluoncv(tmp_path):
    env = _without(tmp_path, "gluoncv")
    proc = run_cli("models", "--no-count", "--json", "-", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sources = {m["source"] for m in json.loads(proc.stdout)["models"]}
    assert sources == {"gluon", "mxprof"}
    assert "GluonCV names not listed: pip install 'mxprof[gluoncv]'" in proc.stderr
    asked = run_cli("models", "--source", "gluoncv", env=env, timeout=300)
    assert asked.returncode == 2
    assert "`mxprof models --source gluoncv` needs GluonCV" in asked.stderr


def test_the_throughput_column_has_its_interval():
    # Every figure with its spread: the latency columns had their 95% interval, the img/s
    # column the figure alone, though the file holds the batch time's interval.
    report = json.loads((FIXTURES / "profile.json").read_text())
    table = summary_table(report)
    assert table.headers[-1].endswith("[95% CI]")
    thr = report["throughput"]
    per_s = 1000.0 * thr["batch_size"]
    low, high = per_s / thr["batch_ms"]["ci95_high"], per_s / thr["batch_ms"]["ci95_low"]
    cell = table.rows[-2][-1] if report.get("reference") else table.rows[-1][-1]
    assert cell == f"{thr['images_per_s']:.1f} [{low:.1f}-{high:.1f}]"


@pytest.mark.parametrize("kind", ["compare", "profile"])
def test_merge_names_a_result_file_of_another_kind(kind):
    # `merge compare.json` (the --json result, not the --results lines) used to say
    # "unreadable line ignored (an interrupted write?)", as if the file were damaged.
    path = FIXTURES / f"{kind}.json"
    proc = run_cli("merge", str(path), timeout=120)
    assert proc.returncode == 2
    assert f"it is an mxprof {kind} file (a --json result)" in proc.stderr
    assert "interrupted write" not in proc.stderr


def test_two_outputs_to_one_file_are_refused(tmp_path):
    # `--json r.x --markdown r.x` wrote both, the Markdown over the JSON, and exited 0.
    out = tmp_path / "r.x"
    proc = run_cli("profile", "--load", str(FIXTURES / "profile.json"), "--json", str(out),
                   "--markdown", f"{tmp_path}/./r.x", timeout=120)
    assert proc.returncode == 2
    assert f"mxprof: error: --markdown {tmp_path}/./r.x: --json writes that file too" in proc.stderr
    assert not out.exists()


def test_the_layer_table_gives_each_layer_its_interval_and_protocol():
    # "ms/iter" was a bare median: no spread, and not how many iterations in how many processes.
    from mxprof.render.tables import layer_table
    from mxprof.timing.pooled import pooled_stats
    report = json.loads((FIXTURES / "profile.json").read_text())
    rows = [dict(r) for r in report["layers"]]
    # The fixture predates per-iteration samples: give two layers real-looking ones (ms).
    rows[0]["samples_ms"] = [[0.30, 0.31, 0.29, 0.33], [0.35, 0.34, 0.36]]
    rows[1]["samples_ms"] = [[9.0, 9.5, 8.7, 9.2], [9.9, 10.1, 9.4]]
    rows[0]["ms"], rows[1]["ms"] = 0.33, 9.3
    table = layer_table({"layers": rows}, "t")
    assert table.headers[3] == "95% CI"
    first = pooled_stats(rows[1]["samples_ms"])
    assert table.rows[0][3] == f"{first.ci95_low:.3f}-{first.ci95_high:.3f}"
    assert "median of 3-4 iterations per process in 2 process(es)" in table.footnote
    assert all(r[3] == "-" for r in table.rows[2:])  # no samples: no interval claimed


def test_an_opencv_that_does_not_import_stops_accuracy_data_before_any_worker(tmp_path):
    # An OpenCV wheel whose libGL is missing is found but fails to import: every worker
    # decoding --data images died on it (trial 2026-12-08b); the parent now says so, exit 2.
    broken = tmp_path / "broken" / "cv2"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise ImportError('libGL.so.1: cannot open shared object file')\n")
    images = tmp_path / "images" / "n01"
    images.mkdir(parents=True)
    src = str(Path(mxprof.__file__).resolve().parents[1])
    env = {"PYTHONPATH": f"{broken.parent}{os.pathsep}{src}"}
    proc = run_cli("accuracy", "mobilenet0.25", "--shape", "3,32,32", "--data",
                   str(tmp_path / "images"), "--fast", "--processes", "1", env=env,
                   timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert ("mxprof: error: `mxprof accuracy --data` needs OpenCV (cv2), which is installed "
            "but does not import here: libGL.so.1") in proc.stderr
    assert "Traceback" not in proc.stderr and "worker" not in proc.stderr
