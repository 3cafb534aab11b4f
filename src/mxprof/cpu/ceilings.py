"""Machine ceilings: theoretical peak GFLOP/s from the ISA, and the record of measured ones.

Theoretical peak = cores x frequency x operations per cycle per core:
- cores: physical cores among the CPUs the profile runs on (`mxprof.cpu.topology`), capped by the
  OpenMP thread count when one is given;
- frequency: the highest `cpuinfo_max_freq` (kHz) under /sys/devices/system/cpu/cpu*/cpufreq, the
  nominal all-core maximum the kernel reports; virtual machines often have no cpufreq, and then
  the "cpu MHz" of /proc/cpuinfo is used (the current clock, said so in `frequency_source`);
- FP32 operations per cycle: 2 (multiply + add) x SIMD lanes x FMA units, from the ISA flags and
  vendor (Intel's optimisation manual, AMD's software optimisation guides for family 17h/19h/1Ah):
  AVX-512 on Intel server cores 2 x 16 x 2 = 64 (some Xeon Bronze/Silver parts have one 512-bit
  FMA unit: 32, not detectable from the flags); AVX-512 on AMD Zen 4 (family 19h) runs 512-bit
  operations on two 256-bit FMA pipes: 32; Zen 5 (family 1Ah): 64; AVX2+FMA 2 x 8 x 2 = 32
  (Zen 1, family 17h models < 30h, 128-bit units: 16); AVX 16; SSE 8.
- INT8 operations per cycle: with VNNI (`vpdpbusd`, 4 u8 x s8 multiply-adds per 32-bit lane
  in one instruction) 4 x the FP32 figure; without VNNI oneDNN uses a 3-instruction sequence
  (`vpmaddubsw`, `vpmaddwd`, `vpaddd`) for the same 4 multiply-adds: 4/3 x FP32; AMX (amx_int8)
  2048 per cycle per core (Intel's Sapphire Rapids figures).

`Ceilings`-shaped results of `mxprof ceilings` are cached per machine fingerprint and binding
under `cache_dir()`: $MXPROF_CACHE, else $XDG_CACHE_HOME/mxprof, else ~/.cache/mxprof.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mxprof.cpu.topology import read_topology

# 2: measurements carry the machine load they were taken under (older ones cannot be judged).
CACHE_VERSION = 2


@dataclass(frozen=True)
class CpuIdentity:
    """What the peak depends on, read from /proc/cpuinfo."""

    vendor: str
    family: int | None
    model: int | None
    model_name: str
    flags: frozenset[str]
    mhz: float | None


def read_identity(cpuinfo_path: str | Path = "/proc/cpuinfo") -> CpuIdentity:
    """Vendor, family, model, name, flags and current MHz of the first processor block."""
    fields: dict[str, str] = {}
    try:
        text = Path(cpuinfo_path).read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if not line.strip() and fields:
            break  # the first processor block is enough: flags are uniform across cores
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())

    def number(key: str) -> int | None:
        value = fields.get(key, "")
        return int(value) if value.isdigit() else None

    try:
        mhz = float(fields["cpu MHz"])
    except (KeyError, ValueError):
        mhz = None
    return CpuIdentity(fields.get("vendor_id", "unknown"), number("cpu family"), number("model"),
                       " ".join(fields.get("model name", "unknown").split()),
                       frozenset(fields.get("flags", "").split()), mhz)


def max_frequency_ghz(sysfs_root: str | Path = "/sys",
                      identity: CpuIdentity | None = None) -> tuple[float | None, str]:
    """(GHz, source): the highest cpuinfo_max_freq under cpufreq, else /proc/cpuinfo's MHz."""
    base = Path(sysfs_root) / "devices/system/cpu"
    best = 0
    for f in base.glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"):
        try:
            best = max(best, int(f.read_text().strip()))
        except (OSError, ValueError):
            continue
    if best:
        return best / 1e6, f"{base}/cpu*/cpufreq/cpuinfo_max_freq"
    if identity is not None and identity.mhz:
        return identity.mhz / 1e3, "/proc/cpuinfo 'cpu MHz' (current clock: no cpufreq here)"
    return None, "unknown (no cpufreq, no 'cpu MHz')"


