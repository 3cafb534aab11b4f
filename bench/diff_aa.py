"""The A/A test of `mxprof diff`: profile one configuration N+1 times, diff consecutive
profiles, and print how often each layer is called significant (every call is a false one).

Each profile is `mxprof profile MODEL --passes timing,layers,primitives --no-reference` (so
each layer's figure pools `--processes` layers processes); profile k is diffed against profile
k+1 (consecutive pairs share a file, as a user diffing today's run against yesterday's would).
The target of issue 23: no significant layer in at least 9 of 10 diffs. The headline latency
verdict is printed too (it uses the timing processes, and the machine load shifts it).

    PYTHONPATH=src python bench/diff_aa.py [--model tests/fixtures/diff_net.py:build]
        [--shape 3,32,32] [--repetitions 10] [--processes 2] [--min-time 0.2]
        [--keep DIR] [--files A.json B.json ...]   (diff saved profiles instead of running)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def profile(args, out: Path) -> None:
    cmd = [sys.executable, "-m", "mxprof", "profile", args.model, "--shape", args.shape,
           "--processes", str(args.processes), "--min-time", str(args.min_time),
           "--passes", "timing,layers,primitives", "--no-reference", "--checks", "none",
           "--no-diagnosis", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"profile failed:\n{done.stderr[-3000:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "tests/fixtures/diff_net.py:build"))
    ap.add_argument("--shape", default="3,32,32")
    ap.add_argument("--repetitions", type=int, default=10)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--keep", metavar="DIR", help="keep the profiles here")
    ap.add_argument("--files", nargs="+", help="diff these saved profiles (consecutive pairs)")
    args = ap.parse_args(argv)
    from mxprof.files import temp_dir

    if args.keep or args.files:  # the profiles stay in --keep; --files makes none
        if args.keep:
            Path(args.keep).mkdir(parents=True, exist_ok=True)
        return run(args, Path(args.keep or "."))
    with temp_dir("diffaa") as tmp:  # removed at the end, or by the next mxprof if killed
        return run(args, Path(tmp))


def run(args, folder: Path) -> int:
    """Profile (unless --files), diff consecutive pairs, print the rates; profiles in `folder`."""
    from mxprof.jobs import diff

    files = [Path(f) for f in args.files or ()]
    started = time.monotonic()
    for k in range(0 if files else args.repetitions + 1):
        out = folder / f"aa-{k:02d}.json"
        profile(args, out)
        files.append(out)
        print(f"profile {k + 1}/{args.repetitions + 1}: {out} "
              f"(load {os.getloadavg()[0]:.1f})", file=sys.stderr)
    flagged: Counter[str] = Counter()
    quiet = latency_flags = 0
    names: list[str] = []
    for a, b in zip(files, files[1:]):
        r = diff.run(diff.plan(diff.Options(a=str(a), b=str(b))))
        names = names or [d.name for d in sorted(r.layers, key=lambda d: d.name)]
        hits = [d.name for d in r.layers if d.significant]
        flagged.update(hits)
        quiet += not hits
        latency_flags += bool(r.latency and r.latency["significant"])
        print(f"{a.name} vs {b.name}: {len(hits)} significant layer(s) {hits or ''}; "
              f"latency {r.latency['text'] if r.latency else '-'}")
    n = len(files) - 1
    print(f"\n{n} A/A diffs ({time.monotonic() - started:.0f} s, load average now "
          f"{os.getloadavg()[0]:.1f}): no significant layer in {quiet} of {n} "
          f"(target: at least 9 of 10); headline latency called significant in "
          f"{latency_flags} of {n}")
    print("false-significance rate per layer:")
    for name in names:
        print(f"  {name:<32} {flagged[name]}/{n} = {flagged[name] / max(n, 1):.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
