"""What the breakdown collection costs: latency with it off vs on, in worker processes.

Runs the profile command's own workers for one model at batch 1, MKL-DNN on: the timing pass
(bulk execution on, no profiler: the number users get), the operators pass (bulk execution off,
MXNet profiler) and the layers pass (per-layer hooks, mxprof.mx.layers, under its LAYER_ENV). Each
times its own latency. The three run in turn, `--rounds` times (interleaved, so a busy machine hits
them alike); the median over rounds of each pass's median is compared to the plain one.

    PYTHONPATH=src python bench/profile_overhead.py [--model resnet18_v1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from mxprof.files import temp_dir
from mxprof.jobs.profile.runner import run_groups
from mxprof.jobs.profile.spec import Protocol, RunSpec
from mxprof.mx import models

PASSES = ("timing", "operators", "layers")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18_v1")
    ap.add_argument("--shape", default=None)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    shape = models.parse_shape(args.shape) if args.shape else None
    model = models.resolve(args.model, shape=shape)
    protocol = Protocol(min_time=args.min_time)
    specs = [RunSpec(model=model, config="mkldnn", mkldnn=True, pass_name=p, batch_size=1,
                     protocol=protocol, breakdown_iterations=50)
             for _ in range(args.rounds) for p in PASSES]
    with temp_dir("run") as tmp:
        results = run_groups(specs, Path(tmp), timeout=600)
    medians: dict[str, list[float]] = {p: [] for p in PASSES}
    sums: list[float] = []
    method = None
    for r in results:
        if not r.ok:
            print(f"{r.spec.pass_name} failed: {r.error}\n{r.stderr_tail}")
            return 1
        if r.spec.pass_name == "layers":
            medians["layers"].append(r.layers["latency_ms"])
            sums.append(r.layers["per_iteration_ms"])
            method = r.layers.get("method")
        else:
            medians[r.spec.pass_name].append(r.latency["median"])
    med = {p: statistics.median(v) for p, v in medians.items()}
    on = med["timing"]
    print(f"model {args.model} input {'x'.join(map(str, model.input_shape))}, batch 1, MKL-DNN on, "
          f"{args.rounds} interleaved rounds, min-time {args.min_time} s per measurement")
    for p, label in (("timing", "collection off (bulk exec on)"),
                     ("operators", "bulk exec off (operators pass)"),
                     ("layers", f"per-layer collection ({method})")):
        rounds = ", ".join(f"{v:.2f}" for v in medians[p])
        print(f"latency, {label:<44}: {med[p]:8.3f} ms  -> {med[p] / on:.3f}x  "
              f"(round medians {rounds})")
    print(f"layers sum in the layers pass: {statistics.median(sums):.3f} ms per iteration")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
