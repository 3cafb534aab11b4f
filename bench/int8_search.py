"""What the INT8 search costs and buys, in one run: resnet18_v1, random weights, agreement target.

Runs `mxprof.jobs.int8` (plan/run, the command's code path) once and prints
- the wall time of the whole job and of the search alone (candidates after the first INT8 one),
- how many candidates were timed and with what protocol (processes, calls, warm-up),
- the latency of FP32, of all-INT8 and of the chosen configuration, each with its 95%
  interval, and the speedups over FP32 of all-INT8 and of the chosen one (bootstrap intervals,
  significant or not): ratios measured against a baseline timed in the same run,
- the machine load before and after (`uptime`): the figures are only as quiet as the machine.

    PYTHONPATH=src python bench/int8_search.py [--model resnet18_v1]
        [--target agreement=0.99 --target sqnr=25] [--processes 2] [--min-time 0.5]
        [--max-steps 8] [--json out.json]

Each --target is one job run (its own FP32 baseline); the default runs the agreement target the
issue names and a harder output-SQNR one, since random-weight ResNets often meet 0.99 agreement
with all layers in INT8 and then nothing is searched.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from mxprof.events import Finished, printer
from mxprof.jobs import int8


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def _line(label: str, c) -> str:
    lat = c.latency
    if lat is None:
        return f"  {label:<10} {c.status}: {c.error}"
    text = (f"  {label:<10} {lat.median_ms:8.3f} ms [{lat.ci95_low_ms:.3f}-{lat.ci95_high_ms:.3f}]"
            f"  layers in FP32: {len(c.excluded)}")
    if c.speedup is not None and c.phase != "fp32":
        s = c.speedup
        text += (f"  speedup {s.value:.2f}x [{s.ci95_low:.2f}-{s.ci95_high:.2f}]"
                 f"{'' if s.significant else ' (not significant)'}")
    if c.top1_agreement is not None:
        text += f"  agreement {c.top1_agreement:.4f}"
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet18_v1")
    p.add_argument("--target", action="append", help="METRIC=VALUE (repeatable; default "
                   "agreement=0.99 and sqnr=25)")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--max-steps", type=int, default=8)
    p.add_argument("--num-inputs", type=int, default=64)
    p.add_argument("--json", help="also write the job's result here")
    args = p.parse_args(argv)
    status = 0
    for i, target in enumerate(args.target or ["agreement=0.99", "sqnr=25"]):
        json_path = None if not args.json else (args.json if i == 0 else f"{args.json}.{i}")
        status |= one_run(args, target, json_path)
    return status


def one_run(args, target: str, json_path: str | None) -> int:
    options = int8.Options(model=args.model, target=int8.parse_target(target),
                           processes=args.processes, min_time=args.min_time,
                           max_steps=args.max_steps, num_inputs=args.num_inputs, probe=4,
                           layer_times=False)
    plan = int8.plan(options)
    print(f"before: {_load()}")
    marks: dict[str, float] = {}
    show = printer(lambda s: print(s, file=sys.stderr))

    def on_event(event) -> None:
        if isinstance(event, Finished) and event.label.startswith("c01-"):
            marks.setdefault("search_from", time.monotonic())
        show(event)

    began = time.monotonic()
    result = int8.run(plan, on_event)
    wall = time.monotonic() - began
    print(f"after:  {_load()}")
    searched = [c for c in result.candidates if c.phase in ("exclude", "take-back")]
    search_s = time.monotonic() - marks.get("search_from", began)
    pr = result.protocol
    print(f"{args.model}, weights {result.weights}, target {target}: job {wall:.0f} s, "
          f"{search_s:.0f} s of it after the first INT8 configuration (search, FP32 again, the "
          f"chosen one re-quantized), {len(result.candidates)} configurations timed ({len(searched)} searched), "
          f"each {pr['processes']} process(es) x {pr['min_time_s']} s of calls after "
          f"{pr['warmup']} warm-up calls, batch {pr['timing_batch']}")
    fp32, all_int8 = result.candidates[0], result.candidates[1]
    print(_line("FP32", fp32))
    print(_line("all-INT8", all_int8))
    chosen = result.chosen_candidate
    if chosen is not None:
        verdict = {True: "meets", False: "misses (best found)", None: "no target"}[result.met]
        print(_line(f"chosen ({verdict})", chosen))
        print(f"  {result.quantize_net_args}")
    for note in result.notes:
        print(f"note: {note}")
    if json_path:
        from mxprof.render.json_ import write_result
        write_result(result, json_path)
    return 0 if chosen is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
