"""compare and merge end to end with real MXNet workers (mobilenet0.25 at 64x64, short runs).

One sweep is killed after its first run lands and resumed; the table, JSON, CSV, HTML and
merge tests read what that sweep wrote. `--python` and the instances mode make their own runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import interrupt_after_first_record
from mxprof.jobs.profile.spec import RunResult
from schema_check import assert_matches_schema

SWEEP = ["mobilenet0.25", "--shape", "3,64,64", "--batch-size", "1,4",
         "--configs", "reference,mkldnn", "--min-time", "0.1", "--warmup", "1", "--processes", "1"]
REFERENCE_HEADERS = ["model", "lat w/o (ms)", "lat w/ (ms)", "speedup", "thr w/o (img/s)",
                     "thr w/ (img/s)", "speedup"]


def _records(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def _workers_alive(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (our worker spec paths)."""
    alive = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and "mxprof.jobs.profile.worker" in cmd:
                alive.append(int(proc.name))
    return alive


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Start the sweep, SIGTERM it once the first run is in the results file, then resume."""
    d = tmp_path_factory.mktemp("sweep")
    results, workdir = d / "runs.jsonl", d / "work"
    cmd = [sys.executable, "-m", "mxprof", "compare", *SWEEP, "--results", str(results),
           "--workdir", str(workdir)]
    killed = interrupt_after_first_record(cmd, results, signal.SIGTERM)
    after_kill = _records(results)
    orphans = _workers_alive(str(workdir))
    out = {"dir": d, "results": results, "killed_rc": killed.returncode,
           "killed_err": killed.stderr, "after_kill": after_kill, "orphans": orphans}
    resumed = subprocess.run(
        [*cmd, "--json", str(d / "rows.json"), "--csv", str(d / "table.csv"),
         "--html", str(d / "page.html"), "--markdown", str(d / "table.md")],
        capture_output=True, text=True, timeout=300)
    out.update(resumed=resumed, records=_records(results),
               report=json.loads((d / "rows.json").read_text()))
    return out


def test_killed_sweep_keeps_finished_runs_and_its_worker_dies(sweep):
    assert sweep["killed_rc"] == 130, sweep["killed_err"]
    assert "interrupted" in sweep["killed_err"]
    assert len(sweep["after_kill"]) == 1 and sweep["after_kill"][0]["status"] == "ok"
    assert sweep["orphans"] == []


def test_resume_runs_only_the_missing_configuration(sweep):
    res = sweep["resumed"]
    assert res.returncode == 0, res.stderr
    assert f"reused 1 result(s) from {sweep['results']}" in res.stderr
    assert res.stderr.count(f"results file: {sweep['results']}") == 1  # once, at the start
    assert res.stderr.count("[2/2]") == 1 and "[1/2]" not in res.stderr
    records = sweep["records"]
    assert len(records) == 2  # one line per finished run, nothing rerun
    assert records[0] == sweep["after_kill"][0]
    configs = [r["results"][0]["spec"]["config"] for r in records]
    assert sorted(configs) == ["mkldnn", "reference"]
    for r in records:  # every line carries the worker's environment fingerprint
        env = r["results"][0]["environment"]
        assert env["hostname"] and env["mxnet"]["version"] == "1.9.1"
        assert env["mxnet"]["mkldnn_enabled"] == (r["results"][0]["spec"]["config"] == "mkldnn")


def test_json_rows_and_speedups_follow_from_the_raw_results(sweep):
    raw = {r["results"][0]["spec"]["config"]: RunResult.from_dict(r["results"][0])
           for r in sweep["records"]}
    rows = sweep["report"]["rows"]
    assert_matches_schema("compare", sweep["report"])
    for rec in sweep["records"]:
        assert_matches_schema("compare-results-line", rec)
    by = {(r["metric"], r["config"]): r for r in rows}
    assert set(by) == {("latency", "reference"), ("latency", "mkldnn"),
                       ("throughput", "reference"), ("throughput", "mkldnn")}
    for row in rows:
        assert {"model", "batch_size", "config"} <= set(row)
        assert row["model"] == "mobilenet0.25"
    off, on = raw["reference"], raw["mkldnn"]
    lat_on = by[("latency", "mkldnn")]
    assert lat_on["batch_size"] == 1 and lat_on["latency_ms"] == on.latency["median"]
    assert lat_on["speedup"] == pytest.approx(off.latency["median"] / on.latency["median"])
    thr_on = by[("throughput", "mkldnn")]
    assert thr_on["batch_size"] == 4
    assert thr_on["images_per_s"] == pytest.approx(4e3 / on.throughput["batch_ms"]["median"])
    assert thr_on["speedup"] == pytest.approx(
        on.throughput["images_per_s"] / off.throughput["images_per_s"])
    assert "speedup" not in by[("latency", "reference")]


def test_terminal_and_markdown_use_the_reference_layout(sweep):
    out = sweep["resumed"].stdout
    for h in REFERENCE_HEADERS:
        assert h in out
    assert "mobilenet0.25" in out and "throughput batch 4 in images/s" in out
    assert "95% interval of the median" in out  # the spread is explained, as everywhere
    md = (sweep["dir"] / "table.md").read_text().splitlines()
    header = next(ln for ln in md if ln.startswith("| model"))
    assert [c.strip() for c in header.strip("|").split("|")] == REFERENCE_HEADERS
    row = next(ln for ln in md if ln.startswith("| mobilenet0.25"))
    lat_speedup = next(r["speedup"] for r in sweep["report"]["rows"]
                       if r["metric"] == "latency" and r["config"] == "mkldnn")
    assert f"{lat_speedup:.2f}x" in row


def test_csv_parses_and_matches_the_rows(sweep):
    text = (sweep["dir"] / "table.csv").read_text()
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 1
    line = table[0]
    rows = {(r["metric"], r["config"]): r for r in sweep["report"]["rows"]}
    assert line["model"] == "mobilenet0.25" and line["throughput_batch"] == "4"
    assert float(line["latency_ms_mkldnn"]) == pytest.approx(
        rows[("latency", "mkldnn")]["latency_ms"], rel=1e-5)
    assert float(line["throughput_speedup_mkldnn"]) == pytest.approx(
        rows[("throughput", "mkldnn")]["speedup"], rel=1e-5)


# The columns of the CSV before the intervals and the environment were added: kept, in order.
OLD_CSV_COLUMNS = [
    "machine", "build", "instances", "category", "model", "throughput_batch",
    "latency_ms_reference", "latency_q1_ms_reference", "latency_q3_ms_reference",
    "latency_ms_mkldnn", "latency_q1_ms_mkldnn", "latency_q3_ms_mkldnn",
    "latency_speedup_mkldnn", "latency_speedup_mkldnn_low", "latency_speedup_mkldnn_high",
    "latency_speedup_mkldnn_significant",
    "images_per_s_reference", "images_per_s_low_reference", "images_per_s_high_reference",
    "images_per_s_mkldnn", "images_per_s_low_mkldnn", "images_per_s_high_mkldnn",
    "throughput_speedup_mkldnn", "throughput_speedup_mkldnn_low",
    "throughput_speedup_mkldnn_high", "throughput_speedup_mkldnn_significant",
    "reference_latency_speedup", "reference_throughput_speedup"]


def test_csv_has_every_interval_and_the_environment(sweep):
    """Each median's 95% interval, each speedup's interval and significance, and what the
    workers ran with (before: medians without intervals, no MXNet, oneDNN, CPU or affinity)."""
    text = (sweep["dir"] / "table.csv").read_text()
    header = text.splitlines()[0].split(",")
    assert header[:len(OLD_CSV_COLUMNS)] == OLD_CSV_COLUMNS
    (line,) = csv.DictReader(io.StringIO(text))
    rows = {(r["metric"], r["config"]): r for r in sweep["report"]["rows"]}
    for config in ("reference", "mkldnn"):
        stats = rows[("latency", config)]["stats"]
        low, high = (float(line[f"latency_ci95_{end}_ms_{config}"]) for end in ("low", "high"))
        assert low == pytest.approx(stats["ci95_low"], rel=1e-5)
        assert high == pytest.approx(stats["ci95_high"], rel=1e-5)
        assert low <= float(line[f"latency_ms_{config}"]) <= high
        batch = rows[("throughput", config)]["stats"]
        assert float(line[f"images_per_s_ci95_low_{config}"]) == pytest.approx(
            4e3 / batch["ci95_high"], rel=1e-5)
        assert float(line[f"images_per_s_ci95_low_{config}"]) <= float(
            line[f"images_per_s_{config}"]) <= float(line[f"images_per_s_ci95_high_{config}"])
    for metric in ("latency", "throughput"):
        ratio = rows[(metric, "mkldnn")]["speedup_ratio"]
        assert line[f"{metric}_speedup_mkldnn_significant"] == str(ratio["significant"])
        assert float(line[f"{metric}_speedup_mkldnn_low"]) == pytest.approx(
            ratio["ci95_low"], rel=1e-5)
    assert line["mxnet"] == "1.9.1" and line["onednn"].startswith("v")
    assert line["cpu_model"] and line["physical_cores"] and line["threads"]
    assert line["affinity"] == rows[("latency", "mkldnn")]["affinity"]
    assert line["wait_policy"] in ("active", "passive", "runtime default")
    out = sweep["resumed"].stdout
    assert f"oneDNN {line['onednn']}" in out and "MXNet 1.9.1" in out
    assert f"workers' CPU affinity {line['affinity']}" in out


def test_html_has_the_table_and_svg_charts(sweep):
    page = (sweep["dir"] / "page.html").read_text()
    assert "<table id='compare'" in page and "mobilenet0.25" in page and "lat w/o (ms)" in page
    # Latency and throughput, inline SVG (tests/test_html.py opens the page in a browser).
    charts = page.split("<figure class='chart'><svg")[1:]
    assert len(charts) == 2
    assert all("</svg>" in c and c.count("<path") > 5 for c in charts)


def test_merge_gives_one_column_group_per_machine(sweep, cli, tmp_path):
    other = tmp_path / "other.jsonl"
    lines = []
    for rec in sweep["records"]:  # the same runs "measured" on another machine
        rec = json.loads(json.dumps(rec))
        rec["machine"].update(hostname="epyc-host", cpu_model="AMD EPYC 7R13 Processor")
        for res in rec["results"]:
            res["environment"].update(hostname="epyc-host", cpu_model="AMD EPYC 7R13 Processor")
            res["latency"]["median"] *= 2
        lines.append(json.dumps(rec))
    other.write_text("\n".join(lines) + "\n")
    proc = cli("merge", str(sweep["results"]), str(other), "--json", "-",
               "--csv", str(tmp_path / "m.csv"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    machines = {r["machine"] for r in report["rows"]}
    assert len(machines) == 2 and any("epyc-host" in m for m in machines)
    assert "epyc-host: lat w/o (ms)" in proc.stderr  # the table goes to stderr with --json -
    local = sweep["records"][0]["results"][0]["environment"]["hostname"]
    assert f"{local}: lat w/o (ms)" in proc.stderr
    table = list(csv.DictReader(io.StringIO((tmp_path / "m.csv").read_text())))
    assert sorted(t["machine"].split(" (")[0] for t in table) == sorted(["epyc-host", local])
    lat = {r["machine"].split(" (")[0]: r for r in report["rows"]
           if r["metric"] == "latency" and r["config"] == "reference"}
    assert lat["epyc-host"]["latency_ms"] == pytest.approx(2 * lat[local]["latency_ms"])
    # A terminal too narrow for the groups side by side gets them as rows instead.
    from mxprof.render.compare_text import CompareTerminalRenderer
    narrow = CompareTerminalRenderer(width=140).render(report)
    assert "machine/build" in narrow and "epyc-host: lat" not in narrow
    assert "epyc-host" in narrow and local in narrow


def test_python_option_runs_a_second_interpreter(cli, tmp_path):
    proc = cli("compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1",
               "--configs", "mkldnn", "--min-time", "0.1", "--warmup", "1", "--no-current",
               "--processes", "1",  # what is checked is which interpreter ran, not a spread
               "--python", f"twin={sys.executable}", "--results", str(tmp_path / "r.jsonl"),
               "--json", "-", env={"MXPROF_CACHE": str(tmp_path / "cache")}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["rows"]
    assert [(r["build"], r["metric"], r["status"]) for r in rows] == [("twin", "latency", "ok")]
    assert rows[0]["mxnet"] == "1.9.1" and rows[0]["latency_ms"] > 0
    # The worker found mxprof through the package-only path, not through this venv's path.
    assert (tmp_path / "cache" / "pythonpath").is_dir()
    assert "[twin]" in proc.stderr


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_instances_mode_binds_each_instance_and_sums_images_per_s(cli, tmp_path):
    cpus = sorted(os.sched_getaffinity(0))[:2]
    proc = cli("compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "4",
               "--configs", "mkldnn", "--min-time", "0.1", "--warmup", "1",
               "--instances", "2", "--cores", f"{cpus[0]},{cpus[1]}", "--processes", "1",
               "--results", str(tmp_path / "r.jsonl"), "--json", "-", timeout=300)
    assert proc.returncode == 0, proc.stderr
    thr = next(r for r in json.loads(proc.stdout)["rows"] if r["metric"] == "throughput")
    assert thr["instances"] == 2 and thr["threads"] == 1
    assert thr["instance_cpus"] == [str(cpus[0]), str(cpus[1])]
    assert [b["cpus"] for b in thr["instance_bindings"]] == [str(cpus[0]), str(cpus[1])]
    assert all(x > 0 for x in thr["per_instance_images_per_s"])
    assert thr["images_per_s"] == pytest.approx(sum(thr["per_instance_images_per_s"]))
    record = json.loads((tmp_path / "r.jsonl").read_text())
    assert len(record["results"]) == 2
    assert "2 inst: thr w/ (img/s)" in proc.stderr


def test_default_results_file_is_in_the_cache_and_reuse_is_keyed_by_environment(cli, tmp_path):
    """Not in the current folder; one file per sweep; a changed environment is never answered
    with old numbers; the report says what was reused, from which file and when."""
    cache, cwd = tmp_path / "xdg", tmp_path / "checkout"
    cwd.mkdir()
    args = ("compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1",
            "--configs", "mkldnn", "--min-time", "0.05", "--warmup", "1", "--json", "-",
            "--processes", "1")  # one record per sweep: the counts below are of one run
    env = {"XDG_CACHE_HOME": str(cache)}
    clean = {k: v for k, v in os.environ.items() if k != "MXPROF_CACHE"}

    def run(extra=None):
        return subprocess.run([sys.executable, "-m", "mxprof", *args], capture_output=True,
                              text=True, timeout=300, cwd=cwd,
                              env={**clean, **env, **(extra or {})})

    first = run()
    assert first.returncode == 0, first.stderr
    assert os.listdir(cwd) == []
    (path,) = (cache / "mxprof" / "compare").glob("*.jsonl")
    said = f"results file: {path}\n"
    assert first.stderr.startswith(said) and first.stderr.count(said) == 1  # once, at the start
    assert "reused" not in first.stderr
    second = run()
    assert second.returncode == 0, second.stderr
    finished = _records(path)[0]["finished_at"]
    assert f"reused 1 result(s) from {path}, measured {finished}" in second.stderr
    assert any("reused: " in n and finished in n for n in json.loads(second.stdout)["notes"])
    assert len(_records(path)) == 1
    changed = run({"MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD": "16"})  # in the fingerprint
    assert changed.returncode == 0, changed.stderr
    assert "reused" not in changed.stderr and len(_records(path)) == 2


def test_load_re_renders_the_saved_rows_without_running(sweep, tmp_path):
    """`compare --load` prints the same table and writes the same CSV as the run did."""
    proc = subprocess.run([sys.executable, "-m", "mxprof", "compare", "--load",
                           str(sweep["dir"] / "rows.json"), "--csv", str(tmp_path / "t.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == sweep["resumed"].stdout
    assert (tmp_path / "t.csv").read_text() == (sweep["dir"] / "table.csv").read_text()
    assert "results file" not in proc.stderr  # nothing measured, no results file opened


def test_pyperf_suite_names_onednn_and_the_affinity(sweep, tmp_path):
    """Before: compare's pyperf metadata had no oneDNN version and, unbound, no affinity."""
    pyperf = pytest.importorskip("pyperf")
    out = tmp_path / "suite.json"
    proc = subprocess.run([sys.executable, "-m", "mxprof", "compare", "--load",
                           str(sweep["dir"] / "rows.json"), "--pyperf", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    row = next(r for r in sweep["report"]["rows"] if r["metric"] == "latency")
    for bench in pyperf.BenchmarkSuite.load(str(out)).get_benchmarks():
        meta = bench.get_metadata()
        assert meta["onednn_version"] == row["onednn"] and row["onednn"].startswith("v")
        assert meta["cpu_affinity"] == row["affinity"]


def test_dry_run_names_the_results_file_it_would_use_and_creates_nothing(cli, tmp_path):
    """It printed "runs already in None" when no --results was given."""
    cache = tmp_path / "cache"
    out = cli("compare", "mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1",
              "--dry-run", env={"MXPROF_CACHE": str(cache)})
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "already in None" not in text
    assert f"0 of 6 runs already in {cache / 'compare'}" in text
    assert not (cache / "compare").exists()


def test_quick_runs_two_processes_per_cell_unless_told(cli, tmp_path):
    env = {"MXPROF_CACHE": str(tmp_path)}
    quick = cli("compare", "resnet18_v1", "--quick", "--dry-run", env=env)
    assert quick.returncode == 0, quick.stderr
    assert "0 of 4 runs already in" in quick.stdout + quick.stderr  # 2 configs x 2 processes
    three = cli("compare", "resnet18_v1", "--quick", "--processes", "3", "--dry-run", env=env)
    assert "0 of 6 runs already in" in three.stdout + three.stderr


def test_every_results_line_and_row_carries_the_machine_load(sweep):
    # The busy-machine rule (mxprof.cpu.load) is every command's: compare records it per run.
    for record in sweep["records"]:
        load = record["machine_load"]
        assert load["other_cpu_fraction"] >= 0 and load["busy"] == (
            load["other_cpu_fraction"] > load["threshold"])
    rows = [r for r in sweep["report"]["rows"] if r["metric"] != "failed"]
    assert rows and all(r["other_cpu_fraction"] is not None for r in rows)
    assert all(r["inputs"] == "3x64x64" for r in rows)
    page = (sweep["dir"] / "page.html").read_text()
    assert "machine load" in page or "CPU time" in page
