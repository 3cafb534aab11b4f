"""What the breakdown collection costs: latency with it off vs on, in worker processes.

Runs the profile command's own workers for one model: the timing pass (bulk execution on, no
profiler: the number users get) and the breakdown pass (bulk execution off, MXNet profiler for
operators, per-layer collection). Prints the medians and the ratios.

    PYTHONPATH=src python bench/profile_overhead.py [--model resnet18_v1] [--shape 3,224,224]
"""

from __future__ import annotations

import argparse
import statistics

from mxprof import models
from mxprof.report import build_report
from mxprof.runner import run_specs
from mxprof.runspec import Protocol, RunSpec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18_v1")
    ap.add_argument("--shape", default=None)
    ap.add_argument("--min-time", type=float, default=2.0)
    args = ap.parse_args()
    shape = models.parse_shape(args.shape) if args.shape else None
    model = models.resolve(args.model, shape=shape)
    protocol = Protocol(min_time=args.min_time)
    specs = [RunSpec(model=model, config="mkldnn", mkldnn=True, pass_name=p, batch_size=1,
                     protocol=protocol, breakdown_iterations=50)
             for p in ("timing", "breakdown")]
    results = run_specs(specs, timeout=600, progress=False)
    for r in results:
        if not r.ok:
            print(f"{r.spec.pass_name} failed: {r.error}\n{r.stderr_tail}")
            return 1
    report = build_report(results)
    on = report["latency_ms"]["median"]
    cost = report["breakdown_cost"]
    print(f"model {args.model} input {'x'.join(map(str, model.input_shape))}, batch 1, "
          f"MKL-DNN on, min-time {args.min_time} s per measurement")
    print(f"latency, collection off (bulk exec on)   : median {on:.3f} ms "
          f"(n={report['latency_ms']['n']})")
    print(f"latency, bulk exec off (breakdown pass)  : median {cost['bulk_off_ms']:.3f} ms "
          f"-> {cost['ratio']:.3f}x")
    layers = (results[1].layers or {})
    per_iter = layers.get("per_iteration_ms")
    if isinstance(per_iter, list):
        per_iter = statistics.median(per_iter) if per_iter else None
    if per_iter:
        print(f"latency, per-layer collection on         : {per_iter:.3f} ms per iteration "
              f"-> {per_iter / on:.3f}x ({layers.get('method')})")
    else:
        print("per-layer collection: mxprof.layers not available in this build")
    print(f"operators total under the profiler       : {report['operators_total_ms']:.3f} ms "
          f"per iteration ({100 * report['operators_total_ms'] / on:.0f}% of the plain median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
