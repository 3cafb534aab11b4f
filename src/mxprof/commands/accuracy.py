"""`mxprof accuracy MODEL`: are MKL-DNN, its fusion and INT8 still right on this machine?

Runs the reference CPU kernels, MKL-DNN, MKL-DNN fused and (with --int8) quantized INT8 on the
same weights and inputs, each in its own process, and reports output differences, top-1/top-5
agreement, labelled top-1/top-5 when --data is given, and latency per configuration.
"""

from __future__ import annotations

import argparse
import os
import sys

from mxprof.commands import _options
from mxprof.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, require_extra


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    m.add_argument("--num-inputs", type=int, default=32,
                   help="random inputs for the equivalence check without --data (32)")
    c = parser.add_argument_group("configurations")
    c.add_argument("--batch-size", type=int, default=16, help="inference batch (16)")
    c.add_argument("--configs", default="mkldnn-off,mkldnn,mkldnn-fused",
                   help="FP32 configurations (the reference mkldnn-off always runs)")
    c.add_argument("--int8", action="store_true", help="add INT8 quantized configurations")
    c.add_argument("--calib-mode", default="naive",
                   help="INT8 calibration: none, naive, entropy, or a list (naive)")
    c.add_argument("--calib-size", type=int, default=64,
                   help="calibration inputs for naive/entropy (64)")
    c.add_argument("--rtol", type=float, default=1e-3, help="FP32 relative tolerance")
    c.add_argument("--atol", type=float, default=1e-4,
                   help="FP32 absolute tolerance, as a fraction of the output's max |value|")
    c.add_argument("--min-top1", type=float, metavar="FRACTION",
                   help="exit 1 when a configuration's labelled top-1 (0-1) is below this")
    c.add_argument("--timing-batch", type=int, default=1, help="batch for latency (1)")
    _options.add_binding(parser)
    # No --min-time or --workdir: the accuracy job times a fixed count in its own temp folder.
    _options.add_timing(parser, iterations=20, min_time=False, workdir=False)
    _options.add_processes(parser)
    _options.add_outputs(parser, ("json", "markdown", "html"))


def _floats(text: str | None, name: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise UsageError(f"--{name} takes numbers like 0.485,0.456,0.406, got {text!r}") from None


def resolve_model(args) -> dict:
    """The checked ModelSpec dict for what the user typed (`_options.model_of`); --data and
    --int8 need one float image input (the data set's images, the quantizer's calibration)."""
    spec, _ = _options.model_of(args, args.model)
    fed = spec.input_specs
    one_image = len(fed) == 1 and fed[0].distribution == "image" and len(fed[0].shape) == 3
    if args.data and not one_image:
        raise UsageError(f"--data feeds images to one C,H,W input; {spec.name} takes "
                         f"{', '.join(i.short() for i in fed)}: leave --data out for random "
                         "inputs")
    if args.int8 and (len(fed) != 1 or fed[0].dtype != "float32"):
        raise UsageError(f"--int8 quantizes a model with one float32 input; {spec.name} takes "
                         f"{', '.join(i.short() for i in fed)}")
    return spec.to_dict()


def _inputs(args, shape) -> dict:
    if not args.data:
        if args.num_inputs < 1:
            raise UsageError("--num-inputs must be at least 1")
        return {"kind": "random", "count": args.num_inputs, "seed": 0}
    from mxprof.jobs.accuracy.datasets import DatasetError, Preprocess, open_dataset

    try:
        pre = Preprocess.for_input(shape, args.resize, _floats(args.mean, "mean"),
                                   _floats(args.std, "std"))
        ds = open_dataset(args.data)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    return {"kind": "dataset", "path": str(args.data), "preprocess": pre.to_dict(),
            "limit": args.limit, "records": len(ds)}


def _check_numbers(args) -> None:
    _options.check_counts(args, at_least_one=("batch_size", "timing_batch", "calib_size",
                                              "threads"),
                          not_negative=("iterations", "warmup"), positive=("timeout",))
    if args.rtol < 0 or args.atol < 0:
        raise UsageError("--rtol and --atol must not be negative")
    if args.min_top1 is not None and not 0 <= args.min_top1 <= 1:
        raise UsageError(f"--min-top1 is a fraction between 0 and 1, got {args.min_top1}")


def _binding(args) -> dict | None:
    """Check --cores/--membind against this machine now; workers bind before loading MXNet."""
    from mxprof.cpu.cpulist import format_cpu_list

    cpus, nodes = _options.check_binding(args.cores, args.membind)
    if cpus is None and nodes is None:
        return None
    if cpus is None:
        cpus = sorted(os.sched_getaffinity(0))
    return {"cpus": format_cpu_list(cpus), "count": len(cpus),
            "membind": None if nodes is None else format_cpu_list(nodes)}


def _load(path: str):
    from mxprof.jobs.accuracy.records import AccuracyReport
    return AccuracyReport.from_dict(_options.load_result("accuracy", path))


def _write(args, report) -> list[str]:
    from mxprof.render import accuracy as render
    from mxprof.render.html import render_page
    return _options.write_files(report, (
        (args.json, _options.text_file(render.render_json)),
        (args.markdown, _options.text_file(render.render_markdown)),
        (args.html, _options.text_file(render_page))))


def exit_status(report, min_top1: float | None = None) -> int:
    """1 when a configuration failed, an FP32 one is outside tolerance, or a labelled top-1 is
    below `min_top1`; else 0."""
    for c in report.configs:
        if not c.ok or c.within_tolerance is False:
            return EXIT_FAILED
        if min_top1 is not None and c.top1 is not None and c.top1 < min_top1:
            return EXIT_FAILED
    return EXIT_OK


def run(args) -> int:
    from mxprof.render import accuracy as render

    if args.load:
        _options.check_outputs(args)
        report = _load(args.load)
    else:
        _check_inputs(args)
        report = _measure(args)
        if report is None:
            return EXIT_OK  # --dry-run
    # Files first: a closed stdout (mxprof ... | head) must not lose a long run's results.
    errors = _write(args, report)
    if args.json == "-":
        sys.stdout.write(render.render_json(report))
        from rich.console import Console
        render.render_terminal(report, console=Console(stderr=True))
    else:
        render.render_terminal(report)
    for e in errors:
        print(f"mxprof: error: {e}", file=sys.stderr)
    return EXIT_USAGE if errors else exit_status(report, args.min_top1)


def _check_inputs(args) -> None:
    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name or --symbol FILE")
    _check_numbers(args)
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args)
    require_extra("accuracy", "mxnet")
    if args.data:
        require_extra("accuracy --data", "opencv")


