"""`mxprof accuracy MODEL`: are MKL-DNN, its fusion and INT8 still right on this machine?

Runs the reference CPU kernels, MKL-DNN, MKL-DNN fused and (with --int8) quantized INT8 on the
same weights and inputs, each in its own process, and reports output differences, top-1/top-5
agreement, labelled top-1/top-5 when --data is given, and latency per configuration.
Thin: arguments -> `mxprof.jobs.accuracy.Options` -> plan (--dry-run prints it) -> run -> the
outputs declared for "accuracy" (mxprof.render.outputs) -> exit code.

Several models, `--reference-set` (the reference's 34 Gluon networks) or `--cluster ADDRESS`
make it a sweep (mxprof.jobs.accuracy.sweep): one accuracy job per model, on this machine or on
every machine class of a Dask cluster, each finished model appended to a results file
(`--results`, resumable), and one table with a column group per machine: the
"accuracy-sweep" outputs.
"""

from __future__ import annotations

import argparse
import sys

from mxprof.commands import _job, _options
from mxprof.commands._hosts import add_cluster
from mxprof.errors import EXIT_FAILED, EXIT_OK, UsageError, require_extra

KIND = "accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mxprof.jobs.accuracy import default
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="model-zoo name (resnet50_v1, mobilenet1.0...) or FILE.py:FACTORY "
                        "returning a HybridBlock; several make a sweep")
    parser.add_argument("--reference-set", action="store_true",
                        help="the reference's 34 Gluon model-zoo networks (top-1/top-5 with "
                        "and without MKL-DNN), on --data")
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
    c.add_argument("--no-timing", action="store_true",
                   help="compare the outputs only; time no latency (--iterations is a count "
                        "of at least 1, as in every command)")
    _options.add_binding(parser)
    # No --min-time or --workdir: the accuracy job times a fixed count in its own temp folder.
    _options.add_protocol(parser, iterations=default("iterations"), min_time=False,
                          workdir=False)
    _options.add_outputs(parser, KIND)
    add_cluster(parser, "each model's job, once per machine class,")
    o = parser.add_argument_group("results file (a sweep: several models, --reference-set, "
                                  "--cluster)")
    o.add_argument("--results", default=None, metavar="PATH",
                   help="JSON-lines file every finished model is appended to (default: one "
                        "file per sweep under ~/.cache/mxprof/accuracy/); models already in "
                        "it with the same options and host fingerprint are reused")
    o.add_argument("--fresh", action="store_true",
                   help="run every model again even if the results file has it")


