"""`mxprof int8 MODEL`: where INT8 error starts, what each FP32 fallback costs, and the fastest
set of FP32 layers that meets an accuracy target (mxprof.jobs.int8).

Thin: arguments -> Options -> plan (checks, --dry-run) -> run with the progress display ->
the renderers declared for kind "int8" (mxprof.render.outputs) -> exit status.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _job, _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, UsageError, require_extra

KIND = "int8"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model-zoo name (resnet50_v1...) or "
                        "FILE.py:FACTORY returning a HybridBlock")
    m = parser.add_argument_group("model and data")
    _options.add_model_files(m)
    m.add_argument("--data", help="labelled images (X.rec with X.idx, or a class-per-subfolder "
                   "folder): evaluation and calibration inputs; default random inputs of the "
                   "model's own kind")
    m.add_argument("--limit", type=int, metavar="N",
                   help="evaluate only the first N images of --data")
    m.add_argument("--num-inputs", type=int, default=64, metavar="N",
                   help="random evaluation inputs without --data (default 64)")
    q = parser.add_argument_group("quantization")
    q.add_argument("--calib-mode", default="naive", metavar="MODE",
                   help="none, naive or entropy (default naive)")
    q.add_argument("--calib-size", type=int, default=32, metavar="N",
                   help="calibration inputs (default 32)")
    q.add_argument("--quantized-dtype", default="auto", metavar="DTYPE",
                   help="auto, int8 or uint8 (default auto)")
    q.add_argument("--exclude", action="append", default=[], metavar="LAYER",
                   help="FP32 layer kept in FP32 in every configuration (repeatable)")
    q.add_argument("--eval-batch", dest="batch_size", type=int, default=8, metavar="N",
                   help="batch of the evaluation and calibration passes; latency is timed "
                        "at --timing-batch (default 8)")
    # The old spelling: profile/compare's --batch-size is the throughput batch, accuracy's the
    # inference batch; here it was the evaluation batch, now --eval-batch.
    _options.hidden_alias(q, "--batch-size", dest="batch_size", type=int)
    q.add_argument("--probe", type=int, default=8, metavar="N",
                   help="inputs of the per-layer error pass (default 8)")
    q.add_argument("--threshold", type=float, default=20.0, metavar="DB",
                   help="a layer diverges when its accumulated SQNR is below this (default "
                        "20 dB)")
    s = parser.add_argument_group("search")
    s.add_argument("--target", metavar="METRIC=VALUE", help="top1=0.75 (labelled --data), "
                   "agreement=0.99 (top-1 agreement with FP32) or sqnr=30 (output SQNR, dB)")
    s.add_argument("--budget", type=float, metavar="SECONDS",
                   help="start no search candidate after this many seconds")
    s.add_argument("--max-steps", type=int, default=12, metavar="N",
                   help="most search candidates (default 12)")
    s.add_argument("--no-layer-times", action="store_true",
                   help="skip the per-layer timing pass")
    s.add_argument("--export", metavar="PREFIX",
                   help="write the chosen model as PREFIX-symbol.json and PREFIX.params")
    s.add_argument("--timing-batch", type=int, default=1, metavar="N",
                   help="batch of the latency timing (default 1)")
    _options.add_binding(parser)
    # Two processes by default (not 3): each one quantizes the model again. Each configuration's
    # processes run one after the other, not interleaved with the other configurations'.
    _options.add_protocol(parser, processes=2, interleaved=False)
    _options.add_outputs(parser, KIND)


def options_of(args):
    from mxprof.jobs.int8 import Options, parse_target

    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name or --symbol FILE")
    _options.check_counts(args, at_least_one=("iterations", "threads", "batch_size",
                                              "timing_batch"),
                          flags={"batch_size": "--eval-batch"})
    # Before the plan: its Placement decides the wait policy from the next 0.5 s of load.
    preset = _options.preset_of(args)
    _options.check_model_files(args.symbol, args.params)
    spec, _ = _options.model_of(args, args.model)
    return Options(spec=spec.to_dict(), calib_mode=args.calib_mode, calib_size=args.calib_size,
                   quantized_dtype=args.quantized_dtype, exclude=tuple(args.exclude),
                   data=args.data, limit=args.limit, num_inputs=args.num_inputs,
                   batch_size=args.batch_size, probe=args.probe, threshold_db=args.threshold,
                   target=parse_target(args.target) if args.target else None,
                   budget_s=args.budget, max_steps=args.max_steps,
                   timing_batch=args.timing_batch, processes=preset.processes,
                   warmup=args.warmup,
                   min_time=_options.min_time_of(args) * preset.min_time_factor,
                   iterations=args.iterations, timeout=args.timeout,
                   layer_times=not args.no_layer_times, export=args.export,
                   workdir=args.workdir, **_job.binding(args))


def _show(result, out) -> None:
    from rich.console import Console

    from mxprof.render import int8 as render
    render.render_terminal(result, console=Console(stderr=True) if out is sys.stderr else None)


def run(args) -> int:
    from mxprof.jobs import int8

    if not args.load:  # else checked against the loaded file
        _options.check_outputs(args, KIND)
    if args.export:
        _options.check_output_path("--export", args.export + ".params")
    if args.load:
        result = _job.load(args, KIND, int8.Int8Result.from_dict)
    else:
        require_extra("int8", "mxnet")
        _options.check_workdir(args.workdir)
        result = _job.plan_and_run(KIND, int8.plan, int8.run, options_of(args), args,
                                   total=lambda plan: plan.workers,
                                   on_partial=_job.partial(args))
        if result is None:
            return EXIT_OK  # --dry-run
    return _job.finish(args, result, KIND, _show) or (
        EXIT_FAILED if result.failed else EXIT_OK)
