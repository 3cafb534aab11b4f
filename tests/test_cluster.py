"""compare --cluster against a real Dask cluster on 127.0.0.1: a `dask scheduler` and two
`mxprof worker` processes of two machine classes (alpha, beta), started once for the module.

A tiny sweep (mobilenet0.25 at 32x32, batch 1, one process, short min-time) runs on both
classes; a second sweep on alpha has its worker SIGKILLed mid-cell (its nanny brings it back)
and must still complete every cell exactly once; a worker with another mxprof version on a
second scheduler is refused at connect time with both versions named. `accuracy` runs one tiny
model on both classes through the same workers (one cell per class: the model's whole job on
that host). No mocks of Dask.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

# The mxprof under test, wherever it is installed: src/ in a developer tree (with its built
# _core), site-packages after `pip install .` (a clean clone's src/ has no _core).
SRC = Path(importlib.util.find_spec("mxprof").origin).resolve().parents[1]
LAST_CPU = str(max(os.sched_getaffinity(0)))
TINY = ["mobilenet0.25", "--shape", "3,32,32", "--batch-size", "1", "--configs", "mkldnn",
        "--min-time", "0.05", "--warmup", "1"]


def _env(pythonpath: Path = SRC) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pythonpath)
    env.pop("MXPROF_TEST_FAULT", None)
    return env


def _start_scheduler(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    sfile = folder / "scheduler.json"
    with open(folder / "scheduler.log", "w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--dashboard-address", "127.0.0.1:0", "--scheduler-file",
             str(sfile)], stdout=subprocess.DEVNULL, stderr=log, env=env,
            start_new_session=True)
    deadline = time.monotonic() + 60
    while not sfile.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert sfile.exists(), (folder / "scheduler.log").read_text()
    time.sleep(0.2)  # written whole right after it is created
    return proc, json.loads(sfile.read_text())["address"]


def _start_worker(folder: Path, address: str, cls: str, env: dict[str, str],
                  module: tuple[str, ...] = ("mxprof", "worker"),
                  extra: tuple[str, ...] = ()) -> subprocess.Popen:
    args = [address, "--class", cls, *extra] if module[-1] == "worker" else [
        address, "--nthreads", "1", "--resources", f"host=1,{cls}=1", "--host", "127.0.0.1",
        "--no-dashboard"]
    with open(folder / f"worker-{cls}.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", *module, *args], stdout=log,
                                stderr=log, env=env, start_new_session=True)


def _wait_for_workers(address: str, n: int, timeout: float = 90) -> None:
    from distributed import Client
    with Client(address, timeout=30) as client:
        client.wait_for_workers(n, timeout=timeout)


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM) if _leads_group(p) else p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL) if _leads_group(p) else p.kill()


def _leads_group(p: subprocess.Popen) -> bool:
    try:
        return os.getpgid(p.pid) == p.pid
    except ProcessLookupError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    env = _env()
    scheduler, address = _start_scheduler(folder, env)
    # alpha benchmarks on the last CPU, its Dask worker pinned to the others; beta on every
    # CPU with its worker's profiler off (mxprof.cluster.worker).
    workers = [_start_worker(folder, address, "alpha", env, extra=("--cores", LAST_CPU)),
               _start_worker(folder, address, "beta", env)]
    try:
        _wait_for_workers(address, 2)
        yield {"address": address, "folder": folder}
    finally:
        _stop(*workers, scheduler)


def _compare(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mxprof", "compare", *args],
                          capture_output=True, text=True, env=_env(), timeout=timeout)


def _records(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def test_two_classes_give_two_column_groups(cluster, tmp_path):
    results, report = tmp_path / "runs.jsonl", tmp_path / "rows.json"
    proc = _compare(*TINY, "--processes", "1", "--cluster", cluster["address"],
                    "--results", str(results), "--json", str(report))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(report.read_text())["rows"]
    assert sorted(r["machine_class"] for r in rows) == ["alpha", "beta"]
    assert all(r["metric"] == "latency" and r["latency_ms"] > 0 for r in rows)
    records = _records(results)
    # Each ran on the worker of its class, on its benchmark CPUs, with the host's default
    # threads (not Dask's OMP_NUM_THREADS=1), and says how the Dask worker kept off them.
    from mxprof.cpu.cpulist import parse_cpu_list
    from mxprof.cpu.openmp import choose_threads
    by_class = {r["machine_class"]: r for r in records}
    assert set(by_class) == {"alpha", "beta"}
    for cls, rec in by_class.items():
        env = rec["results"][0]["environment"]
        hygiene = rec["worker"]["hygiene"]
        assert rec["worker"]["address"].startswith("tcp://127.0.0.1:")
        cpus = parse_cpu_list(env["affinity"]["cpus"])
        assert env["mxnet"]["openmp_threads"] == choose_threads(None, cpus).threads
        if cls == "alpha" and len(os.sched_getaffinity(0)) > 1:
            assert env["affinity"]["cpus"] == LAST_CPU == hygiene["benchmark_cpus"]
            assert not hygiene["shares_cpus"]
            assert int(LAST_CPU) not in parse_cpu_list(hygiene["worker_cpus"])
        else:
            assert hygiene["profiler"] == "off" and hygiene["shares_cpus"]
    # The terminal table has a column group per class, and progress named each host.
    assert "alpha" in proc.stdout and "beta" in proc.stdout
    assert "alpha@127.0.0.1:" in proc.stderr and "beta@127.0.0.1:" in proc.stderr
    # Resumable: the same sweep again runs nothing (keyed by each host's fingerprint).
    again = _compare(*TINY, "--processes", "1", "--cluster", cluster["address"],
                     "--results", str(results))
    assert again.returncode == 0, again.stderr
    assert len(_records(results)) == 2
    assert "reused 2 run(s)" in again.stderr


# accuracy on the same cluster: one tiny model, the reference and MKL-DNN, not timed (one
# process per configuration): each class runs the model's whole job on its host.
TINY_ACCURACY = ["mobilenet0.25", "--shape", "3,32,32", "--configs", "mkldnn", "--num-inputs",
                 "4", "--batch-size", "4", "--no-timing"]


def test_accuracy_on_two_classes_gives_two_column_groups_and_resumes(cluster, tmp_path):
    results, report = tmp_path / "acc.jsonl", tmp_path / "acc.json"
    args = [sys.executable, "-m", "mxprof", "accuracy", *TINY_ACCURACY, "--cluster",
            cluster["address"], "--results", str(results)]
    proc = subprocess.run([*args, "--json", str(report)], capture_output=True, text=True,
                          env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    sweep = json.loads(report.read_text())
    assert sweep["kind"] == "accuracy-sweep"
    rows = sweep["rows"]
    # One row per class x configuration, each class its own column group, every one ok.
    assert sorted((r["machine_class"], r["config"]) for r in rows) == [
        ("alpha", "mkldnn"), ("alpha", "mkldnn-off"), ("beta", "mkldnn"), ("beta", "mkldnn-off")]
    assert all(r["ok"] and r["model"] == "mobilenet0.25" for r in rows)
    assert len({r["machine"] for r in rows}) == 2
    assert all(r["machine"].startswith(r["machine_class"] + " (") for r in rows)
    # Random weights here: said, and no top-1 is set beside the reference's.
    assert any("not comparable to the reference" in n for n in sweep["notes"])
    records = [json.loads(ln) for ln in results.read_text().splitlines()]
    assert sorted(r["machine_class"] for r in records) == ["alpha", "beta"]
    assert all(r["worker"]["address"].startswith("tcp://127.0.0.1:") for r in records)
    # The table has a column group per class; progress named each host.
    assert "alpha (" in proc.stdout and "beta (" in proc.stdout
    assert "alpha@127.0.0.1:" in proc.stderr and "beta@127.0.0.1:" in proc.stderr
    # Resumable: the same sweep again runs nothing (keyed by each host's fingerprint).
    again = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(results.read_text().splitlines()) == 2
    assert "reused 2 run(s)" in again.stderr and ": running " not in again.stderr


def test_an_interrupted_accuracy_sweep_keeps_its_finished_model_for_the_rerun(cluster, tmp_path):
    """SIGINT once the first model's cell is in the results file: exit 130, that run kept
    (and `--json` holds the partial sweep); the same sweep again reuses it and runs only the
    other model."""
    results, partial = tmp_path / "acc.jsonl", tmp_path / "partial.json"
    models = ["mobilenet0.25", "mobilenetv2_0.25"]
    args = [sys.executable, "-m", "mxprof", "accuracy", *models, *TINY_ACCURACY[1:],
            "--cluster", cluster["address"], "--classes", "alpha", "--results", str(results)]
    from conftest import interrupt_after_first_record
    killed = interrupt_after_first_record([*args, "--json", str(partial)], results,
                                          signal.SIGINT, env=_env())
    assert killed.returncode == 130 and "interrupted" in killed.stderr, killed.stderr
    kept = _records(results)
    assert [(r["model"], r["status"], r["machine_class"]) for r in kept] == [
        ("mobilenet0.25", "ok", "alpha")]
    sweep = json.loads(partial.read_text())
    assert sweep["kind"] == "accuracy-sweep"
    assert {r["model"] for r in sweep["rows"]} == {"mobilenet0.25"}
    again = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    assert again.returncode == 0, again.stderr
    assert "reused 1 run(s)" in again.stderr
    running = [ln for ln in again.stderr.splitlines() if ": running " in ln]
    assert len(running) == 1 and "mobilenetv2_0.25 on alpha" in running[0], again.stderr
    assert [r["model"] for r in _records(results)] == models


def _worker_pid(address: str, worker: str) -> int:
    from distributed import Client
    with Client(address, timeout=30) as client:
        return client.run(os.getpid, workers=[worker])[worker]


def _runs_a_benchmark(pid: int) -> bool:
    """Whether a profile worker process (a cell's benchmark) runs below process `pid`."""
    parent: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            parent[int(proc.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    for child in parent:
        up, seen = child, 0
        while up in parent and up != pid and seen < 8:
            up, seen = parent[up], seen + 1
        if up == pid and child != pid:
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"mxprof.jobs.profile.worker" in cmd:
                return True
    return False


def test_a_killed_worker_loses_no_cell(cluster, tmp_path):
    results = tmp_path / "runs.jsonl"
    cmd = [sys.executable, "-m", "mxprof", "compare", *TINY, "--processes", "2",
           "--classes", "alpha", "--cluster", cluster["address"], "--results", str(results)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    killed = None
    worker = None
    for line in proc.stderr:
        if "alpha@" in line and ": running " in line:
            host, port = line.split("alpha@", 1)[1].split(":")[:2]
            worker = f"tcp://{host}:{port}"
            killed = _worker_pid(cluster["address"], worker)
            # Inside the cell: killed as soon as its benchmark process runs (which needs a
            # second to import MXNet before it can finish anything). A fixed 1 s sleep raced
            # the tiny model's whole process once MXNet's import got faster.
            deadline = time.monotonic() + 60
            while not _runs_a_benchmark(killed) and time.monotonic() < deadline:
                time.sleep(0.02)
            text = results.read_text() if results.exists() else ""
            before = [json.loads(ln) for ln in text[:text.rfind("\n") + 1].splitlines()
                      if ln.strip()]  # whole lines: the sweep may be appending one
            os.kill(killed, signal.SIGKILL)
            break
    _, err = proc.communicate(timeout=300)
    assert killed, "the sweep never started a cell"
    assert proc.returncode == 0, err
    records = _records(results)
    keys = [r["key"] for r in records]
    # Two processes of one cell: two records, each once, all ok, none from the killed run.
    assert len(keys) == 2 and len(set(keys)) == 2, keys
    assert all(r["status"] == "ok" for r in records)
    # The killed worker's unfinished work ran again elsewhere: what it recorded was all on
    # file before it was killed (none of its records came after).
    assert [r for r in records if r["worker"]["address"] == worker] == \
        [r for r in before if r["worker"]["address"] == worker]
    assert len(before) < 2  # it was killed inside the sweep, not after it
    _wait_for_workers(cluster["address"], 2)  # the nanny brought it back for the next tests


def test_a_worker_with_another_version_is_refused(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(SRC / "mxprof", other / "mxprof",
                    ignore=shutil.ignore_patterns("__pycache__"))
    leaf = other / "mxprof" / "_version.py"  # the one place the version is written
    leaf.write_text(leaf.read_text().replace('__version__ = "', '__version__ = "0.0.0-other-', 1))
    scheduler, address = _start_scheduler(tmp_path, _env())
    worker = _start_worker(tmp_path, address, "gamma", _env(other),
                           module=("distributed.cli.dask_worker",))
    try:
        _wait_for_workers(address, 1)
        proc = _compare(*TINY, "--processes", "1", "--cluster", address, timeout=120)
    finally:
        _stop(worker, scheduler)
    assert proc.returncode == 2, proc.stderr
    import mxprof
    assert "refused" in proc.stderr
    assert f"mxprof 0.0.0-other-{mxprof.__version__}" in proc.stderr
    assert f"this client runs mxprof {mxprof.__version__}" in proc.stderr
    assert "running" not in proc.stderr


def test_worker_command_pins_itself_outside_the_benchmark_cores(cli):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    proc = cli("worker", "tcp://127.0.0.1:8786", "--class", "xeon", "--cores", str(cpus[-1]),
               "--print")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert "dask worker tcp://127.0.0.1:8786 --nthreads 1" in line
    assert "--resources host=1,xeon=1" in line and "--host 127.0.0.1" in line
    assert f"MXPROF_BENCHMARK_CPUS={cpus[-1]}" in line and "taskset -c" in line
    bad = cli("worker", "tcp://127.0.0.1:8786", "--class", "host", "--print")
    assert bad.returncode == 2 and "mxprof: error: --class 'host'" in bad.stderr


def test_what_a_cluster_cannot_run_is_a_usage_error_before_anything_starts(cli):
    proc = cli("compare", *TINY, "--cluster", "ftp://nowhere")
    assert proc.returncode == 2 and "tcp://HOST:PORT" in proc.stderr
    proc = cli("compare", *TINY, "--cluster", "tcp://127.0.0.1:9", "--instances", "2")
    assert proc.returncode == 2 and "--instances with --cluster" in proc.stderr
    # Dask's own connect timeout (30 s by default) bounds the wait for a scheduler.
    proc = cli("compare", *TINY, "--cluster", "tcp://127.0.0.1:9",
               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
    assert proc.returncode == 2 and "cannot reach the Dask scheduler" in proc.stderr


def test_a_cell_failing_three_times_is_a_failed_result_and_a_crash_is_not_retried(cluster,
                                                                                 tmp_path):
    from mxprof.cluster import DaskExecutor
    from mxprof.events import Finished, Note, Recorder, Started
    from mxprof.workers.protocol import WorkerSpec
    # An int in a cell's environment: the worker's Popen raises TypeError, an error of the task
    # itself (as a lost worker is), so the executor submits it again, three times in all.
    broken = WorkerSpec(module="mxprof.cluster.hostinfo", name="broken", spec={},
                        workdir=tmp_path, env={**os.environ, "MXPROF_BROKEN": 1}, timeout=60)
    # A worker that exits 0 without a result: its own failure, a result, not retried.
    crashing = WorkerSpec(module="mxprof.cluster.hostinfo", name="crashing", spec={},
                          workdir=tmp_path, env=dict(os.environ), timeout=60)
    events = Recorder()
    with DaskExecutor(cluster["address"], ["alpha"]) as executor:
        out = dict(executor.run([broken, crashing], events, labels=["broken", "crashing"]))
    assert out[0].status == "failed" and out[0].attempts == 3
    assert "failed 3 time(s) on the cluster: TypeError" in out[0].error
    assert out[1].status == "crashed" and out[1].attempts == 1
    assert out[1].host["machine_class"] == "alpha"
    notes = [e.text for e in events.of(Note)]
    assert len([n for n in notes if n.startswith("broken: attempt")]) == 2
    assert {e.label for e in events.of(Finished)} == {"broken", "crashing"}
    assert all(e.host.startswith("alpha@127.0.0.1:") for e in events.of(Started))


def _alive(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_an_interrupted_client_ends_its_benchmark_on_the_host(cluster, tmp_path):
    from mxprof.cluster import DaskExecutor
    from mxprof.events import Started
    from mxprof.workers.protocol import WorkerSpec
    name = f"hanging-{os.getpid()}"
    # The test fault `hang` makes the benchmark sleep until killed (mxprof.workers.protocol).
    cell = WorkerSpec(module="mxprof.jobs.profile.worker", name=name, spec={"runs": []},
                      workdir=tmp_path, env={**os.environ, "MXPROF_TEST_FAULT": "hang"},
                      timeout=600)

    class Interrupted(Exception):
        pass

    def interrupt(event) -> None:
        if isinstance(event, Started):
            deadline = time.monotonic() + 30
            while not _alive(f"{name}.spec.json") and time.monotonic() < deadline:
                time.sleep(0.2)
            raise Interrupted

    with DaskExecutor(cluster["address"], ["beta"]) as executor, pytest.raises(Interrupted):
        list(executor.run([cell], interrupt))
    # Without remote.stop the benchmark would hang there until its 600 s timeout.
    assert _wait_gone(f"{name}.spec.json") == []


def _wait_gone(marker: str, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(marker)


def test_local_classes_get_cpus_of_their_own():
    from mxprof.cluster.local import share_cpus
    from mxprof.cpu.cpulist import parse_cpu_list
    cpus = sorted(os.sched_getaffinity(0))
    assert share_cpus(1) is None
    shares = [parse_cpu_list(t) for t in share_cpus(len(cpus))]
    assert sorted(c for share in shares for c in share) == cpus
    with pytest.raises(ValueError, match="classes need"):
        share_cpus(len(cpus) + 1)
