"""Machine ceilings: theoretical peaks from fake sysfs/cpuinfo, the cache, the real command."""

from __future__ import annotations

import json

import pytest

from fake_sysfs import CPUINFO_XEON, make_sysfs
from mxprof.cpu import ceilings

ZEN4 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
cpu MHz\t\t: 2596.140
flags\t\t: fpu sse avx avx2 fma avx512f avx512_vnni

"""


def _machine(tmp_path, cpuinfo: str, max_khz: int | None):
    root = make_sysfs(tmp_path / "sys", sockets=1, cores=4, threads=2)
    if max_khz:
        for cpu in range(8):
            d = root / f"devices/system/cpu/cpu{cpu}/cpufreq"
            d.mkdir(parents=True)
            (d / "cpuinfo_max_freq").write_text(f"{max_khz}\n")
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo)
    return root, info


def test_xeon_avx512_vnni_peak_from_cpufreq(tmp_path):
    root, info = _machine(tmp_path, CPUINFO_XEON, 3_000_000)
    # 4 physical cores of the 8 logical CPUs x 3.0 GHz x 64 FLOP/cycle = 768 GFLOP/s;
    # int8 with VNNI 4 x 64 = 256 OP/cycle -> 3072 GOP/s.
    t = ceilings.theoretical(tuple(range(8)), sysfs_root=root, cpuinfo_path=info)
    assert (t["cores"], t["ghz"], t["f32_per_cycle"]) == (4, 3.0, 64)
    assert t["peak_gflops"] == {"f32": pytest.approx(768.0), "int8": pytest.approx(3072.0)}
    assert "cpuinfo_max_freq" in t["frequency_source"]


def test_zen4_without_cpufreq_uses_cpuinfo_mhz_and_threads_cap_the_cores(tmp_path):
    root, info = _machine(tmp_path, ZEN4, None)
    # Zen 4 runs AVX-512 on two 256-bit pipes: 32 FLOP/cycle; 2 threads -> 2 cores.
    t = ceilings.theoretical(tuple(range(8)), threads=2, sysfs_root=root, cpuinfo_path=info)
    assert (t["cores"], t["f32_per_cycle"], t["int8_per_cycle"]) == (2, 32, 128)
    assert t["peak_gflops"]["f32"] == pytest.approx(2 * 2.59614 * 32)
    assert "cpu MHz" in t["frequency_source"]


def test_avx2_without_vnni():
    ident = ceilings.CpuIdentity("GenuineIntel", 6, 85, "x", frozenset({"avx", "avx2", "fma"}),
                                 None)
    assert ceilings.fp32_flops_per_cycle(ident)[0] == 32
    assert ceilings.int8_ops_per_cycle(ident)[0] == pytest.approx(32 * 4 / 3)


def test_cache_dir_honours_mxprof_cache_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert ceilings.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("MXPROF_CACHE")
    assert ceilings.cache_dir() == tmp_path / "b" / "mxprof"


def test_cache_key_depends_on_binding_and_store_round_trips(monkeypatch, tmp_path):
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path))
    k1, k2 = ceilings.cache_key((0,), 1), ceilings.cache_key((0, 1), 2)
    assert k1 != k2 and ceilings.cache_key((0,), 1) == k1
    assert ceilings.load_cached(k1) is None
    ceilings.store(k1, {"measured": {"x": 1}})
    assert ceilings.load_cached(k1)["measured"] == {"x": 1}
    assert ceilings.load_cached(k2) is None


@pytest.mark.slow
def test_ceilings_command_measures_then_hits_the_cache(cli, tmp_path):
    env = {"MXPROF_CACHE": str(tmp_path)}
    first = cli("ceilings", "--reps", "2", "--size", "256", "--cores", "0", "--threads", "1",
                "--json", "-", env=env)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    m = data["measured"]
    for name in ("f32", "int8", "bandwidth"):
        assert len(m[name]["values"]) == 2 and m[name]["min"] <= m[name]["median"] <= m[name]["max"]
        assert m[name]["median"] > 0
    assert m["cpus"] == [0] and m["threads"] == 1 and not data["cache"]["hit"]
    # One wait-policy decision, the plan's: announced, and the one the worker ran with.
    assert first.stderr.count("mxprof: OpenMP wait policy ") == 1
    assert f"mxprof: OpenMP wait policy {m['wait_policy']} (" in first.stderr
    again = cli("ceilings", "--cores", "0", "--threads", "1", env=env)
    assert again.returncode == 0
    if m["machine_load"]["busy"]:  # a busy measurement is never cached: measured again
        assert data["cache"]["not_cached"] and "cache        hit" not in again.stdout
    else:
        assert "cache        hit" in again.stdout and "warning" not in again.stdout
        assert "OpenMP wait policy" not in again.stderr  # nothing runs: no window spent
    assert "theoretical  f32" in again.stdout and "measured     f32" in again.stdout


def _cached_ceilings(monkeypatch, tmp_path, *, busy: bool) -> None:
    """A cached measurement for the default binding, taken on a busy or a quiet machine."""
    from mxprof.cpu.load import load_record
    from mxprof.jobs import ceilings as job
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path))
    load = load_record("ceilings", wall_s=10.0, cpus=2, system_busy_s=20.0 if busy else 10.5,
                       own_s=10.0)
    assert load.busy is busy
    key = ceilings.cache_key(None, None, libmxnet=job._libmxnet())
    figure = {"median": 50.0, "min": 40.0, "max": 60.0, "values": [40.0, 50.0, 60.0]}
    ceilings.store(key, {"measured": {"f32": figure, "int8": figure, "bandwidth": figure,
                                      "machine_load": load.to_dict()},
                         "measured_at": "2026-11-30T00:00:00+00:00"})


@pytest.mark.parametrize("busy", [False, True])
def test_a_busy_cached_measurement_is_not_reused(monkeypatch, tmp_path, busy):
    from mxprof.jobs.ceilings import busy_warning, machine_ceilings
    _cached_ceilings(monkeypatch, tmp_path, busy=busy)
    result = machine_ceilings(measure_missing=False)
    assert result["cache"]["hit"] is (not busy)
    assert (result["measured"] is None) is busy
    warning = busy_warning({"machine_load": {"busy": True, "other_cpu_fraction": 0.5}})
    assert "50% of the CPU time" in warning and busy_warning({"machine_load": None}) is None


def test_a_version_1_cache_entry_without_its_load_is_measured_again(monkeypatch, tmp_path):
    monkeypatch.setenv("MXPROF_CACHE", str(tmp_path))
    key = ceilings.cache_key((0,), 1)
    path = ceilings.store(key, {"measured": {"x": 1}})
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "cache_version": 1}))
    assert ceilings.load_cached(key) is None