def fp32_flops_per_cycle(identity: CpuIdentity) -> tuple[int, str]:
    """FP32 operations per cycle per core and the ISA it was derived from (module docstring)."""
    f, amd = identity.flags, identity.vendor == "AuthenticAMD"
    if "avx512f" in f:
        if amd and identity.family == 0x19:
            return 32, "AVX-512 on Zen 4 (two 256-bit FMA pipes)"
        return 64, "AVX-512 (two 512-bit FMA units)"
    if "avx2" in f and "fma" in f:
        if amd and identity.family == 0x17 and (identity.model or 0) < 0x30:
            return 16, "AVX2 on Zen 1 (128-bit FMA units)"
        return 32, "AVX2 + FMA (two 256-bit FMA units)"
    if "avx" in f:
        return 16, "AVX (256-bit add + multiply)"
    return 8, "SSE (128-bit add + multiply)"


def int8_ops_per_cycle(identity: CpuIdentity) -> tuple[float, str]:
    fp32, _ = fp32_flops_per_cycle(identity)
    f = identity.flags
    if "amx_int8" in f:
        return 2048.0, "AMX int8 tiles"
    if "avx512_vnni" in f or "avx_vnni" in f:
        return 4.0 * fp32, "VNNI (4 int8 multiply-adds per 32-bit lane per instruction)"
    return fp32 * 4 / 3, "no VNNI (3-instruction int8 multiply-add sequence)"


def theoretical(cpus: tuple[int, ...] | None = None, threads: int | None = None, *,
                sysfs_root: str | Path = "/sys",
                cpuinfo_path: str | Path = "/proc/cpuinfo") -> dict[str, Any]:
    """Theoretical peak GFLOP/s (f32) and GOP/s (int8) of the physical cores among `cpus`
    (default: this process's affinity), at most `threads` of them. Keys: cores, ghz,
    frequency_source, f32_per_cycle, int8_per_cycle, isa_f32, isa_int8, peak_gflops {f32, int8}.
    `peak_gflops` values are None when the frequency is unknown."""
    ident = read_identity(cpuinfo_path)
    topo = read_topology(sysfs_root, cpuinfo_path)
    chosen = cpus if cpus is not None else tuple(sorted(os.sched_getaffinity(0)))
    cores = len(topo.physical_cpus([c for c in chosen if c in topo.online]) or chosen)
    if threads:
        cores = min(cores, threads)
    ghz, source = max_frequency_ghz(sysfs_root, ident)
    f32, isa_f32 = fp32_flops_per_cycle(ident)
    int8, isa_int8 = int8_ops_per_cycle(ident)
    peaks = ({"f32": cores * ghz * f32, "int8": cores * ghz * int8} if ghz
             else {"f32": None, "int8": None})
    return {"cores": cores, "ghz": ghz, "frequency_source": source, "f32_per_cycle": f32,
            "int8_per_cycle": int8, "isa_f32": isa_f32, "isa_int8": isa_int8,
            "cpu_model": ident.model_name, "peak_gflops": peaks}


# ---- cache -----------------------------------------------------------------------------------

def cache_dir() -> Path:
    """$MXPROF_CACHE, else $XDG_CACHE_HOME/mxprof, else ~/.cache/mxprof (mxprof.cache)."""
    from mxprof.cache import cache_root

    return cache_root()


def cache_key(cpus: tuple[int, ...] | None, threads: int | None, *, libmxnet: str | None = None,
              cpuinfo_path: str | Path = "/proc/cpuinfo") -> str:
    """Machine fingerprint (CPU model, flags, CPU count) + binding (CPUs, threads) + libmxnet."""
    ident = read_identity(cpuinfo_path)
    parts = [CACHE_VERSION, ident.model_name, sorted(ident.flags), os.cpu_count(),
             list(cpus) if cpus is not None else sorted(os.sched_getaffinity(0)), threads,
             libmxnet]
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]


def cache_path(key: str) -> Path:
    return cache_dir() / f"ceilings-{key}.json"


def load_cached(key: str) -> dict[str, Any] | None:
    """The cached measurement for `key`, None when absent or unreadable."""
    try:
        data = json.loads(cache_path(key).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("cache_version") == CACHE_VERSION else None


def store(key: str, data: dict[str, Any]) -> Path | None:
    """Write `data` for `key`; None when the cache directory is not writable."""
    path = cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**data, "cache_version": CACHE_VERSION}, indent=1))
        tmp.replace(path)
    except OSError:
        return None
    return path
