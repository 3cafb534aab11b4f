"""What the ceilings and the diagnosis add to `profile`'s wall time, in the same run.

Three `python -m mxprof profile MODEL` runs per round, interleaved over `--rounds` so a busy
machine hits them alike: `--no-diagnosis` (the baseline), diagnosis with an empty ceilings cache
(the first profile on a machine: the ceilings worker measures), and diagnosis with the cache
filled (every later profile). Also the pure diagnosis step alone (roofline + findings on the
saved report), timed in this process. Prints each median wall time and its ratio to the
baseline, with /proc/loadavg.

    PYTHONPATH=src python bench/diagnosis_overhead.py [--model resnet18_v1] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _profile(args, out: Path, cache: Path, *extra: str) -> float:
    env = {**os.environ, "MXPROF_CACHE": str(cache)}
    cmd = [sys.executable, "-m", "mxprof", "profile", args.model, "--shape", args.shape,
           "--no-reference", "--checks", "none", "--passes", "timing,layers,primitives",
           "--min-time", str(args.min_time), "--batch-size", "1", "--json", str(out), *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"profile failed: {proc.stderr[-2000:]}")
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18_v1")
    ap.add_argument("--shape", default="3,64,64")
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    walls: dict[str, list[float]] = {"baseline": [], "measure ceilings": [], "cached ceilings": []}
    with tempfile.TemporaryDirectory(prefix="mxprof-bench-") as tmp:
        tmp_path = Path(tmp)
        for i in range(args.rounds):
            cold, warm = tmp_path / f"cold{i}", tmp_path / "warm"
            walls["baseline"].append(_profile(args, tmp_path / "base.json", warm,
                                              "--no-diagnosis"))
            walls["measure ceilings"].append(_profile(args, tmp_path / "cold.json", cold))
            # The warm cache was filled by the first cold run of this round's key only when it
            # is the same directory: fill it once, then time the cached run.
            if i == 0:
                _profile(args, tmp_path / "fill.json", warm)
            walls["cached ceilings"].append(_profile(args, tmp_path / "warm.json", warm))
        report = json.loads((tmp_path / "warm.json").read_text())
        from mxprof.jobs.ceilings import machine_ceilings
        from mxprof.jobs.profile.report import add_diagnosis
        os.environ["MXPROF_CACHE"] = str(tmp_path / "warm")
        ceilings = machine_ceilings(measure_missing=False)
        t0 = time.perf_counter()
        add_diagnosis(report, ceilings)
        pure_ms = (time.perf_counter() - t0) * 1e3
    base = statistics.median(walls["baseline"])
    print(f"model {args.model} {args.shape}, passes timing,layers,primitives, "
          f"{args.rounds} rounds (median wall time)")
    for name, values in walls.items():
        med = statistics.median(values)
        print(f"  {name:18s} {med:7.1f} s  ratio {med / base:5.2f}x  "
              f"(+{med - base:.1f} s; runs {', '.join(f'{v:.1f}' for v in values)})")
    print(f"  diagnosis step alone (roofline + findings on the saved report): {pure_ms:.1f} ms, "
          f"{len(report['findings'])} findings, "
          f"{len((report.get('roofline') or {}).get('layers') or [])} layers on the roofline")
    print(f"loadavg {Path('/proc/loadavg').read_text().strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
