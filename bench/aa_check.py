"""The A/A test: compare a configuration with itself; count how often the verdict is "significant".

MKL-DNN on vs MKL-DNN on, the same model, each side its own set of `--processes` worker
processes (the profile command's timing worker, `mxprof.jobs.profile.worker`), the sides
interleaved A B A B (`mxprof.workers.schedule`). Repeated `--comparisons` times. Nothing differs
between the sides, so every "significant" verdict is a false positive; a 95% interval should
give about 1 in 20.

Two verdicts per comparison, from the same runs:
- new: `mxprof.timing.stats.speedup` over all processes of each side (hierarchical bootstrap:
  processes, then calls), significant when its 95% interval excludes 1;
- old: what mxprof did before, one process per side and the order-statistic 95% CI of each
  median from that process's calls; "significant" when the two intervals do not overlap (the
  rule of the fusion report's old `gain_clear`, replaced since by the ratio's interval). The
  first process of each side is used.

Every worker's machine load (`mxprof.cpu.load`) is recorded; the load during the run is printed.

`--throughput-batch B` checks the throughput figure instead (batch B, the profile's own rule:
`Protocol.for_processes`, ceil(10 / processes) calls per process after `--min-time`, pooled):
the new verdict compares the batch-B call times of the two sides; the old one is not defined
there (the throughput figure never had a within-process rule) and is left out.

    PYTHONPATH=src python bench/aa_check.py [--model resnet18_v1] [--shape 3,112,112]
        [--comparisons 20] [--processes 3] [--min-time 0.3] [--throughput-batch 8]
        [--json aa.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mxprof.cpu.load import busy_summary
from mxprof.jobs.profile.runner import run_one
from mxprof.jobs.profile.spec import Protocol, RunSpec
from mxprof.mx import models
from mxprof.timing.stats import speedup, summarize
from mxprof.workers.schedule import run_interleaved


def _samples_ns(result, throughput: bool = False) -> np.ndarray:
    stats = result.throughput["batch_ms"] if throughput else result.latency
    return np.asarray(stats["samples_ms"], dtype=np.float64) * 1e6


def old_verdict(a: np.ndarray, b: np.ndarray) -> bool:
    """Today's rule: the within-process 95% CIs of the two medians do not overlap."""
    sa, sb = summarize(a), summarize(b)
    return bool(sa.ci95_low > sb.ci95_high or sb.ci95_low > sa.ci95_high)


def one_comparison(spec: RunSpec, processes: int, workdir: Path, index: int) -> dict:
    """One A/A pair: `processes` workers per side, interleaved; the verdicts and samples."""
    sides = [spec, RunSpec.from_dict(spec.to_dict())]  # equal, but two distinct sides

    def run(s, rnd, position):
        return run_one(s, workdir, timeout=600, index=index * 100 + position)

    names = {id(sides[0]): f"A/A {index + 1} side A", id(sides[1]): f"A/A {index + 1} side B"}
    runs = run_interleaved(sides, processes, run, label=lambda s: names[id(s)])
    failed = [d.result for side in runs for d in side if not d.result.ok]
    if failed:
        raise RuntimeError(f"worker failed: {failed[0].error}\n{failed[0].stderr_tail}")
    throughput = spec.batch_size > 1
    a = [_samples_ns(d.result, throughput) for d in runs[0]]
    b = [_samples_ns(d.result, throughput) for d in runs[1]]
    ratio = speedup(a, b, seed=index)
    return {"ratio": ratio.to_dict(),
            "old_significant": None if throughput else old_verdict(a[0], b[0]),
            "old_medians_ms": [float(np.median(a[0])) / 1e6, float(np.median(b[0])) / 1e6],
            "samples_ms": [[(x / 1e6).tolist() for x in a], [(x / 1e6).tolist() for x in b]],
            "loads": [d.load.to_dict() if d.load else None for side in runs for d in side]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18_v1")
    ap.add_argument("--shape", default="3,112,112")
    ap.add_argument("--comparisons", type=int, default=20)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--throughput-batch", type=int, default=1,
                    help="check the throughput figure at this batch (default 1: latency)")
    ap.add_argument("--json", help="write every comparison (samples, verdicts, loads) here")
    args = ap.parse_args()
    model = models.resolve(args.model, shape=models.parse_shape(args.shape))
    protocol = Protocol.for_processes(args.processes, warmup=2, min_time=args.min_time)
    spec = RunSpec(model=model, config="mkldnn", mkldnn=True, pass_name="timing",
                   batch_size=args.throughput_batch, protocol=protocol)
    what = (f"throughput batch {args.throughput_batch} ({protocol.throughput_min_iterations} "
            "calls per process at least)" if args.throughput_batch > 1 else "batch 1")
    loadavg = Path("/proc/loadavg").read_text().strip()
    print(f"A/A: {model.name} {args.shape} {what}, MKL-DNN on vs on, {args.comparisons} "
          f"comparisons of {args.processes} vs {args.processes} processes; "
          f"/proc/loadavg at start: {loadavg}", flush=True)
    out, started = [], time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mxprof-aa-") as tmp:
        for i in range(args.comparisons):
            c = one_comparison(spec, args.processes, Path(tmp), i)
            out.append(c)
            old = ("" if c["old_significant"] is None else
                   f" old (1 process each, medians {c['old_medians_ms'][0]:.3f} vs "
                   f"{c['old_medians_ms'][1]:.3f} ms): "
                   f"{'significant' if c['old_significant'] else 'not significant'}")
            print(f"{i + 1:2d}: new {c['ratio']['text']:<48}{old}", flush=True)
    new = sum(c["ratio"]["significant"] for c in out)
    old = sum(bool(c["old_significant"]) for c in out)
    loads = [x for c in out for x in c["loads"] if x]
    fractions = [x["other_cpu_fraction"] for x in loads]
    print(f"false positives, hierarchical interval ({args.processes} processes per side): "
          f"{new} of {len(out)}")
    if args.throughput_batch == 1:
        print(f"false positives, within-process CI (1 process per side, CIs do not overlap): "
              f"{old} of {len(out)}")
    print(f"wall {time.monotonic() - started:.0f} s; /proc/loadavg at end: "
          f"{Path('/proc/loadavg').read_text().strip()}")
    if fractions:
        print(f"other processes' share of the CPUs during the workers: median "
              f"{100 * float(np.median(fractions)):.0f}% (min {100 * min(fractions):.0f}%, max "
              f"{100 * max(fractions):.0f}%)")
        busy = busy_summary(loads)
        if busy:
            print(f"warning: {busy[:300]}...", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"model": model.name, "shape": args.shape,
                                               "processes": args.processes,
                                               "comparisons": out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
