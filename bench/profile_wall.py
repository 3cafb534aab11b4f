"""What `mxprof profile MODEL` costs in each process layout, measured in one run.

    PYTHONPATH=src python bench/profile_wall.py [--model resnet50_v1] [--rounds 1]
        [--args "--checks fusion,equivalence"]

Runs the real command with its default protocol (3 timing processes per configuration, A B A B,
every pass, both companion checks, the diagnosis) in the "shared" layout (today's default: the
checks inside the timing processes, weights built once) and in the "legacy" one (hidden
`--layout legacy`: the checks in seven workers of their own, every worker builds its weights),
alternated round after round so drifting load hits both alike. Per run: the wall the bench
saw, the time inside the model's own calls, their ratio (the overhead ratio) and the seconds
per phase, all from the report's `cost` (mxprof.jobs.profile.cost); then new / legacy of the
medians. Each line names the 1-minute load average at its start and end: the machine's load
moves every figure, the ratio between layouts measured in the same run much less.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYOUTS = ("legacy", "shared")


def run_once(model: str, layout: str, extra: list[str], out: Path) -> dict:
    command = [sys.executable, "-m", "mxprof", "profile", model, "--layout", layout,
               "--json", str(out), *extra]
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    if not out.exists():
        raise SystemExit(f"{shlex.join(command)} wrote no result:\n{proc.stderr[-3000:]}")
    report = json.loads(out.read_text())
    sections = [k for k in ("latency_ms", "throughput", "operators", "layers", "primitives",
                            "reference", "checks", "roofline", "findings") if report.get(k)]
    failed = [f"{r['config']} {r['pass']} {r['status']}: {r['error']}"
              for r in report.get("runs") or () if r["status"] != "ok"]
    failed += [f"check {name}: {c.get('summary') or c.get('lines')}"
               for name, c in (report.get("checks") or {}).items() if c.get("status") != "ok"]
    return {"layout": layout, "wall_s": wall, "cost": report["cost"], "status": proc.returncode,
            "load": (load0, os.getloadavg()[0]), "sections": sections, "failed": failed,
            "latency_ms": (report.get("latency_ms") or {}).get("median")}


def print_run(r: dict) -> None:
    c = r["cost"]
    phases = " ".join(f"{k} {v:.1f}" for k, v in c["phases_s"].items())
    print(f"  {r['layout']:7} wall {r['wall_s']:6.1f} s  model calls {c['model_s']:5.1f} s  "
          f"ratio {c['overhead_ratio']:.2f}  workers {c['workers']:2}  exit {r['status']}  "
          f"load {r['load'][0]:.1f}->{r['load'][1]:.1f}  bs=1 {r['latency_ms']:.2f} ms\n"
          f"          seconds per phase: {phases}\n"
          f"          sections: {', '.join(r['sections'])}", flush=True)
    for line in r["failed"]:
        print(f"          FAILED {line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50_v1")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--args", default="", help="more profile arguments (quoted)")
    parser.add_argument("--layouts", default=",".join(LAYOUTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    extra = shlex.split(args.args)
    layouts = tuple(args.layouts.split(","))
    print(f"mxprof profile {args.model} {args.args}: layouts {', '.join(layouts)}, "
          f"{args.rounds} round(s), {os.cpu_count()} CPUs", flush=True)
    runs: dict[str, list[dict]] = {k: [] for k in layouts}
    with tempfile.TemporaryDirectory(prefix="profile-wall-") as tmp:
        for n in range(args.rounds):
            order = layouts if n % 2 == 0 else layouts[::-1]
            for layout in order:
                r = run_once(args.model, layout, extra, Path(tmp) / f"{layout}-{n}.json")
                runs[layout].append(r)
                print_run(r)
    if set(layouts) != set(LAYOUTS):
        return
    med = {k: {"wall": statistics.median(r["wall_s"] for r in v),
               "ratio": statistics.median(r["cost"]["overhead_ratio"] for r in v),
               "model": statistics.median(r["cost"]["model_s"] for r in v)}
           for k, v in runs.items()}
    print(f"\nmedians: legacy wall {med['legacy']['wall']:.1f} s (ratio "
          f"{med['legacy']['ratio']:.2f}), shared wall {med['shared']['wall']:.1f} s (ratio "
          f"{med['shared']['ratio']:.2f}); shared / legacy wall "
          f"{med['shared']['wall'] / med['legacy']['wall']:.2f}x (target <= 0.6), "
          f"model-call time {med['shared']['model'] / med['legacy']['model']:.2f}x")


if __name__ == "__main__":
    main()