def _floats(text: str | None, name: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        raise UsageError(f"--{name} takes numbers like 0.485,0.456,0.406, got {text!r}") from None


def _show(report, out) -> None:
    """The tables of one model's report or of a sweep on `out` (stderr when `--json -` holds
    stdout: _job.finish)."""
    from rich.console import Console
    if report.kind == KIND:
        from mxprof.render.accuracy import render_terminal
    else:
        from mxprof.render.accuracy_sweep import render_terminal
    render_terminal(report, console=Console(stderr=True) if out is sys.stderr else None)


def _names(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _check(args) -> None:
    if args.iterations == 0:  # how the outputs alone were asked for before --no-timing
        raise UsageError("--iterations must be at least 1, got 0 (--no-timing compares the "
                         "outputs without timing them)")
    _options.check_counts(args, at_least_one=("iterations", "batch_size", "timing_batch",
                                              "calib_size", "threads"),
                          not_negative=("warmup",), positive=("timeout",))
    if args.min_top1 is not None and not 0 <= args.min_top1 <= 1:
        raise UsageError(f"--min-top1 is a fraction between 0 and 1, got {args.min_top1}")
    _options.check_model_files(args.symbol, args.params)
    _options.check_outputs(args, sweep_kind(args) if is_sweep(args) else KIND,
                           inputs=(args.symbol, args.params, args.data, args.results))
    _options.check_output_path("--results", args.results)
    require_extra("accuracy", "mxnet")
    if args.data:
        require_extra("accuracy --data", "opencv", importable=True)  # every worker decodes


def is_sweep(args) -> bool:
    """Several models, the reference set, a cluster or a results file: a sweep."""
    return bool(len(args.models) + bool(args.symbol) > 1 or args.reference_set or args.cluster
                or args.results)


def sweep_kind(args) -> str:
    if args.html:
        raise UsageError("--html draws one model's report; a sweep (several models, "
                         "--reference-set, --cluster) writes --json and --markdown")
    return "accuracy-sweep"


def _model_names(args) -> list[str]:
    from mxprof.jobs.accuracy.reference_set import NAMES
    names = list(dict.fromkeys(args.models))
    if args.reference_set:
        names += [n for n in NAMES if n not in names]
    if not names and not args.symbol:
        raise UsageError("give a MODEL name, --symbol FILE, or --reference-set")
    if args.params and not args.symbol and len(names) != 1:
        raise UsageError("--params belongs to one model: give exactly one MODEL (or --symbol)")
    return names


def _specs(args) -> list:
    """The checked ModelSpec of every model; --input texts go to the model they name (with
    one model, to it). A --dry-run of zoo models checks them against the registry only (a
    build per model costs seconds each: 34 of them minutes); a run builds each."""
    names = _model_names(args)
    labels = names + ([args.symbol] if args.symbol else [])
    per_model = _options.split_inputs(list(args.input or ()), labels)
    specs = []
    for name, label in zip([*names, None], labels):
        ns = argparse.Namespace(**{**vars(args), "symbol": None if name else args.symbol,
                                   "params": args.params if (name is None or not args.symbol)
                                   else None})
        if args.dry_run and name and not per_model[label] and ":" not in name:
            from mxprof.mx.models import parse_shape
            try:
                shape = parse_shape(args.shape) if args.shape else None
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            specs.append(_options.resolve_model(name, shape=shape, params=ns.params))
        else:
            specs.append(_options.model_of(ns, name, per_model[label])[0])
    return specs


def options_list(args) -> list:
    """The job's Options of every model from the parsed arguments (models checked, presets
    applied)."""
    from mxprof.jobs.accuracy import Options
    _check(args)
    # No --min-time here (a fixed count of calls): the presets set the process count only.
    common = dict(configs=_names(args.configs),
                  int8=_names(args.calib_mode) if args.int8 else (), data=args.data,
                  limit=args.limit, resize=args.resize, mean=_floats(args.mean, "mean"),
                  std=_floats(args.std, "std"), num_inputs=args.num_inputs,
                  batch_size=args.batch_size, calib_size=args.calib_size, rtol=args.rtol,
                  atol=args.atol, timing_batch=args.timing_batch,
                  iterations=0 if args.no_timing else args.iterations,
                  warmup=args.warmup, processes=_options.preset_of(args).processes,
                  timeout=args.timeout, **_job.binding(args))
    return [Options(spec=spec.to_dict(), **common) for spec in _specs(args)]


def options_of(args):
    """The Options of the one model given (the command without a sweep)."""
    (options,) = options_list(args)
    return options


def exit_status(report, min_top1: float | None = None) -> int:
    """1 when a configuration failed, an FP32 one is outside tolerance, or a labelled top-1 is
    below `min_top1`; else 0."""
    rows = report.configs if hasattr(report, "configs") else report.rows  # a sweep: its rows
    for c in rows:  # AccuracyReport.failed, plus the labelled top-1 floor
        if not c.ok or c.within_tolerance is False:
            return EXIT_FAILED
        if min_top1 is not None and c.top1 is not None and c.top1 < min_top1:
            return EXIT_FAILED
    return EXIT_OK


def _measure(args):
    """The AccuracyReport (AccuracySweep for a sweep) of a run, or None for --dry-run."""
    keep = lambda r: _keep_partial(args, r)  # noqa: E731
    if not is_sweep(args):
        from mxprof.jobs import accuracy
        return _job.plan_and_run(KIND, accuracy.plan, accuracy.run, options_of(args), args,
                                 on_partial=keep)
    from mxprof.commands._hosts import HostProgress, classes_of
    from mxprof.jobs.accuracy import sweep
    options = sweep.SweepOptions(models=tuple(options_list(args)), results=args.results,
                                 fresh=args.fresh, cluster=args.cluster,
                                 classes=classes_of(args))
    # On a cluster one line per host; its total is the cells left to run, known once the
    # classes are (their events).
    display = (lambda plan: HostProgress(KIND, 0)) if args.cluster else None
    return _job.plan_and_run(KIND, sweep.plan, sweep.run, options, args, on_partial=keep,
                             total=lambda plan: plan.workers_left, display=display,
                             unit="network(s)")


def _keep_partial(args, report) -> None:
    """Interrupted: `--json` keeps the configurations that finished (like profile's)."""
    keep = _job.partial(args)
    if keep is not None:
        keep(report)


def _saved_kind(path: str) -> str | None:
    """The kind a saved file names (stdin is read once: by load_result, as one report)."""
    import json

    from mxprof.files import decode_text, json_kind, read_input
    if path == "-":
        return None
    try:
        return json_kind(json.loads(decode_text(read_input(path, "mxprof accuracy result",
                                                                stream=False))))
    except (ValueError, OSError):
        return None  # load_result names what is wrong with the file


def _load(args):
    """A saved `accuracy --json`: one model's report, or a sweep's."""
    from mxprof.jobs.accuracy import AccuracyReport
    if _saved_kind(args.load) == "accuracy-sweep":
        from mxprof.jobs.accuracy.sweep_records import AccuracySweep
        return _job.load(args, sweep_kind(args), AccuracySweep.from_dict)
    return _job.load(args, KIND, AccuracyReport.from_dict)


def run(args) -> int:
    report = _load(args) if args.load else _measure(args)
    if report is None:
        return EXIT_OK  # --dry-run
    status = _job.finish(args, report, report.kind, _show)
    if report.kind != KIND and not args.load:
        print(f"mxprof: results file: {report_log(report)}", file=sys.stderr)
    return status or exit_status(report, args.min_top1)


def report_log(sweep) -> str:
    """The results file a sweep's notes name (its first note)."""
    return next((n.split(": ", 1)[1] for n in sweep.notes if n.startswith("results file:")),
                "?")
