"""Environment fingerprint: the fields every result carries, and a JSON round trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from mxprof.host import environment


def test_host_fingerprint_fields():
    env = environment.host_fingerprint()
    assert env.logical_cpus == os.cpu_count()
    assert env.cpu_model  # /proc/cpuinfo always names the CPU on Linux
    assert env.affinity["cpu_count"] == len(os.sched_getaffinity(0))
    assert env.python.count(".") == 2
    assert env.packages["mxnet"] == "1.9.1"
    assert env.physical_cores and env.physical_cores <= env.logical_cpus
    assert env.numa_nodes and env.numa_node_of_affinity is not None


def test_environment_variables_recorded():
    code = ("import json; from mxprof.host import environment;"
            "print(json.dumps(environment.host_fingerprint().to_dict()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "OMP_NUM_THREADS": "2", "KMP_BLOCKTIME": "1",
                              "UNRELATED_VAR": "x"})
    d = json.loads(out.stdout)
    assert d["threads"] == 2
    assert d["env"]["OMP_NUM_THREADS"] == "2" and d["env"]["KMP_BLOCKTIME"] == "1"
    assert "UNRELATED_VAR" not in d["env"]


def test_mxnet_fingerprint_in_subprocess():
    code = ("import json, mxnet; from mxprof.host import environment;"
            "print(json.dumps(environment.fingerprint().to_dict()))")
    for flag, expected in (("1", True), ("0", False)):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env={**os.environ, "MXNET_MKLDNN_ENABLED": flag})
        d = json.loads(out.stdout.strip().splitlines()[-1])
        assert d["mxnet"]["version"] == "1.9.1"
        assert d["mxnet"]["mkldnn_compiled"] is True
        assert d["mxnet"]["mkldnn_enabled"] is expected


def test_roundtrip_and_onednn_version():
    env = environment.host_fingerprint().with_onednn_version("v2.4.4")
    again = environment.Environment.from_dict(json.loads(json.dumps(env.to_dict())))
    assert again == env and again.onednn_version == "v2.4.4"
    assert env.with_onednn_version(None).onednn_version == "v2.4.4"


def test_onednn_version_is_probed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("MXPROF_CACHE", raising=False)  # it outranks XDG_CACHE_HOME
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert environment.onednn_version() is None  # cheap path: no cache, no probe
    version = environment.onednn_version(probe=True)
    assert version and version.startswith("v")
    (cached,) = (tmp_path / "mxprof").glob("onednn-*.txt")
    assert cached.read_text() == version
    assert environment.onednn_version() == version
    assert environment.fingerprint().onednn_version == version