def _progress(total: int):
    """A Progress and the callback that turns the job's messages into its events."""
    from mxprof.commands._progress import Progress

    bar = Progress("accuracy", total)

    def on_message(msg: str) -> None:
        if msg.startswith("running "):
            bar.start(msg.removeprefix("running "))
        elif " done in " in msg:
            bar.done(msg.split(" done in ")[0])
        elif " failed: " in msg:
            name, why = msg.split(" failed: ", 1)
            bar.done(name, f"failed: {why}")
        else:
            bar.note(msg)
    return bar, on_message


def _measure(args):
    from mxprof.jobs.accuracy.metrics import Tolerance
    from mxprof.jobs.accuracy.run import plan_configs, run_accuracy
    from mxprof.mx.quantize import CALIB_MODES

    modes = [m.strip() for m in args.calib_mode.split(",") if m.strip()] if args.int8 else []
    bad = [m for m in modes if m not in CALIB_MODES]
    if bad:
        raise UsageError(f"--calib-mode {', '.join(bad)}: choose from {', '.join(CALIB_MODES)}")
    try:
        plans = plan_configs([c.strip() for c in args.configs.split(",") if c.strip()], modes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    binding = _binding(args)
    model = resolve_model(args)
    inputs = _inputs(args, tuple(model["input_shape"]))
    choice = _options.thread_choice(args, _options.check_binding(args.cores, args.membind)[0])
    threads = choice.threads
    # No --min-time here (a fixed count of calls): the presets set the process count only.
    processes = _options.preset_of(args).processes if args.iterations else 1
    if args.dry_run:
        _dry_run(args, plans, inputs, binding, choice, processes)
        return None
    bar, on_message = _progress(len(plans) * processes)
    with bar:
        report = run_accuracy(
            model, plans, inputs=inputs, batch_size=args.batch_size,
            calib_count=args.calib_size,
            timing={"batch": args.timing_batch, "warmup": args.warmup,
                    "iterations": args.iterations},
            tolerance=Tolerance(rtol=args.rtol, atol=args.atol), threads=threads,
            binding=binding, timeout=args.timeout, progress=on_message, processes=processes,
            on_partial=lambda partial: _keep_partial(args, partial),
            wait_policy=_options.resolve_wait(args, threads, (binding or {}).get("count")))
    import msgspec
    return msgspec.structs.replace(report, notes=(*report.notes,
                                                  f"OpenMP threads: {choice.text}"))


def _keep_partial(args, report) -> None:
    """Interrupted: `--json` keeps the configurations that finished (like profile's)."""
    if args.json and args.json != "-":
        from mxprof.render import accuracy as render
        from mxprof.workers.jsonio import write_text
        write_text(args.json, render.render_json(report))
        print(f"mxprof: partial result written to {args.json}", file=sys.stderr)


def _dry_run(args, plans, inputs, binding, choice, processes) -> None:
    count = inputs.get("records") if inputs["kind"] == "dataset" else inputs["count"]
    if inputs["kind"] == "dataset" and inputs.get("limit"):
        count = min(count, inputs["limit"])
    what = (f"{count} images of {inputs['path']}" if inputs["kind"] == "dataset"
            else f"{count} random inputs")
    timed = f"{args.iterations} timed calls at batch {args.timing_batch}"
    rows = [(p.name, f"{what} at batch {args.batch_size}, then {timed}") for p in plans]
    from mxprof.workers.schedule import interleave
    rows += [(f"{p.name} #{r + 2}", f"timing only, {timed}")
             for r, p in interleave(plans, processes - 1)]
    # ~10 s to start a worker and load the model, plus ~20 ms an image (resnet-50-class, 2 CPUs).
    calls = 0.05 * (args.iterations + args.warmup)
    estimate = len(plans) * (10 + 0.02 * count + calls) + (len(rows) - len(plans)) * (10 + calls)
    notes = (f"{processes} timing process(es) per configuration, interleaved; warm-up "
             f"{args.warmup} calls",
             f"binding: cores {binding['cpus'] if binding else 'not bound'}, membind "
             f"{(binding or {}).get('membind') or 'not bound'}, OpenMP threads "
             f"{choice.text}")
    _options.print_plan("accuracy", rows, estimate, notes)
