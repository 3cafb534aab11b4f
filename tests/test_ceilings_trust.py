"""Ceilings that say what they are (issue 20): a measured peak above the theoretical one says
the theory's assumptions are off, a roof measured under load is never cached, and topology
shows the roof `mxprof ceilings` cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import run_cli

from mxprof.jobs.ceilings import above_theory


def _figure(value: float, unit: str = "GFLOP/s") -> dict:
    return {"median": value, "min": value, "max": value, "unit": unit, "values": [value],
            "method": "test"}


def test_measured_above_theory_blames_the_assumption():
    result = {"theoretical": {"peak_gflops": {"f32": 332.3, "int8": 1329.2}, "ghz": 2.6,
                              "frequency_source": "cpuinfo MHz"},
              "measured": {"f32": _figure(402.7), "int8": _figure(900.0, "GOP/s")}}
    note = above_theory(result)
    assert note.startswith("measured above the theoretical peak (f32 121%)")
    assert "clock" in note and "FLOP per cycle" in note
    result["measured"]["f32"] = _figure(300.0)
    assert above_theory(result) is None


def test_topology_shows_the_roof_ceilings_cached(tmp_path):
    env = {"MXPROF_CACHE": str(tmp_path)}
    code = ("import datetime\n"
            "from mxprof.cpu.placement import resolve\n"
            "from mxprof.cpu import ceilings\n"
            "from mxprof.jobs.ceilings import _libmxnet\n"
            "threads = resolve(decide_wait=False).threads\n"
            "key = ceilings.cache_key(None, threads, libmxnet=_libmxnet())\n"
            "f = lambda v, u: {'median': v, 'min': v, 'max': v, 'unit': u, 'values': [v],"
            " 'method': 'test'}\n"
            "ceilings.store(key, {'measured_at': 'now', 'measured': {"
            "'f32': f(100.0, 'GFLOP/s'), 'int8': f(300.0, 'GOP/s'),"
            " 'bandwidth': {**f(10.0, 'GB/s'), 'array_mib': 64, 'llc_mib': 32},"
            " 'threads': threads, 'cpus': [0], 'machine_load': None}})\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120,
                   env={**os.environ, **env})
    r = run_cli("topology", env=env)
    assert r.returncode == 0, r.stderr
    assert "measured none" not in r.stdout and "measured     f32 100.0" in r.stdout


def test_a_roof_measured_under_load_is_not_cached(tmp_path):
    # Two spinning processes on the 2 CPUs: the busy rule sees the load, whatever else runs.
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        r = run_cli("ceilings", "--refresh", "--reps", "1", "--size", "64", "--json",
                    env={"MXPROF_CACHE": str(tmp_path)})
    finally:
        for p in spin:
            p.kill()
            p.wait()
    result = json.loads(r.stdout)
    assert result["measured"] and result["warning"], result
    assert result["cache"]["not_cached"] == "measured on a busy machine"
    assert not list(tmp_path.rglob("ceilings-*.json"))
