"""The default OpenMP thread count of every measuring command: one per physical core.

MXNet 1.9.1 alone takes half the CPUs it sees (it assumes SMT), so on a 2-core VM without SMT
it runs one thread while two cores are free; mxprof's default is the reference benchmark's
(OMP_NUM_THREADS = the physical cores used), decided in one place
(`mxprof.cpu.openmp.choose_threads`).
"""

from __future__ import annotations

import json
import os

import pytest

from conftest import run_cli
from fake_sysfs import make_sysfs
from mxprof.cpu.openmp import choose_threads, mxnet_default_threads
from mxprof.cpu.topology import read_topology


def _smt_topology(tmp_path):
    # 1 socket x 4 cores x 2 threads, split numbering: core c is CPUs c and c + 4.
    return read_topology(make_sysfs(tmp_path / "sys", sockets=1, cores=4, threads=2),
                         tmp_path / "missing")


def test_default_is_one_thread_per_physical_core_of_the_allowed_cpus(tmp_path):
    topo = _smt_topology(tmp_path)
    every = choose_threads(None, range(8), topology=topo)
    assert (every.threads, every.source) == (4, "physical cores")
    assert every.why == "one per physical core (mxprof default; MXNet alone would use 4)"
    # Two cores with both their threads, and SMT siblings of one core: siblings count once.
    assert choose_threads(None, [0, 1, 4, 5], topology=topo).threads == 2
    assert choose_threads(None, [0, 4], topology=topo).threads == 1


def test_user_count_and_runtime_keep_their_meaning(tmp_path):
    topo = _smt_topology(tmp_path)
    user = choose_threads(3, range(8), topology=topo)
    assert (user.threads, user.source) == (3, "user")
    assert user.text == "3, --threads 3 (MXNet alone would use 4)"
    runtime = choose_threads("runtime", range(8), topology=topo)
    assert (runtime.threads, runtime.source) == (None, "runtime")
    assert "4 on these 8 CPUs" in runtime.why
    with pytest.raises(ValueError, match="at least 1"):
        choose_threads(0, range(8), topology=topo)
    with pytest.raises(ValueError, match="runtime"):
        choose_threads("all", range(8), topology=topo)


def test_mxnet_default_halves_the_cpus_it_sees():
    # src/engine/openmp.cc: omp_get_num_procs() >> 1 on x86, and libgomp makes 0 threads one.
    assert [mxnet_default_threads(n) for n in (1, 2, 3, 36)] == [1, 1, 1, 18]


def test_threads_flag_takes_a_count_or_runtime_in_every_measuring_command():
    for command in ("profile resnet18_v1", "fusion resnet18_v1", "accuracy resnet18_v1"):
        proc = run_cli(*command.split(), "--threads", "many", "--dry-run")
        assert proc.returncode == 2, (command, proc.stderr)
        assert "expected a count or 'runtime'" in proc.stderr
        proc = run_cli(*command.split(), "--threads", "runtime", "--dry-run")
        assert proc.returncode == 0, (command, proc.stderr)
        assert "OpenMP threads unset, --threads runtime: MXNet's own default" in proc.stdout


def test_a_real_worker_runs_one_thread_per_physical_core_without_threads(tmp_path):
    """Regression: the worker used MXNet's default (1 thread on this 2-core VM without SMT)."""
    out = tmp_path / "r.json"
    proc = run_cli("profile", "resnet18_v1", "--shape", "3,64,64", "--batch-size", "2",
                   "--passes", "timing", "--checks", "none", "--no-reference",
                   "--no-diagnosis", "--processes", "1", "--iterations", "3", "--warmup", "1",
                   "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    cores = len(read_topology().physical_cpus(sorted(os.sched_getaffinity(0))))
    assert report["environment"]["mxnet"]["openmp_threads"] == cores
    assert report["protocol"]["threads"] == cores
    assert report["protocol"]["threads_why"].startswith("one per physical core (mxprof default")
    assert f"threads {cores}, one per physical core (mxprof default" in proc.stdout
