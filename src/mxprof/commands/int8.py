"""`mxprof int8 MODEL`: where INT8 error starts, what each FP32 fallback costs, and the fastest
set of FP32 layers that meets an accuracy target (mxprof.jobs.int8).

Thin: arguments -> Options -> plan (checks, --dry-run) -> run with the progress display ->
the renderers declared for kind "int8" (mxprof.render.outputs) -> exit status.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, require_extra


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mxprof.render.outputs import formats_of

    parser.add_argument("model", nargs="?", help="model-zoo name (resnet50_v1...) or "
                        "FILE.py:FACTORY returning a HybridBlock")
    m = parser.add_argument_group("model and data")
    _options.add_model_files(m)
    m.add_argument("--data", help="labelled images (X.rec with X.idx, or a class-per-subfolder "
                   "folder): evaluation and calibration inputs; default random inputs of the "
                   "model's own kind")
    m.add_argument("--limit", type=int, help="evaluate only the first N images of --data")
    m.add_argument("--num-inputs", type=int, default=64,
                   help="random evaluation inputs without --data (64)")
    q = parser.add_argument_group("quantization")
    q.add_argument("--calib-mode", default="naive", help="none, naive or entropy (naive)")
    q.add_argument("--calib-size", type=int, default=32, help="calibration inputs (32)")
    q.add_argument("--quantized-dtype", default="auto", help="auto, int8 or uint8 (auto)")
    q.add_argument("--exclude", action="append", default=[], metavar="LAYER",
                   help="FP32 layer kept in FP32 in every configuration (repeatable)")
    q.add_argument("--batch-size", type=int, default=8, help="evaluation batch (8)")
    q.add_argument("--probe", type=int, default=8,
                   help="inputs of the per-layer error pass (8)")
    q.add_argument("--threshold", type=float, default=20.0, metavar="DB",
                   help="a layer diverges when its accumulated SQNR is below this (20 dB)")
    s = parser.add_argument_group("search")
    s.add_argument("--target", metavar="METRIC=VALUE", help="top1=0.75 (labelled --data), "
                   "agreement=0.99 (top-1 agreement with FP32) or sqnr=30 (output SQNR, dB)")
    s.add_argument("--budget", type=float, metavar="SECONDS",
                   help="start no search candidate after this many seconds")
    s.add_argument("--max-steps", type=int, default=12, help="most search candidates (12)")
    s.add_argument("--no-layer-times", action="store_true",
                   help="skip the per-layer timing pass")
    s.add_argument("--export", metavar="PREFIX",
                   help="write the chosen model as PREFIX-symbol.json and PREFIX.params")
    s.add_argument("--timing-batch", type=int, default=1, help="batch for latency (1)")
    _options.add_binding(parser)
    _options.add_timing(parser)
    parser.add_argument("--processes", type=int, default=2,
                        help="timing processes per configuration (2)")
    g = parser.add_argument_group("output")
    for f in formats_of("int8"):
        g.add_argument(f"--{f.name}", metavar="PATH", help=f.help)
    g.add_argument("--load", metavar="RESULT", help="re-render a saved --json result")
    _options.add_force(g)
    g.add_argument("--dry-run", action="store_true", help="print the plan; run nothing")


def options_of(args):
    from mxprof.jobs.int8 import Options, parse_target

    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name or --symbol FILE")
    _options.check_counts(args, at_least_one=(), not_negative=())  # --min-time, --timeout > 0
    _options.check_model_files(args.symbol, args.params)
    spec, _ = _options.model_of(args, args.model)
    cpus, _ = _options.check_binding(args.cores, args.membind)
    threads = _options.thread_choice(args, cpus).threads
    wait = _options.resolve_wait(args, threads, len(cpus) if cpus else None)
    return Options(cores=args.cores, membind=args.membind, wait_policy=wait,
                   spec=spec.to_dict(), calib_mode=args.calib_mode, calib_size=args.calib_size,
                   quantized_dtype=args.quantized_dtype, exclude=tuple(args.exclude),
                   data=args.data, limit=args.limit, num_inputs=args.num_inputs,
                   batch_size=args.batch_size, probe=args.probe, threshold_db=args.threshold,
                   target=parse_target(args.target) if args.target else None,
                   budget_s=args.budget, max_steps=args.max_steps,
                   timing_batch=args.timing_batch, processes=args.processes,
                   warmup=args.warmup, min_time=_options.min_time_of(args),
                   iterations=args.iterations, threads=threads, timeout=args.timeout,
                   layer_times=not args.no_layer_times, export=args.export,
                   workdir=args.workdir)


def _write(args, result) -> list[str]:
    from mxprof.render.outputs import formats_of

    errors = []
    for f in formats_of("int8"):
        path = getattr(args, f.name, None)
        if not path or path == "-":
            continue
        try:
            f.load_writer()(result, path)
        except OSError as exc:
            errors.append(f"cannot write {path}: {exc.strerror or exc}")
    return errors


def _stdout(args, result) -> bool:
    from mxprof.jsonio import dumps
    from mxprof.render import int8 as render

    if args.json == "-":
        sys.stdout.write(dumps(result.to_dict()) + "\n")
        return True
    if getattr(args, "markdown", None) == "-":
        sys.stdout.write(render.render_markdown(result))
        return True
    return False


def _progress(total: int):
    from mxprof.commands._progress import Progress
    from mxprof.events import Finished, Started

    bar = Progress("int8", total)

    def on_event(event) -> None:
        if isinstance(event, Started):
            bar.start(event.label)
        elif isinstance(event, Finished):
            bar.done(event.label, "ok" if event.ok else f"{event.status}: {event.error}")
        else:
            bar.note(event.text)
    return bar, on_event


def _measure(args):
    from mxprof.jobs import int8

    require_extra("int8", "mxnet")
    _options.check_workdir(args.workdir)
    plan = int8.plan(options_of(args))
    if args.dry_run:
        _options.print_plan("int8", [(s.label, s.what) for s in plan.steps], plan.estimate_s,
                            tuple(plan.notes))
        return None
    bar, on_event = _progress(plan.workers)
    with bar:
        return int8.run(plan, on_event)


def run(args) -> int:
    from rich.console import Console

    from mxprof.jobs.int8 import Int8Result
    from mxprof.render import int8 as render

    _options.check_outputs(args, "int8")
    if args.html == "-":
        raise UsageError("--html writes a file; give a path ('-' is for --json and --markdown)")
    if args.json == "-" and args.markdown == "-":
        raise UsageError("--json - and --markdown - would both write to stdout: pick one")
    if args.export:
        _options.check_output_path("--export", args.export + ".params")
    if args.load:
        result = Int8Result.from_dict(_options.load_result("int8", args.load))
    else:
        result = _measure(args)
        if result is None:
            return EXIT_OK
    errors = _write(args, result)  # files first: a closed stdout must not lose a long run
    to_stdout = _stdout(args, result)
    render.render_terminal(result, console=Console(stderr=True) if to_stdout else None)
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_FAILED if result.failed else EXIT_OK
