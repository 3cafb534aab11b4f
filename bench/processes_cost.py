"""What the extra timing processes cost: `mxprof profile MODEL` wall time with 1 and N processes.

Runs the real command twice in the same session (first `--processes 1`, the baseline, then
`--processes N`, the default 3), everything else at its defaults, and prints each wall time,
their ratio, the seconds each extra process pair adds, and /proc/loadavg around each run (the
figures are only comparable on the same load). Each extra process is one MKL-DNN and one
reference timing worker: MXNet import, graph build, first call, warm-up, `--min-time` of calls at
batch 1 and at the throughput batch.

    PYTHONPATH=src python bench/processes_cost.py [--model resnet50_v1] [--processes 3]
        [--extra "--passes timing --checks none"]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(model: str, processes: int, extra: list[str]) -> tuple[float, dict, str, str]:
    with tempfile.TemporaryDirectory(prefix="mxprof-cost-") as tmp:
        out = Path(tmp) / "r.json"
        before = Path("/proc/loadavg").read_text().strip()
        t0 = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "mxprof", "profile", model, "--processes",
                               str(processes), "--json", str(out), *extra],
                              capture_output=True, text=True, env=os.environ.copy())
        wall = time.monotonic() - t0
        after = Path("/proc/loadavg").read_text().strip()
        if proc.returncode not in (0, 1) or not out.exists():
            raise SystemExit(f"profile failed:\n{proc.stderr[-2000:]}")
        return wall, json.loads(out.read_text()), before, after


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50_v1")
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--extra", default="", help="more profile arguments, one shell string")
    args = ap.parse_args()
    extra = shlex.split(args.extra)
    results = {}
    for n in (1, args.processes):
        wall, report, before, after = _run(args.model, n, extra)
        sp = (report.get("reference") or {}).get("speedup") or {}
        lat = report.get("latency_ms") or {}
        text = (sp.get("latency_ratio") or {}).get("text") or f"{sp.get('latency') or 0:.2f}x"
        results[n] = wall
        print(f"processes {n}: wall {wall:.0f} s; latency {lat.get('median', 0):.2f} ms "
              f"(95% CI {lat.get('ci95_low', 0):.2f}-{lat.get('ci95_high', 0):.2f}); "
              f"MKL-DNN speedup {text}; loadavg {before} -> {after}", flush=True)
    base, more = results[1], results[args.processes]
    print(f"{args.processes} processes cost {more / base:.2f}x the wall time of 1 "
          f"(+{(more - base) / max(args.processes - 1, 1):.0f} s per extra MKL-DNN + reference "
          "process pair)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
