"""Measure the machine's ceilings in this process: `python -m mxprof.jobs.ceilings.worker SPEC
RESULT`, a worker of the one protocol (mxprof.workers.protocol); spec keys `cpus` (a CPU list or
null), `reps`, `size`, `rep_time`.

The parent (mxprof.jobs.ceilings) sets MXNET_MKLDNN_ENABLED=1 and the OpenMP thread count the
profile will use before this process starts; here the process binds itself to `cpus` before
importing MXNet or numpy (threads created later inherit the mask). Then, each figure `reps`
times (every repetition runs calls for at least `rep_time` seconds):

- f32: `mx.nd.FullyConnected` of a SIZE x SIZE input and weight (oneDNN inner product,
  `x64:gemm:jit` in MXNet 1.9.1), GFLOP/s = 2 x SIZE^3 / time per call;
- int8: `mx.nd.contrib.quantized_fully_connected` on u8 data and s8 weights (oneDNN
  `x64:gemm_s8u8s32:jit`), GOP/s counted the same way;
- bandwidth: a STREAM triad a = b + s x c in numpy over float64 arrays each 4 x the last-level
  cache (at least 64 MiB), split in one slice per thread on as many Python threads as OpenMP
  threads (numpy ufuncs release the GIL) and walked in 256 KiB blocks so that the intermediate
  s x c stays in the L2 cache: 24 bytes moved per element, STREAM's count (write-allocate
  traffic is not counted, as in STREAM).

Writes {"f32": {...}, "int8": {...}, "bandwidth": {...}} with each figure's median, min, max and
all repetition values, plus the binding and sizes used and the MXNet and oneDNN versions.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

_BLOCK = 32 * 1024  # float64 elements: 256 KiB per block, inside any L2


def spread(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def _rate(fn, work: float, reps: int, rep_time: float) -> dict[str, Any]:
    """`work` units per call / seconds per call, `reps` repetitions of >= rep_time s each."""
    fn()  # first call: primitive creation, page faults
    values = []
    for _ in range(reps):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= rep_time:
                break
        values.append(work * calls / elapsed / 1e9)
    return spread(values)


def measure_fc(size: int, reps: int, rep_time: float) -> dict[str, Any]:
    import mxnet as mx
    mx.random.seed(0)
    x = mx.nd.random.uniform(shape=(size, size))
    w = mx.nd.random.uniform(shape=(size, size))
    d = mx.nd.random.uniform(0, 255, shape=(size, size)).astype("uint8")
    q = mx.nd.random.uniform(-127, 127, shape=(size, size)).astype("int8")
    ranges = [mx.nd.array([v]) for v in (0.0, 255.0, -127.0, 127.0)]

    def f32():
        mx.nd.FullyConnected(x, w, num_hidden=size, no_bias=True).wait_to_read()

    def int8():
        mx.nd.contrib.quantized_fully_connected(d, q, *ranges, num_hidden=size,
                                                no_bias=True)[0].wait_to_read()

    flops = 2.0 * size ** 3
    return {"f32": {**_rate(f32, flops, reps, rep_time), "unit": "GFLOP/s",
                    "method": f"mx.nd.FullyConnected {size}x{size}x{size} f32 (oneDNN)"},
            "int8": {**_rate(int8, flops, reps, rep_time), "unit": "GOP/s",
                     "method": f"mx.nd.contrib.quantized_fully_connected {size}x{size}x{size} "
                               "u8 x s8 -> s32 (oneDNN)"}}


def llc_bytes() -> int:
    """The largest cache of CPU 0 from sysfs (the LLC), 32 MiB when sysfs does not say."""
    best = 0
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(text[-1:], 1)
        try:
            best = max(best, int(text.rstrip("KMG")) * scale)
        except ValueError:
            continue
    return best or 32 * 1024 ** 2


def measure_triad(threads: int, reps: int, rep_time: float) -> dict[str, Any]:
    import concurrent.futures

    import numpy as np
    llc = llc_bytes()
    n = max(4 * llc, 64 * 1024 ** 2) // 8
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    bounds = np.linspace(0, n, threads + 1, dtype=np.int64)

    def part(i: int) -> None:
        for lo in range(int(bounds[i]), int(bounds[i + 1]), _BLOCK):
            hi = min(lo + _BLOCK, int(bounds[i + 1]))
            np.multiply(c[lo:hi], 3.0, out=a[lo:hi])
            np.add(a[lo:hi], b[lo:hi], out=a[lo:hi])

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        def triad():
            list(pool.map(part, range(threads)))
        out = _rate(triad, 24.0 * n, reps, rep_time)
    return {**out, "unit": "GB/s", "array_mib": n * 8 / 2 ** 20, "llc_mib": llc / 2 ** 20,
            "threads": threads,
            "method": "STREAM triad a = b + 3 c in numpy, float64, one slice per Python thread, "
                      "256 KiB blocks, 24 bytes per element"}


def _threads() -> int:
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else len(os.sched_getaffinity(0))


def measure_all(spec: dict[str, Any]) -> dict[str, Any]:
    """The worker's body: bind, then measure (see the module docstring)."""
    binding = None
    if spec.get("cpus"):
        from mxprof.cpu.binding import bind
        binding = bind(spec["cpus"]).to_dict()
    reps, rep_time = int(spec.get("reps", 5)), float(spec.get("rep_time", 0.3))
    threads = _threads()
    result: dict[str, Any] = {"threads": threads, "binding": binding, "reps": reps,
                              "cpus": sorted(os.sched_getaffinity(0))}
    result.update(measure_fc(int(spec.get("size", 1024)), reps, rep_time))
    result["bandwidth"] = measure_triad(threads, reps, rep_time)
    # The libraries the roofs were measured with, for the report's environment line.
    import mxnet as mx

    from mxprof.cpu.openmp import wait_policy_in_force
    from mxprof.host.environment import onednn_version
    # ... and how its OpenMP threads waited (the variables worker_env set): every header says.
    result.update(mxnet=mx.__version__, onednn=onednn_version(probe=True),
                  wait_policy=wait_policy_in_force()["policy"])
    return result


def main(argv: list[str]) -> int:
    from mxprof.workers.protocol import worker_main

    return worker_main(measure_all, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
