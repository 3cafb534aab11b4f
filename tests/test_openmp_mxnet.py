"""Where MXNet's threads really run under `mxprof bind`: real MXNet, real libgomp, 2 CPUs.

The property that matters for speed: binding 2 CPUs must leave MXNet able to use 2 CPUs. With
libgomp, OMP_PROC_BIND pins the initial thread when libmxnet.so loads, so the main thread and
every engine thread MXNet creates afterwards inherit the first CPU (mxprof.cpu.openmp docstring).
These tests read each thread's Cpus_allowed_list and the CPU time it used during the forward
passes (no timing assertions: the figures come from bench/openmp_binding.py).
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from mxprof.cpu.cpulist import format_cpu_list, parse_cpu_list
from mxprof.cpu.openmp import detect_openmp_runtime

CHILD_ENV = {**{k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "KMP_"))},
             "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
CPUS = sorted(os.sched_getaffinity(0))[:2]
needs_two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="needs 2 CPUs to bind")
needs_gnu = pytest.mark.skipif(detect_openmp_runtime("mxnet") != "gnu",
                               reason="the installed mxnet does not link GNU OpenMP")

# Two convolutions big enough for oneDNN to open a parallel region on every call.
FORWARD_AND_REPORT = """
import json, os
import mxnet as mx

def threads():
    out = {}
    for tid in os.listdir("/proc/self/task"):
        status = open(f"/proc/self/task/{tid}/status").read()
        stat = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        allowed = next(l.split(":", 1)[1].strip() for l in status.splitlines()
                       if l.startswith("Cpus_allowed_list"))
        out[tid] = (allowed, int(stat[11]) + int(stat[12]))
    return out

net = mx.gluon.nn.HybridSequential()
net.add(mx.gluon.nn.Conv2D(64, 3, padding=1), mx.gluon.nn.Conv2D(64, 3, padding=1))
net.initialize()
net.hybridize(static_alloc=True, static_shape=True)
x = mx.nd.random.uniform(shape=(8, 64, 56, 56))
net(x).wait_to_read()
before = threads()
for _ in range(15):
    net(x).wait_to_read()
after = threads()
print(json.dumps({
    "main": after[str(os.getpid())][0],
    "masks": sorted({a for a, _ in after.values()}),
    "workers": [a for tid, (a, ticks) in after.items()
                if ticks - before.get(tid, ("", 0))[1] >= 2 and tid != str(os.getpid())],
}))
"""


def bind_and_run(cli, *extra: str) -> dict:
    proc = cli("bind", "--cores", format_cpu_list(CPUS), *extra, "--", sys.executable, "-c",
               FORWARD_AND_REPORT, env=CHILD_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpus_of(masks) -> set[int]:
    return {c for mask in masks for c in parse_cpu_list(mask)}


@needs_two_cpus
def test_bind_leaves_mxnet_both_cpus(cli):
    """Default protocol: every thread inside the binding, the main thread and the threads that
    ran the convolutions free to use both CPUs, so no one CPU carries all of MXNet."""
    out = bind_and_run(cli)
    assert cpus_of(out["masks"]) <= set(CPUS)
    assert parse_cpu_list(out["main"]) == CPUS
    assert out["workers"], "no engine or OpenMP thread used CPU time during the forward passes"
    assert cpus_of(out["workers"]) == set(CPUS)
    if detect_openmp_runtime("mxnet") == "gnu":
        # Nothing pinned inside the binding: the kernel balances MXNet's threads.
        assert out["masks"] == [format_cpu_list(CPUS)]


@needs_two_cpus
@needs_gnu
def test_pinned_gnu_openmp_confines_the_main_and_engine_threads(cli):
    """--pin-threads (OMP_PROC_BIND + OMP_PLACES) shows the cause the default avoids: libgomp pins
    the initial thread at load, and the engine thread that runs the model inherits it."""
    out = bind_and_run(cli, "--pin-threads")
    assert parse_cpu_list(out["main"]) == CPUS[:1]
    assert cpus_of(out["masks"]) == set(CPUS)  # the team's second thread is on the second CPU
    assert [CPUS[0]] in [parse_cpu_list(w) for w in out["workers"]]
