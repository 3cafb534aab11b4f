"""Fused vs unfused latency with and without static_alloc/static_shape, one model.

    PYTHONPATH=src python bench/fusion_static.py resnet50_v1 [--shape 1,3,224,224]

Prints, for both settings, unfused and fused median latency (IQR), their ratio, the weight
reorders the diagnosis found, and the cost of each fusion switch (static run only). All figures
come from one run of this script: worker processes run one after another on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys

from mxprof.jobs.fusion.assemble import FusionOptions, run_fusion


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--shape", default="1,3,224,224")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--processes", "--rounds", dest="processes", type=int, default=2)
    parser.add_argument("--json", help="write both reports here")
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    reports = {}
    for static in (True, False):
        opts = FusionOptions(args.model, shape, static=static, iterations=args.iterations,
                             processes=args.processes,
                             switches=FusionOptions.switches if static else ())
        reports["static" if static else "no-static"] = run_fusion(
            opts, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"{args.model} {args.shape}, {reports['static']['environment']['threads']} threads, "
          f"{reports['static']['protocol']['latency']}")
    for label, r in reports.items():
        u, f = r["unfused_latency"], r["fused_latency"]
        weights = [x for x in r["findings"] if x["rule"] == "weights_reordered_every_call"]
        print(f"{label:>9}: unfused {u['median']:.2f} ms (IQR {u['q1']:.2f}-{u['q3']:.2f}), "
              f"fused {f['median']:.2f} ms (IQR {f['q1']:.2f}-{f['q3']:.2f}), "
              f"fused/unfused {f['median'] / u['median']:.2f}x; "
              f"weight reorders every call: {weights[0]['evidence'] if weights else 'none'}")
    for p in reports["static"]["patterns"]:
        print(f"  {p['switch']}: {p['latency']['median']:.2f} ms, costs {p['cost_ms']:+.2f} ms "
              f"when off")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(reports, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
