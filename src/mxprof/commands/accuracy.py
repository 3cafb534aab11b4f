"""`mxprof accuracy MODEL`: are MKL-DNN, its fusion and INT8 still right on this machine?

Runs the reference CPU kernels, MKL-DNN, MKL-DNN fused and (with --int8) quantized INT8 on the
same weights and inputs, each in its own process, and reports output differences, top-1/top-5
agreement, labelled top-1/top-5 when --data is given, and latency per configuration.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model-zoo name (resnet50_v1, mobilenet1.0...)")
    parser.add_argument("--symbol", help="exported model X-symbol.json (with --params)")
    parser.add_argument("--params", help="weights (.params); random init when none is found")
    parser.add_argument("--shape", help="input C,H,W (default: the model's own, 3,224,224)")
    parser.add_argument("--data", help="labelled images: X.rec (with X.idx) or a class-per-"
                        "subfolder image folder")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images of --data")
    parser.add_argument("--resize", type=int,
                        help="shorter side before the centre crop (default crop/0.875: 256)")
    parser.add_argument("--mean", help="per-channel mean in 0-1 units (default ImageNet)")
    parser.add_argument("--std", help="per-channel std in 0-1 units (default ImageNet)")
    parser.add_argument("--num-inputs", type=int, default=32,
                        help="random inputs for the equivalence check without --data (32)")
    parser.add_argument("--batch-size", type=int, default=16, help="inference batch (16)")
    parser.add_argument("--configs", default="mkldnn-off,mkldnn,mkldnn-fused",
                        help="FP32 configurations (the reference mkldnn-off always runs)")
    parser.add_argument("--int8", action="store_true", help="add INT8 quantized configurations")
    parser.add_argument("--calib-mode", default="naive",
                        help="INT8 calibration: none, naive, entropy, or a list (naive)")
    parser.add_argument("--calib-size", type=int, default=64,
                        help="calibration inputs for naive/entropy (64)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="FP32 relative tolerance")
    parser.add_argument("--atol", type=float, default=1e-4, help="FP32 absolute tolerance, as a fraction of the output's max |value|")
    parser.add_argument("--timing-batch", type=int, default=1, help="batch for latency (1)")
    parser.add_argument("--iterations", type=int, default=20, help="timed calls (20); 0: none")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (5)")
    parser.add_argument("--threads", type=int,
                        help="OpenMP threads for every configuration (default: --cpus count)")
    parser.add_argument("--cpus", help="bind every configuration to these CPUs, e.g. 0-17")
    parser.add_argument("--membind", help="and its memory to these NUMA nodes, e.g. 0")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per configuration")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the report as Markdown")
    parser.add_argument("--load", metavar="PATH", help="show a saved --json report, run nothing")


def _floats(text: str | None, name: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise UsageError(f"--{name} takes numbers like 0.485,0.456,0.406, got {text!r}") from None


def resolve_model(args) -> dict:
    """The ModelSpec dict for what the user typed (mxprof.mx.models does the resolving)."""
    from mxprof.mx import models
    try:
        shape = models.parse_shape(args.shape) if args.shape else None
        spec = models.resolve(args.model, shape=shape, symbol=args.symbol, params=args.params)
    except ValueError as exc:  # UnknownModel is a ValueError with the closest names in it
        raise UsageError(str(exc)) from None
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
    for name in ("batch_size", "timing_batch", "calib_size"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if args.iterations < 0 or args.warmup < 0:
        raise UsageError("--iterations and --warmup must not be negative")
    if args.rtol < 0 or args.atol < 0:
        raise UsageError("--rtol and --atol must not be negative")


def _binding(args) -> dict | None:
    """Check --cpus/--membind against this machine now; workers bind before loading MXNet."""
    if args.cpus is None and args.membind is None:
        return None
    from mxprof.cpu.binding import select_cpus, select_nodes
    from mxprof.cpu.cpulist import format_cpu_list
    from mxprof.cpu.topology import read_topology

    topo = read_topology()
    try:
        cpus = select_cpus(topo, args.cpus)
        nodes = None if args.membind is None else select_nodes(topo, args.membind)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return {"cpus": format_cpu_list(cpus), "count": len(cpus),
            "membind": None if nodes is None else format_cpu_list(nodes)}


def run(args) -> int:
    from mxprof.jobs.accuracy.records import AccuracyReport
    from mxprof.render import accuracy as render

    if args.load:
        import json

        try:
            with open(args.load) as f:
                report = AccuracyReport.from_dict(json.load(f))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{args.load}: not an mxprof accuracy JSON report ({exc})") from None
    else:
        report = _measure(args)
    # Files first: a closed stdout (mxprof ... | head) must not lose a long run's results.
    from mxprof.workers.jsonio import write_text
    if args.json:
        write_text(args.json, render.render_json(report))
    if args.markdown:
        write_text(args.markdown, render.render_markdown(report))
    render.render_terminal(report)
    return 0 if all(c.ok for c in report.configs) else 1


def _measure(args):
    from mxprof.jobs.accuracy.metrics import Tolerance
    from mxprof.jobs.accuracy.run import plan_configs, run_accuracy
    from mxprof.mx.quantize import CALIB_MODES

    if not args.model and not args.symbol:
        raise UsageError("give a MODEL name or --symbol FILE")
    _check_numbers(args)
    modes = [m.strip() for m in args.calib_mode.split(",") if m.strip()] if args.int8 else []
    bad = [m for m in modes if m not in CALIB_MODES]
    if bad:
        raise UsageError(f"--calib-mode {', '.join(bad)}: choose from {', '.join(CALIB_MODES)}")
    try:
        plans = plan_configs([c.strip() for c in args.configs.split(",") if c.strip()], modes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    model = resolve_model(args)
    inputs = _inputs(args, tuple(model["input_shape"]))
    binding = _binding(args)
    threads = args.threads or (binding["count"] if binding else None)

    def progress(msg: str) -> None:
        print(f"mxprof accuracy: {msg}", file=sys.stderr, flush=True)

    return run_accuracy(
        model, plans, inputs=inputs, batch_size=args.batch_size, calib_count=args.calib_size,
        timing={"batch": args.timing_batch, "warmup": args.warmup,
                "iterations": args.iterations},
        tolerance=Tolerance(rtol=args.rtol, atol=args.atol), threads=threads, binding=binding,
        timeout=args.timeout, progress=progress)
