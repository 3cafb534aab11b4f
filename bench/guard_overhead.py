"""What the worker guard costs: `run_process` of a trivial command, with and without the guard.

Every worker runs under `mxprof.workers.guard` (a subreaper that ends the processes a worker
starts when the worker ends or mxprof dies). The guard is one more Python start-up per worker
(`python -I -S`, standard library only), against the 1.7 s a worker pays to import MXNet. This
prints the wall time of `python -c pass` run through `run_process` both ways, alternated so
that drifting load hits both, with the ratio guarded / direct and the load average.

    PYTHONPATH=src python bench/guard_overhead.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from mxprof.workers import process


def _once(command: list[str]) -> float:
    started = time.perf_counter()
    outcome = process.run_process(command, env=dict(os.environ), timeout=60)
    assert outcome.ok, outcome
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    command = process.python_command(["-c", "pass"])
    guarded_prefix = process.guarded([])
    direct, guarded = [], []
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    real_guarded = process.guarded
    try:
        for _ in range(args.runs):  # A B A B: the same load for both
            process.guarded = list  # the baseline: the command as it is, no guard
            direct.append(_once(command))
            process.guarded = real_guarded
            guarded.append(_once(command))
    finally:
        process.guarded = real_guarded
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    d, g = statistics.median(direct), statistics.median(guarded)
    print(f"guard: {' '.join(guarded_prefix) or '(none: no prctl here)'}")
    print(f"python -c pass via run_process, median of {args.runs}: direct {1e3 * d:.1f} ms, "
          f"guarded {1e3 * g:.1f} ms, ratio {g / d:.2f}x, cost {1e3 * (g - d):.1f} ms per worker")
    print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
