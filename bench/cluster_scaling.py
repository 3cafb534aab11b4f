"""How a sweep scales on a Dask cluster: the same N cells here without Dask, on one local worker
and on two, each worker bound to its own core, in one run.

Each cell is a real compare cell (profile's timing worker: mobilenet0.25 at 32x32, batch 1,
MKL-DNN on, one OpenMP thread, a short min-time): a fresh process that imports MXNet, builds the
model and times it, about what a small cell of an overnight sweep costs. Printed:
- wall time of the N cells run one after another on core 0 by the LocalExecutor (no Dask);
- wall time on one Dask worker (core 0) and on two (cores 0 and 1), cluster start-up apart;
- the scaling ratio 1 worker / 2 workers (ideal 2.00x: the cells are independent);
- the scheduling overhead per cell: in each run, the wall time beyond the cells' own processes
  per cell, on one Dask worker against here without Dask: what Dask and mxprof.cluster add to a
  cell (submission, the worker's environment rebuild, the result's trip back), measured so that
  load drifting between the runs cancels out.
Run on a quiet machine with two free cores; the load average is printed with the figures.

    PYTHONPATH=src python bench/cluster_scaling.py [--cells 6]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def cells(n: int, workdir: Path) -> list:
    from mxprof.jobs.profile.runner import group_cell
    from mxprof.jobs.profile.spec import Protocol, RunSpec
    from mxprof.mx.models import resolve
    model = resolve("mobilenet0.25", shape=(3, 32, 32))
    spec = RunSpec(model=model, config="mkldnn", mkldnn=True, pass_name="timing", batch_size=1,
                   protocol=Protocol(warmup=1, min_time=0.05, min_iterations=3), threads=1,
                   wait_policy="passive")
    return [group_cell([spec], workdir / f"cell{i}", timeout=300, index=i)
            for i in range(n)]


def run_local(specs) -> tuple[float, float, int]:
    """(wall s, the cells' own wall s summed, cells ok)."""
    from mxprof.cluster.remote import pinned
    from mxprof.workers.executor import LocalExecutor
    began = time.monotonic()
    with pinned([0]):
        results = [r for _, r in LocalExecutor().run(specs)]
    return time.monotonic() - began, sum(r.wall_s for r in results), sum(r.ok for r in results)


def run_dask(specs, cpus: list[str]) -> tuple[float, float, float, int]:
    """(wall s, cluster start s, the cells' own wall s summed, cells ok)."""
    from mxprof.cluster import DaskExecutor
    from mxprof.cluster.local import start_local
    began = time.monotonic()
    cluster = start_local(("bench",), cpus=cpus, workers_per_class=len(cpus))
    try:
        with DaskExecutor(cluster.scheduler_address) as executor:
            ready = time.monotonic()
            results = [r for _, r in executor.run(specs)]
            return (time.monotonic() - ready, ready - began, sum(r.wall_s for r in results),
                    sum(r.ok for r in results))
    finally:
        cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=6)
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs two CPUs")
    with tempfile.TemporaryDirectory(prefix="mxprof-bench-") as tmp:
        specs = cells(args.cells, Path(tmp))
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        local, cells0, ok0 = run_local(specs)
        one, start1, cells1, ok1 = run_dask(specs, ["0"])
        two, start2, _, ok2 = run_dask(specs, ["0", "1"])
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    n = args.cells
    print(f"{n} cells (mobilenet0.25 32x32 batch 1, 1 thread, min-time 0.05 s); ok: "
          f"{ok0}/{n} here, {ok1}/{n} on 1 worker, {ok2}/{n} on 2 workers")
    print(f"no Dask, core 0:         {local:7.1f} s  ({local / n:.2f} s per cell)")
    print(f"1 Dask worker, core 0:   {one:7.1f} s  (cluster start {start1:.1f} s)")
    print(f"2 Dask workers, 0 and 1: {two:7.1f} s  (cluster start {start2:.1f} s)")
    print(f"scaling 1 -> 2 workers:  {one / two:.2f}x (ideal 2.00x)")
    # Wall time beyond the cells' own processes, per cell, within each run: load that drifts
    # between the runs changes the cells' times, not this difference.
    here, dask = (local - cells0) / n, (one - cells1) / n
    print(f"overhead per cell:       {here * 1e3:.0f} ms here, {dask * 1e3:.0f} ms on Dask: "
          f"{(dask - here) * 1e3:+.0f} ms per cell for the cluster")


if __name__ == "__main__":
    main()
