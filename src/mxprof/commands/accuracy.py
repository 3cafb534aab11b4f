"""`mxprof accuracy MODEL`: are MKL-DNN, its fusion and INT8 still right on this machine?

Runs the reference CPU kernels, MKL-DNN, MKL-DNN fused and (with --int8) quantized INT8 on the
same weights and inputs, each in its own process, and reports output differences, top-1/top-5
agreement, labelled top-1/top-5 when --data is given, and latency per configuration.
Thin: arguments -> `mxprof.jobs.accuracy.Options` -> plan (--dry-run prints it) -> run -> the
outputs declared for "accuracy" (mxprof.render.outputs) -> exit code.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _job, _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, UsageError, require_extra

KIND = "accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mxprof.jobs.accuracy import default
    parser.add_argument("model", nargs="?", help="model-zoo name (resnet50_v1, mobilenet1.0...) "
                        "or FILE.py:FACTORY returning a HybridBlock")
    m = parser.add_argument_group("model and data")
    _options.add_model_files(m, input_help=_options.INPUT_HELP + "; the batch is --batch-size's")
    m.add_argument("--data", help="labelled images: X.rec (with X.idx) or a class-per-"
                   "subfolder image folder")
    m.add_argument("--limit", type=int, help="evaluate only the first N images of --data")
    m.add_argument("--resize", type=int,
                   help="shorter side before the centre crop (default crop/0.875: 256)")
    m.add_argument("--mean", help="per-channel mean in 0-1 units (default ImageNet)")
    m.add_argument("--std", help="per-channel std in 0-1 units (default ImageNet)")
    m.add_argument("--num-inputs", type=int, default=default("num_inputs"),
                   help="random inputs for the equivalence check without --data (32)")
    c = parser.add_argument_group("configurations")
    c.add_argument("--batch-size", type=int, default=default("batch_size"),
                   help="inference batch (16)")
    c.add_argument("--configs", default=",".join(default("configs")),
                   help="FP32 configurations (the reference mkldnn-off always runs)")
    c.add_argument("--int8", action="store_true", help="add INT8 quantized configurations")
    c.add_argument("--calib-mode", default="naive",
                   help="INT8 calibration: none, naive, entropy, or a list (naive)")
    c.add_argument("--calib-size", type=int, default=default("calib_size"),
                   help="calibration inputs for naive/entropy (64)")
    c.add_argument("--rtol", type=float, default=default("rtol"),
                   help="FP32 relative tolerance")
    c.add_argument("--atol", type=float, default=default("atol"),
                   help="FP32 absolute tolerance, as a fraction of the output's max |value|")
    c.add_argument("--min-top1", type=float, metavar="FRACTION",
                   help="exit 1 when a configuration's labelled top-1 (0-1) is below this")
    c.add_argument("--timing-batch", type=int, default=default("timing_batch"),
                   help="batch for latency (1)")
    _options.add_binding(parser)
    # No --min-time or --workdir: the accuracy job times a fixed count in its own temp folder.
    _options.add_timing(parser, iterations=default("iterations"), min_time=False, workdir=False)
    _options.add_processes(parser)
    _options.add_outputs(parser, KIND)


def _floats(text: str | None, name: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise UsageError(f"--{name} takes numbers like 0.485,0.456,0.406, got {text!r}") from None


def _show(report, out) -> None:
    """The tables on `out` (stderr when `--json -` holds stdout: _job.finish)."""
    from rich.console import Console

    from mxprof.render import accuracy as render
    render.render_terminal(report, console=Console(stderr=True) if out is sys.stderr else None)


def _names(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def options_of(args):
    """The job's Options from the parsed arguments (model checked, presets applied)."""
    from mxprof.jobs.accuracy import Options

    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name or --symbol FILE")
    _options.check_counts(args, at_least_one=("batch_size", "timing_batch", "calib_size",
                                              "threads"),
                          not_negative=("iterations", "warmup"), positive=("timeout",))
    if args.min_top1 is not None and not 0 <= args.min_top1 <= 1:
        raise UsageError(f"--min-top1 is a fraction between 0 and 1, got {args.min_top1}")
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args, KIND, inputs=(args.symbol, args.params, args.data))
    require_extra("accuracy", "mxnet")
    if args.data:
        require_extra("accuracy --data", "opencv")
    spec, _ = _options.model_of(args, args.model)
    # No --min-time here (a fixed count of calls): the presets set the process count only.
    return Options(spec=spec.to_dict(), configs=_names(args.configs),
                   int8=_names(args.calib_mode) if args.int8 else (), data=args.data,
                   limit=args.limit, resize=args.resize, mean=_floats(args.mean, "mean"),
                   std=_floats(args.std, "std"), num_inputs=args.num_inputs,
                   batch_size=args.batch_size, calib_size=args.calib_size, rtol=args.rtol,
                   atol=args.atol, timing_batch=args.timing_batch, iterations=args.iterations,
                   warmup=args.warmup, processes=_options.preset_of(args).processes,
                   cores=args.cores, membind=args.membind, threads=args.threads,
                   wait_policy=args.wait_policy, timeout=args.timeout)


def exit_status(report, min_top1: float | None = None) -> int:
    """1 when a configuration failed, an FP32 one is outside tolerance, or a labelled top-1 is
    below `min_top1`; else 0."""
    for c in report.configs:  # AccuracyReport.failed, plus the labelled top-1 floor
        if not c.ok or c.within_tolerance is False:
            return EXIT_FAILED
        if min_top1 is not None and c.top1 is not None and c.top1 < min_top1:
            return EXIT_FAILED
    return EXIT_OK


def _measure(args):
    """The AccuracyReport of a run, or None for --dry-run."""
    from mxprof.jobs import accuracy
    return _job.plan_and_run(KIND, accuracy.plan, accuracy.run, options_of(args), args,
                             on_partial=lambda r: _keep_partial(args, r))


def _keep_partial(args, report) -> None:
    """Interrupted: `--json` keeps the configurations that finished (like profile's)."""
    keep = _job.partial(args)
    if keep is not None:
        keep(report)


def _load(path: str):
    from mxprof.jobs.accuracy import AccuracyReport
    return AccuracyReport.from_dict(_options.load_result(KIND, path))


def run(args) -> int:
    if args.load:
        _options.check_outputs(args, KIND, inputs=(args.load,))
        report = _load(args.load)
    else:
        report = _measure(args)
        if report is None:
            return EXIT_OK  # --dry-run
    return _job.finish(args, report, KIND, _show) or exit_status(report, args.min_top1)
